"""A snapshot or a branch without an explicit point in time holds exactly the transactions
committed before the API answered: none made the instant after, none lost. Its reported ``lsn`` /
``parent_lsn`` is the real LSN of that moment, and it never changes once answered.

The next write goes through a connection opened beforehand, issued the moment the API answers
(the way an app checking its checkpoints does it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest

pytestmark = pytest.mark.integration

Sql = Callable[[str, str], list[tuple[Any, ...]]]


def lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def current_lsn(conn: psycopg.Connection[tuple[Any, ...]]) -> int:
    row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    assert row is not None
    return lsn(str(row[0]))


def values(sql: Sql, uri: str) -> list[int]:
    return [row[0] for row in sql(uri, "SELECT x FROM t ORDER BY x")]


def project_with_one_row(
    new_project: Callable[..., dict[str, Any]], sql: Sql
) -> tuple[str, str, str]:
    """A new project whose table ``t`` holds 1: (project id, main branch id, its URI)."""
    body = new_project()
    uri = body["connection_uris"][0]["connection_uri"]
    sql(uri, "CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
    return body["project"]["id"], body["branch"]["id"], uri


def restore_onto(api: httpx.Client, project_id: str, snapshot_id: str, branch_id: str) -> None:
    response = api.post(
        f"/projects/{project_id}/snapshots/{snapshot_id}/restore",
        json={"target_branch_id": branch_id, "finalize_restore": True},
    )
    assert response.status_code == 200, response.text


def test_a_snapshot_holds_no_write_made_the_instant_after_it_was_answered(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], wait: Any, sql: Sql
) -> None:
    project_id, main_id, uri = project_with_one_row(new_project, sql)
    with psycopg.connect(uri, autocommit=True) as conn:
        before = current_lsn(conn)
        response = api.post(f"/projects/{project_id}/branches/{main_id}/snapshot", json={})
        conn.execute("INSERT INTO t VALUES (2)")
    assert response.status_code == 200, response.text
    answered = response.json()["snapshot"]
    wait(project_id)

    restore_onto(api, project_id, answered["id"], main_id)
    wait(project_id)

    assert values(sql, uri) == [1]
    [listed] = [
        s
        for s in api.get(f"/projects/{project_id}/snapshots").json()["snapshots"]
        if s["id"] == answered["id"]
    ]
    assert listed["lsn"] == answered["lsn"]
    assert lsn(answered["lsn"]) >= before


def test_a_branch_holds_no_write_its_parent_made_the_instant_after_it_was_answered(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], wait: Any, sql: Sql
) -> None:
    project_id, _, uri = project_with_one_row(new_project, sql)
    with psycopg.connect(uri, autocommit=True) as conn:
        before = current_lsn(conn)
        response = api.post(
            f"/projects/{project_id}/branches", json={"endpoints": [{"type": "read_write"}]}
        )
        conn.execute("INSERT INTO t VALUES (2)")
    assert response.status_code == 201, response.text
    child = response.json()
    wait(project_id)

    assert values(sql, child["connection_uris"][0]["connection_uri"]) == [1]
    assert values(sql, uri) == [1, 2]
    stored = api.get(f"/projects/{project_id}/branches/{child['branch']['id']}").json()
    assert stored["branch"]["parent_lsn"] == child["branch"]["parent_lsn"]
    assert lsn(child["branch"]["parent_lsn"]) >= before


def test_the_reported_lsn_is_the_servers_and_branching_there_gives_the_same_data(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], wait: Any, sql: Sql
) -> None:
    project_id, _, uri = project_with_one_row(new_project, sql)
    with psycopg.connect(uri, autocommit=True) as conn:
        before = current_lsn(conn)
        response = api.post(f"/projects/{project_id}/branches", json={})
        after = current_lsn(conn)
        conn.execute("INSERT INTO t VALUES (2)")
    assert response.status_code == 201, response.text
    parent_lsn = response.json()["branch"]["parent_lsn"]
    wait(project_id)

    assert before <= lsn(parent_lsn) <= after
    again = api.post(
        f"/projects/{project_id}/branches",
        json={"branch": {"parent_lsn": parent_lsn}, "endpoints": [{"type": "read_write"}]},
    )
    assert again.status_code == 201, again.text
    wait(project_id)
    assert values(sql, again.json()["connection_uris"][0]["connection_uri"]) == [1]


def test_a_branch_at_an_lsn_read_right_after_a_write_is_accepted_at_once(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], wait: Any, sql: Sql
) -> None:
    project_id, _, uri = project_with_one_row(new_project, sql)
    with psycopg.connect(uri, autocommit=True) as conn:
        point = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        assert point is not None
        response = api.post(
            f"/projects/{project_id}/branches",
            json={"branch": {"parent_lsn": point[0]}, "endpoints": [{"type": "read_write"}]},
        )
        conn.execute("INSERT INTO t VALUES (2)")
    assert response.status_code == 201, response.text
    wait(project_id)

    assert values(sql, response.json()["connection_uris"][0]["connection_uri"]) == [1]


def test_a_snapshot_of_a_suspended_compute_holds_its_writes_and_not_the_waking_ones(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], wait: Any, sql: Sql
) -> None:
    project_id, main_id, uri = project_with_one_row(new_project, sql)
    [endpoint] = api.get(f"/projects/{project_id}/endpoints").json()["endpoints"]
    endpoint_id = endpoint["id"]
    suspended = api.post(f"/projects/{project_id}/endpoints/{endpoint_id}/suspend")
    assert suspended.status_code == 200, suspended.text
    wait(project_id)

    response = api.post(f"/projects/{project_id}/branches/{main_id}/snapshot", json={})
    sql(uri, "INSERT INTO t VALUES (2)")  # wakes the compute
    assert response.status_code == 200, response.text
    wait(project_id)
    restore_onto(api, project_id, response.json()["snapshot"]["id"], main_id)
    wait(project_id)

    assert values(sql, uri) == [1]


def test_a_snapshot_of_a_project_nobody_connected_to_holds_an_empty_database(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], wait: Any, sql: Sql
) -> None:
    body = new_project()
    project_id, main_id = body["project"]["id"], body["branch"]["id"]
    uri = body["connection_uris"][0]["connection_uri"]

    response = api.post(f"/projects/{project_id}/branches/{main_id}/snapshot", json={})
    sql(uri, "CREATE TABLE t (x int)")
    [(first,)] = sql(uri, "SELECT pg_current_wal_lsn()::text")
    assert response.status_code == 200, response.text
    wait(project_id)
    restore_onto(api, project_id, response.json()["snapshot"]["id"], main_id)
    wait(project_id)

    assert sql(uri, "SELECT count(*) FROM pg_tables WHERE tablename = 't'") == [(0,)]
    assert lsn(response.json()["snapshot"]["lsn"]) < lsn(first)


def test_a_connection_made_while_a_restore_runs_gets_the_restored_data(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], wait: Any, sql: Sql
) -> None:
    project_id, main_id, uri = project_with_one_row(new_project, sql)
    taken = api.post(f"/projects/{project_id}/branches/{main_id}/snapshot", json={})
    assert taken.status_code == 200, taken.text
    wait(project_id)
    sql(uri, "INSERT INTO t VALUES (2)")

    restore_onto(api, project_id, taken.json()["snapshot"]["id"], main_id)
    during = values(sql, uri)
    wait(project_id)

    assert during == [1]
    assert values(sql, uri) == [1]


def test_a_connection_to_a_new_branch_before_its_operations_end_gets_its_parents_data(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], wait: Any, sql: Sql
) -> None:
    project_id, _, _ = project_with_one_row(new_project, sql)

    response = api.post(
        f"/projects/{project_id}/branches", json={"endpoints": [{"type": "read_write"}]}
    )
    assert response.status_code == 201, response.text
    child_uri = response.json()["connection_uris"][0]["connection_uri"]

    assert values(sql, child_uri) == [1]
    wait(project_id)
    assert values(sql, child_uri) == [1]
