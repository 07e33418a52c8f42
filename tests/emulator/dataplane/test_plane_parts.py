"""The data plane's parts in-process: the operation table, traffic accounting, and the session
other emulator parts use to run SQL on a branch's database."""

from __future__ import annotations

from pathlib import Path

import pytest

from neon_emulator import clock, dataplane, operations, records
from neon_emulator.postgres import PlaneSettings, PostgresDataPlane
from neon_emulator.postgres.activity import Activity
from neon_emulator.postgres.lifecycle import Clusters
from neon_emulator.store import Store


def operation(intent: str) -> records.Operation:
    stamp = clock.now_iso()
    return records.Operation(
        id="op-1",
        project_id="p-1",
        action="apply_config",
        created_at=stamp,
        updated_at=stamp,
        batch_id="b-1",
        seq=0,
        intent=intent,
    )


def endpoint_record(**fields: object) -> records.Endpoint:
    stamp = clock.now_iso()
    values: dict[str, object] = {
        "id": "ep-a",
        "project_id": "p-1",
        "branch_id": "br-a",
        "type": "read_write",
        "region_id": "aws-us-east-2",
        "autoscaling_limit_min_cu": 0.25,
        "autoscaling_limit_max_cu": 0.25,
        "suspend_timeout_seconds": 0,
        "provisioner": "k8s-neonvm",
        "created_at": stamp,
        "updated_at": stamp,
        **fields,
    }
    return records.Endpoint.model_validate(values)


@pytest.mark.unit
def test_the_operation_table_covers_every_intent_the_control_plane_may_emit(
    tmp_path: Path,
) -> None:
    plane = PostgresDataPlane(PlaneSettings(root=tmp_path))

    assert set(plane.operations) == dataplane.INTENTS


@pytest.mark.unit
async def test_an_operation_with_an_unknown_intent_fails_loudly(tmp_path: Path) -> None:
    plane = PostgresDataPlane(PlaneSettings(root=tmp_path))
    store = Store(tmp_path / "state.sqlite3")
    try:
        with pytest.raises(dataplane.UnknownIntent, match="'create_brunch'"):
            await plane.run(operation("create_brunch"), store)
        with pytest.raises(dataplane.UnknownIntent, match="'create_brunch'"):
            await dataplane.NoDataPlane().run(operation("create_brunch"), store)
    finally:
        store.close()


@pytest.mark.unit
def test_a_step_with_an_unknown_intent_is_refused_when_it_is_made() -> None:
    with pytest.raises(dataplane.UnknownIntent):
        operations.Step("create_branch", "create_brunch")


@pytest.mark.unit
def test_a_connection_counts_the_bytes_it_passes_as_its_branchs_traffic(tmp_path: Path) -> None:
    clusters = Clusters(PlaneSettings(root=tmp_path))
    activity = Activity(clusters)
    stamp = clock.now_iso()
    endpoint = endpoint_record()
    branch = records.Branch(
        id="br-a",
        project_id="p-1",
        name="main",
        state_changed_at=stamp,
        created_at=stamp,
        updated_at=stamp,
    )

    lease = activity.lease(endpoint, branch)
    after_connecting = clusters.runtime("br-a").traffic
    lease.touch(1500)
    lease.touch(20)

    assert clusters.runtime("br-a").traffic == after_connecting + 1520
    assert list(clusters.runtime("br-a").connections.values()) == [lease]


def seed_project(store: Store) -> records.Endpoint:
    """A project with one branch, endpoint, role and database, as the control plane stores it."""
    stamp = clock.now_iso()
    common = {"project_id": "p-1", "created_at": stamp, "updated_at": stamp}
    store.projects.put(
        records.Project(
            id="p-1",
            seq=1,
            name="p",
            org_id="org-1",
            region_id="aws-us-east-2",
            pg_version=17,
            provisioner="k8s-neonvm",
            store_passwords=True,
            history_retention_seconds=86_400,
            default_endpoint_settings={},
            settings={},
            created_at=stamp,
            updated_at=stamp,
        )
    )
    store.branches.put(
        records.Branch(id="br-a", name="main", state_changed_at=stamp, default=True, **common)
    )
    store.roles.put(records.Role(branch_id="br-a", name="app", password="app-secret", **common))
    store.databases.put(
        records.Database(id=1, branch_id="br-a", name="appdb", owner_name="app", **common)
    )
    endpoint = endpoint_record(current_state="idle", pending_state=None)
    store.endpoints.put(endpoint)
    store.commit()
    return endpoint


@pytest.mark.integration
async def test_a_session_wakes_the_compute_runs_sql_and_counts_as_a_connection(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "state.sqlite3")
    plane = PostgresDataPlane(PlaneSettings(root=tmp_path / "postgres", cold_start_delay=0))
    endpoint = seed_project(store)
    await plane.start(store)
    try:
        async with plane.session(endpoint.id, "appdb") as conn:
            await conn.execute("CREATE TABLE notes (body text) ; SET ROLE app")
            await conn.execute("INSERT INTO notes VALUES ('hi')")
            runtime = plane.clusters.runtime("br-a")
            assert runtime.sessions == 1
            assert len(runtime.connections) == 1
            row = await (await conn.execute("SELECT current_user, count(*) FROM notes")).fetchone()
        assert row == ("app", 1)
        assert runtime.sessions == 0
        assert not runtime.connections
        stored = store.endpoints.get("ep-a")
        assert stored is not None
        assert stored.current_state == "active"
    finally:
        await plane.close()
        store.close()
