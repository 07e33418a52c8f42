"""Snapshots capture real data; restoring one brings it back on the target branch through the
same connection string, keeping the replaced branch as "<name> (old)"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

Sql = Callable[[str, str], list[tuple[Any, ...]]]


def values(sql: Sql, uri: str) -> list[int]:
    return [row[0] for row in sql(uri, "SELECT x FROM t ORDER BY x")]


def snapshot(api: httpx.Client, project_id: str, branch_id: str, wait: Any) -> dict[str, Any]:
    response = api.post(f"/projects/{project_id}/branches/{branch_id}/snapshot", json={})
    assert response.status_code == 200, response.text
    wait(project_id)
    taken: dict[str, Any] = response.json()["snapshot"]
    return taken


def branch_names(api: httpx.Client, project_id: str) -> dict[str, str]:
    branches = api.get(f"/projects/{project_id}/branches").json()["branches"]
    return {b["name"]: b["id"] for b in branches}


def test_one_step_restore_serves_the_snapshot_through_the_same_uri(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], wait: Any, sql: Sql
) -> None:
    body = new_project()
    project_id, main_id = body["project"]["id"], body["branch"]["id"]
    uri = body["connection_uris"][0]["connection_uri"]
    sql(uri, "CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
    taken = snapshot(api, project_id, main_id, wait)
    sql(uri, "INSERT INTO t VALUES (2)")

    restored = api.post(
        f"/projects/{project_id}/snapshots/{taken['id']}/restore",
        json={"target_branch_id": main_id, "finalize_restore": True},
    )
    assert restored.status_code == 200, restored.text
    wait(project_id)

    assert values(sql, uri) == [1]
    names = branch_names(api, project_id)
    assert names["main (old)"] == main_id
    assert names["main"] == restored.json()["branch"]["id"]


def test_the_old_branch_keeps_the_data_it_had(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], wait: Any, sql: Sql
) -> None:
    body = new_project()
    project_id, main_id = body["project"]["id"], body["branch"]["id"]
    uri = body["connection_uris"][0]["connection_uri"]
    sql(uri, "CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
    taken = snapshot(api, project_id, main_id, wait)
    sql(uri, "INSERT INTO t VALUES (2)")
    api.post(
        f"/projects/{project_id}/snapshots/{taken['id']}/restore",
        json={"target_branch_id": main_id, "finalize_restore": True},
    ).raise_for_status()
    wait(project_id)

    response = api.post(
        f"/projects/{project_id}/branches",
        json={"branch": {"parent_id": main_id}, "endpoints": [{"type": "read_write"}]},
    )
    assert response.status_code == 201, response.text
    wait(project_id)

    assert values(sql, response.json()["connection_uris"][0]["connection_uri"]) == [1, 2]


def test_staged_restore_leaves_the_target_alone_until_finalized(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], wait: Any, sql: Sql
) -> None:
    body = new_project()
    project_id, main_id = body["project"]["id"], body["branch"]["id"]
    uri = body["connection_uris"][0]["connection_uri"]
    sql(uri, "CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
    taken = snapshot(api, project_id, main_id, wait)
    sql(uri, "INSERT INTO t VALUES (2)")

    staged = api.post(
        f"/projects/{project_id}/snapshots/{taken['id']}/restore",
        json={"target_branch_id": main_id, "name": "inspect"},
    )
    assert staged.status_code == 200, staged.text
    wait(project_id)
    staged_id = staged.json()["branch"]["id"]
    assert values(sql, uri) == [1, 2]
    endpoint = api.post(
        f"/projects/{project_id}/endpoints",
        json={"endpoint": {"branch_id": staged_id, "type": "read_only"}},
    )
    assert endpoint.status_code == 201, endpoint.text
    wait(project_id)
    inspect_uri = api.get(
        f"/projects/{project_id}/connection_uri",
        params={
            "branch_id": staged_id,
            "endpoint_id": endpoint.json()["endpoint"]["id"],
            "database_name": "neondb",
            "role_name": "neondb_owner",
        },
    ).json()["uri"]
    assert values(sql, inspect_uri) == [1]

    api.post(f"/projects/{project_id}/branches/{staged_id}/finalize_restore", json={})
    wait(project_id)

    assert values(sql, uri) == [1]
    assert branch_names(api, project_id)["main (old)"] == main_id


def test_snapshots_report_their_real_size_and_lsn(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], wait: Any, sql: Sql
) -> None:
    body = new_project()
    project_id, main_id = body["project"]["id"], body["branch"]["id"]
    uri = body["connection_uris"][0]["connection_uri"]
    sql(uri, "CREATE TABLE t AS SELECT generate_series(1, 20000) AS x")
    [(lsn_after_write,)] = sql(uri, "SELECT pg_current_wal_lsn()::text")

    taken = snapshot(api, project_id, main_id, wait)
    listed = api.get(f"/projects/{project_id}/snapshots").json()["snapshots"]
    [stored] = [s for s in listed if s["id"] == taken["id"]]

    assert stored["full_size"] > 1_000_000
    high, low = (int(part, 16) for part in stored["lsn"].split("/"))
    w_high, w_low = (int(part, 16) for part in lsn_after_write.split("/"))
    assert (high, low) >= (w_high, w_low)
