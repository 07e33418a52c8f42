"""Compute lifecycle: lazy clusters, wake on connect, suspend by API or idleness, disabled and
read-only endpoints, consumption, and no server outliving the emulator."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

pytestmark = pytest.mark.integration

Sql = Callable[[str, str], list[tuple[Any, ...]]]
Servers = Callable[[Path], list[str]]


def eventually(check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.1)


def endpoint_of(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    project_id, endpoint_id = body["project"]["id"], body["endpoints"][0]["id"]
    found: dict[str, Any] = api.get(f"/projects/{project_id}/endpoints/{endpoint_id}").json()[
        "endpoint"
    ]
    return found


def test_a_suspended_endpoint_wakes_on_the_next_connection(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], wait: Any, sql: Sql
) -> None:
    body = new_project()
    project_id, endpoint_id = body["project"]["id"], body["endpoints"][0]["id"]
    uri = body["connection_uris"][0]["connection_uri"]
    sql(uri, "CREATE TABLE t (x int); INSERT INTO t VALUES (7)")
    api.post(f"/projects/{project_id}/endpoints/{endpoint_id}/suspend").raise_for_status()
    wait(project_id)
    suspended = endpoint_of(api, body)
    assert suspended["current_state"] == "idle"

    assert sql(uri, "SELECT x FROM t") == [(7,)]

    woken = endpoint_of(api, body)
    assert woken["current_state"] == "active"
    assert woken["started_at"] >= suspended["suspended_at"]


def compute_operations(api: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The endpoint's start/suspend operations, oldest first (the API lists newest first)."""
    project_id, endpoint_id = body["project"]["id"], body["endpoints"][0]["id"]
    listed = api.get(f"/projects/{project_id}/operations", params={"limit": 1000})
    return [
        op
        for op in reversed(listed.json()["operations"])
        if op.get("endpoint_id") == endpoint_id
        and op["action"] in ("start_compute", "suspend_compute")
    ]


def test_waking_on_connect_is_a_start_compute_operation_finished_when_the_query_runs(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], wait: Any, sql: Sql
) -> None:
    body = new_project()
    project_id, endpoint_id = body["project"]["id"], body["endpoints"][0]["id"]
    uri = body["connection_uris"][0]["connection_uri"]
    api.post(f"/projects/{project_id}/endpoints/{endpoint_id}/suspend").raise_for_status()
    wait(project_id)
    before = {op["id"] for op in compute_operations(api, body)}

    assert sql(uri, "SELECT 1") == [(1,)]

    new = [op for op in compute_operations(api, body) if op["id"] not in before]
    assert [(op["action"], op["status"]) for op in new] == [("start_compute", "finished")]
    assert new[0]["branch_id"] == body["branch"]["id"]
    assert new[0]["total_duration_ms"] >= 200  # it spans the cold start (0.2 s here)
    assert endpoint_of(api, body)["current_state"] == "active"


def test_connections_arriving_together_share_one_wake(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], wait: Any, sql: Sql
) -> None:
    body = new_project()
    project_id, endpoint_id = body["project"]["id"], body["endpoints"][0]["id"]
    uri = body["connection_uris"][0]["connection_uri"]
    api.post(f"/projects/{project_id}/endpoints/{endpoint_id}/suspend").raise_for_status()
    wait(project_id)
    before = {op["id"] for op in compute_operations(api, body)}

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: sql(uri, "SELECT 1"), range(4)))

    assert results == [[(1,)]] * 4
    new = [op for op in compute_operations(api, body) if op["id"] not in before]
    assert [op["action"] for op in new] == ["start_compute"]


def test_an_idle_endpoint_suspends_after_its_timeout_and_its_server_stops(
    api: httpx.Client,
    new_project: Callable[..., dict[str, Any]],
    sql: Sql,
    servers: Servers,
    pg_emulator: Any,
) -> None:
    body = new_project()
    branch_id = body["branch"]["id"]
    uri = body["connection_uris"][0]["connection_uri"]
    sql(uri, "SELECT 1")
    assert any(branch_id in line for line in servers(pg_emulator.state_dir))

    eventually(lambda: endpoint_of(api, body)["current_state"] == "idle")
    eventually(lambda: not any(branch_id in line for line in servers(pg_emulator.state_dir)))

    assert sql(uri, "SELECT 1") == [(1,)]
    assert endpoint_of(api, body)["current_state"] == "active"


def test_idle_suspension_is_a_suspend_compute_operation_finished_once_the_server_stopped(
    api: httpx.Client,
    new_project: Callable[..., dict[str, Any]],
    sql: Sql,
    servers: Servers,
    pg_emulator: Any,
) -> None:
    body = new_project()
    branch_id = body["branch"]["id"]
    sql(body["connection_uris"][0]["connection_uri"], "SELECT 1")

    def suspension() -> dict[str, Any] | None:
        found = [op for op in compute_operations(api, body) if op["action"] == "suspend_compute"]
        return found[-1] if found else None

    eventually(lambda: (op := suspension()) is not None and op["status"] == "finished")

    assert not any(branch_id in line for line in servers(pg_emulator.state_dir))
    assert endpoint_of(api, body)["current_state"] == "idle"
    actions = [op["action"] for op in compute_operations(api, body)]
    assert actions == ["start_compute", "suspend_compute"]  # created, then idle: no wake since


def test_an_open_connection_keeps_the_compute_awake(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]]
) -> None:
    body = new_project()
    uri = body["connection_uris"][0]["connection_uri"]
    with psycopg.connect(uri, autocommit=True) as conn:
        for _ in range(5):  # longer than the 3 s idle timeout
            time.sleep(1)
            assert conn.execute("SELECT 1").fetchone() == (1,)
            assert endpoint_of(api, body)["current_state"] == "active"


