"""A deleted branch comes back within its recovery window with its data, and its connection
string works again; ``hard_delete`` cannot be undone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest

pytestmark = pytest.mark.integration

Sql = Callable[[str, str], list[tuple[Any, ...]]]


def _child(api: httpx.Client, project_id: str, wait: Any, sql: Sql) -> tuple[str, str]:
    created = api.post(
        f"/projects/{project_id}/branches",
        json={"branch": {"name": "dev"}, "endpoints": [{"type": "read_write"}]},
    ).json()
    wait(project_id)
    uri = created["connection_uris"][0]["connection_uri"]
    sql(uri, "CREATE TABLE t (x int); INSERT INTO t VALUES (42)")
    return created["branch"]["id"], uri


def test_a_deleted_branch_is_recovered_with_its_data_and_connection_string(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], wait: Any, sql: Sql
) -> None:
    project_id = new_project()["project"]["id"]
    dev, uri = _child(api, project_id, wait, sql)
    api.delete(f"/projects/{project_id}/branches/{dev}").raise_for_status()
    wait(project_id)
    with pytest.raises(psycopg.OperationalError):
        sql(uri, "SELECT 1")
    branches = f"/projects/{project_id}/branches"
    assert dev not in {b["id"] for b in api.get(branches).json()["branches"]}
    listed = api.get(branches, params={"include_deleted": "true"}).json()["branches"]
    recovery = next(b for b in listed if b["id"] == dev)["recovery"]
    assert recovery["deletion_method"] == "user"

    recovered = api.post(f"{branches}/{dev}/recover")

    assert recovered.status_code == 200, recovered.text
    body = recovered.json()
    assert "recovery" not in body["branch"]
    assert [e["current_state"] for e in body["endpoints"]] == ["idle"]
    assert sql(uri, "SELECT x FROM t") == [(42,)]
    assert dev in {b["id"] for b in api.get(branches).json()["branches"]}


def test_a_hard_deleted_branch_cannot_be_recovered(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], wait: Any, sql: Sql
) -> None:
    project_id = new_project()["project"]["id"]
    dev, _ = _child(api, project_id, wait, sql)
    branches = f"/projects/{project_id}/branches"
    api.delete(f"{branches}/{dev}", params={"hard_delete": "true"}).raise_for_status()
    wait(project_id)

    recovered = api.post(f"{branches}/{dev}/recover")

    assert recovered.status_code == 404
    assert "deleted permanently" in recovered.json()["message"]
    listed = api.get(branches, params={"include_deleted": "true"}).json()["branches"]
    assert dev not in {b["id"] for b in listed}
    assert api.post(f"{branches}/{listed[0]['id']}/recover").status_code == 400
