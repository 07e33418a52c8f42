"""A branch holds its parent's data as of the branch point -- now, at a timestamp, at an LSN --
and the two diverge from there."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

Sql = Callable[[str, str], list[tuple[Any, ...]]]


def branch_uri(
    api: httpx.Client, project_id: str, wait: Callable[[str], None], **branch: Any
) -> tuple[dict[str, Any], str]:
    response = api.post(
        f"/projects/{project_id}/branches",
        json={"branch": branch, "endpoints": [{"type": "read_write"}]},
    )
    assert response.status_code == 201, response.text
    wait(project_id)
    body: dict[str, Any] = response.json()
    return body, body["connection_uris"][0]["connection_uri"]


def values(sql: Sql, uri: str) -> list[int]:
    return [row[0] for row in sql(uri, "SELECT x FROM t ORDER BY x")]


def test_a_branch_sees_its_parents_rows_and_later_writes_stay_apart(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], wait: Any, sql: Sql
) -> None:
    body = new_project()
    project_id = body["project"]["id"]
    main = body["connection_uris"][0]["connection_uri"]
    sql(main, "CREATE TABLE t (x int); INSERT INTO t VALUES (1), (2)")

    child, child_uri = branch_uri(api, project_id, wait, name="feature")
    sql(child_uri, "INSERT INTO t VALUES (100)")
    sql(main, "INSERT INTO t VALUES (3)")

    assert values(sql, child_uri) == [1, 2, 100]
    assert values(sql, main) == [1, 2, 3]
    assert child["branch"]["parent_id"] == body["branch"]["id"]


def test_a_branch_of_a_branch_carries_both_generations_of_rows(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], wait: Any, sql: Sql
) -> None:
    body = new_project()
    project_id = body["project"]["id"]
    sql(
        body["connection_uris"][0]["connection_uri"],
        "CREATE TABLE t (x int); INSERT INTO t VALUES (1)",
    )
    child, child_uri = branch_uri(api, project_id, wait, name="child")
    sql(child_uri, "INSERT INTO t VALUES (2)")

    _, grandchild_uri = branch_uri(api, project_id, wait, parent_id=child["branch"]["id"])

    assert values(sql, grandchild_uri) == [1, 2]


def test_a_branch_of_an_untouched_parent_is_empty_and_costs_no_server(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], wait: Any, sql: Sql
) -> None:
    body = new_project()
    _, child_uri = branch_uri(api, body["project"]["id"], wait)

    assert sql(child_uri, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]


def test_parent_timestamp_between_two_writes_returns_the_data_of_that_moment(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], wait: Any, sql: Sql
) -> None:
    body = new_project()
    project_id = body["project"]["id"]
    main = body["connection_uris"][0]["connection_uri"]
    sql(main, "CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
    time.sleep(1.5)
    between = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    time.sleep(2.5)
    sql(main, "INSERT INTO t VALUES (2)")

    _, past_uri = branch_uri(
        api, project_id, wait, parent_timestamp=between.strftime("%Y-%m-%dT%H:%M:%SZ")
    )

    assert values(sql, past_uri) == [1]
    assert values(sql, main) == [1, 2]


def test_parent_lsn_between_two_writes_returns_the_data_at_that_lsn(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], wait: Any, sql: Sql
) -> None:
    body = new_project()
    project_id = body["project"]["id"]
    main = body["connection_uris"][0]["connection_uri"]
    sql(main, "CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
    [(lsn,)] = sql(main, "SELECT pg_current_wal_lsn()::text")
    sql(main, "INSERT INTO t VALUES (2)")

    deadline = time.monotonic() + 60
    while True:  # the branch's head LSN follows its writes within a monitor tick
        response = api.post(
            f"/projects/{project_id}/branches",
            json={"branch": {"parent_lsn": lsn}, "endpoints": [{"type": "read_write"}]},
        )
        if response.status_code != 400 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert response.status_code == 201, response.text
    wait(project_id)
    past_uri = response.json()["connection_uris"][0]["connection_uri"]

    assert values(sql, past_uri) == [1]
    assert response.json()["branch"]["parent_lsn"] == lsn


def test_a_schema_only_branch_has_the_parents_tables_and_none_of_its_rows(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], wait: Any, sql: Sql
) -> None:
    body = new_project()
    project_id = body["project"]["id"]
    main = body["connection_uris"][0]["connection_uri"]
    sql(
        main,
        "CREATE TABLE t (x int PRIMARY KEY, label text NOT NULL);"
        "CREATE INDEX t_label ON t (label);"
        "INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 100) g",
    )

    created, uri = branch_uri(api, project_id, wait, name="schema", init_source="schema-only")

    assert sql(uri, "SELECT count(*) FROM t") == [(0,)]
    assert sql(uri, "SELECT indexname FROM pg_indexes WHERE tablename = 't' ORDER BY 1") == [
        ("t_label",),
        ("t_pkey",),
    ]
    assert sql(uri, "SELECT tableowner FROM pg_tables WHERE tablename = 't'") == [("neondb_owner",)]
    sql(uri, "INSERT INTO t VALUES (1, 'only here')")
    assert sql(main, "SELECT count(*) FROM t") == [(100,)]
    assert created["branch"]["init_source"] == "schema-only"
    assert "parent_id" not in created["branch"]


def test_a_schema_only_copy_of_a_branch_nobody_connected_to_leaves_its_rows_alone(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], wait: Any, sql: Sql
) -> None:
    body = new_project()
    project_id = body["project"]["id"]
    sql(body["connection_uris"][0]["connection_uri"], "CREATE TABLE t AS SELECT 1 AS x")
    child, child_uri = branch_uri(api, project_id, wait, name="untouched")

    _, uri = branch_uri(
        api, project_id, wait, parent_id=child["branch"]["id"], init_source="schema-only"
    )

    assert sql(uri, "SELECT count(*) FROM t") == [(0,)]
    assert values(sql, child_uri) == [1]