def test_a_disabled_endpoint_refuses_connections(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], wait: Any, sql: Sql
) -> None:
    body = new_project()
    project_id, endpoint_id = body["project"]["id"], body["endpoints"][0]["id"]
    uri = body["connection_uris"][0]["connection_uri"]
    sql(uri, "SELECT 1")
    api.patch(
        f"/projects/{project_id}/endpoints/{endpoint_id}", json={"endpoint": {"disabled": True}}
    ).raise_for_status()
    wait(project_id)

    with pytest.raises(psycopg.OperationalError, match="disabled"):
        sql(uri, "SELECT 1")

    api.patch(
        f"/projects/{project_id}/endpoints/{endpoint_id}", json={"endpoint": {"disabled": False}}
    ).raise_for_status()
    wait(project_id)
    assert sql(uri, "SELECT 1") == [(1,)]


def test_a_read_only_endpoint_reads_but_refuses_writes(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], wait: Any, sql: Sql
) -> None:
    body = new_project()
    project_id, branch_id = body["project"]["id"], body["branch"]["id"]
    sql(body["connection_uris"][0]["connection_uri"], "CREATE TABLE t AS SELECT 1 AS x")
    created = api.post(
        f"/projects/{project_id}/endpoints",
        json={"endpoint": {"branch_id": branch_id, "type": "read_only"}},
    )
    wait(project_id)
    uri = api.get(
        f"/projects/{project_id}/connection_uri",
        params={
            "endpoint_id": created.json()["endpoint"]["id"],
            "database_name": "neondb",
            "role_name": "neondb_owner",
        },
    ).json()["uri"]

    assert sql(uri, "SELECT x FROM t") == [(1,)]
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        sql(uri, "INSERT INTO t VALUES (2)")


def test_activity_feeds_active_and_compute_time(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], sql: Sql
) -> None:
    fixed_one_cu = {"autoscaling_limit_min_cu": 1, "autoscaling_limit_max_cu": 1}
    body = new_project(default_endpoint_settings=fixed_one_cu)
    project_id, branch_id = body["project"]["id"], body["branch"]["id"]
    uri = body["connection_uris"][0]["connection_uri"]
    sql(uri, "CREATE TABLE t AS SELECT generate_series(1, 1000) AS x")

    eventually(lambda: endpoint_of(api, body)["current_state"] == "idle")
    project = api.get(f"/projects/{project_id}").json()["project"]
    branch = api.get(f"/projects/{project_id}/branches/{branch_id}").json()["branch"]

    assert project["active_time_seconds"] >= 1
    assert project["compute_time_seconds"] >= 1  # 1 CU: one compute second per active second
    assert project["compute_last_active_at"] >= body["project"]["created_at"]
    assert branch["active_time_seconds"] == project["active_time_seconds"]
    assert branch["compute_time_seconds"] == project["compute_time_seconds"]


def test_writing_rows_grows_written_data_bytes_of_the_branch_and_the_project(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], org: str, sql: Sql
) -> None:
    body = new_project()
    project_id, branch_id = body["project"]["id"], body["branch"]["id"]
    uri = body["connection_uris"][0]["connection_uri"]

    def written() -> tuple[int, int]:
        project = api.get(f"/projects/{project_id}").json()["project"]
        branch = api.get(f"/projects/{project_id}/branches/{branch_id}").json()["branch"]
        return int(project["written_data_bytes"]), int(branch["written_data_bytes"])

    sql(uri, "SELECT 1")
    eventually(lambda: written()[1] > 0)  # creating the database wrote WAL too
    before_project, before_branch = written()
    sql(uri, "CREATE TABLE t AS SELECT g, repeat('x', 100) AS pad FROM generate_series(1, 20000) g")
    eventually(lambda: written()[1] >= before_branch + 2_000_000)  # 20,000 rows of ~130 bytes
    after_project, after_branch = written()

    assert after_project - before_project >= after_branch - before_branch
    now = datetime.now(UTC)
    history = api.get(
        "/consumption_history/projects",
        params={
            "from": (now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:00:00Z"),
            "to": (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:00:00Z"),
            "granularity": "hourly",
            "org_id": org,
            "project_ids": project_id,
            "metrics": "written_data_bytes",
        },
    )
    assert history.status_code == 200, history.text
    frames = history.json()["projects"][0]["periods"][0]["consumption"]
    reported = sum(frame["written_data_bytes"] for frame in frames)
    latest_project, _ = written()
    assert 0.9 * after_project <= reported <= latest_project  # frames share it by time


def test_projects_nobody_connects_to_get_no_cluster(
    new_project: Callable[..., dict[str, Any]], servers: Servers, pg_emulator: Any
) -> None:
    created = [new_project()["project"]["id"] for _ in range(10)]

    projects_dir = pg_emulator.state_dir / "postgres" / "projects"
    for project_id in created:
        assert not list((projects_dir / project_id).glob("branches/*/data"))
        assert not any(project_id in line for line in servers(pg_emulator.state_dir))


def test_data_and_connection_strings_survive_a_restart_and_no_server_outlives_it(
    own_pg_emulator: Any, servers: Servers, sql: Sql
) -> None:
    with own_pg_emulator.client() as api:
        org = own_pg_emulator.bootstrap["organizations"]["paid"]
        body = api.post("/projects", json={"project": {"org_id": org}}).json()
    uri = body["connection_uris"][0]["connection_uri"]
    sql(uri, "CREATE TABLE t AS SELECT 42 AS x")
    assert servers(own_pg_emulator.state_dir)

    own_pg_emulator.stop()
    assert servers(own_pg_emulator.state_dir) == []
    own_pg_emulator.start()

    assert sql(uri, "SELECT x FROM t") == [(42,)]
