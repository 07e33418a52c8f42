"""Branches: point-in-time creation, listing, rename, default, delete rules, restore."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration


def _branch(api: httpx.Client, project_id: str, **spec: Any) -> httpx.Response:
    endpoints = spec.pop("endpoints", None)
    body: dict[str, Any] = {"branch": spec}
    if endpoints is not None:
        body["endpoints"] = endpoints
    return api.post(f"/projects/{project_id}/branches", json=body)


def test_branch_with_compute_gets_roles_databases_and_uri(
    api: httpx.Client, project: dict[str, Any]
) -> None:
    project_id = project["project"]["id"]
    response = _branch(api, project_id, name="dev", endpoints=[{"type": "read_write"}])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["branch"]["parent_id"] == project["branch"]["id"]
    assert [r["name"] for r in body["roles"]] == ["neondb_owner"]
    assert [d["name"] for d in body["databases"]] == ["neondb"]
    [endpoint] = body["endpoints"]
    assert body["connection_uris"][0]["connection_parameters"]["host"] == endpoint["host"]
    assert (
        body["connection_uris"][0]["connection_parameters"]["password"]
        == (project["roles"][0]["password"])
    )


def test_branch_at_parent_lsn_and_timestamp(
    api: httpx.Client, project: dict[str, Any], wait_for_operations: Any
) -> None:
    project_id = project["project"]["id"]
    parent_lsn = _branch(api, project_id).json()["branch"]["parent_lsn"]
    wait_for_operations(api, project_id)
    at_lsn = _branch(api, project_id, name="at-lsn", parent_lsn=parent_lsn)
    assert at_lsn.status_code == 201, at_lsn.text
    assert at_lsn.json()["branch"]["parent_lsn"] == parent_lsn
    wait_for_operations(api, project_id)

    moment = datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    at_time = _branch(api, project_id, name="at-time", parent_timestamp=moment)
    assert at_time.status_code == 201, at_time.text
    assert at_time.json()["branch"]["parent_timestamp"] == moment


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"parent_lsn": "0/FFFFFFFF"}, "parent_lsn"),
        ({"parent_lsn": "banana"}, "parent_lsn"),
        ({"parent_timestamp": "2001-01-01T00:00:00Z"}, "parent_timestamp"),
        ({"parent_timestamp": "2999-01-01T00:00:00Z"}, "parent_timestamp"),
    ],
)
def test_point_in_time_outside_history_is_rejected(
    api: httpx.Client, project: dict[str, Any], spec: dict[str, Any], field: str
) -> None:
    response = _branch(api, project["project"]["id"], **spec)
    assert response.status_code == 400
    assert field in response.json()["message"]


def test_rename_set_default_and_delete_rules(
    api: httpx.Client, project: dict[str, Any], wait_for_operations: Any
) -> None:
    project_id = project["project"]["id"]
    main = project["branch"]["id"]
    dev = _branch(api, project_id, name="dev").json()["branch"]["id"]
    wait_for_operations(api, project_id)

    renamed = api.patch(f"/projects/{project_id}/branches/{dev}", json={"branch": {"name": "qa"}})
    assert renamed.json()["branch"]["name"] == "qa"
    clash = api.patch(f"/projects/{project_id}/branches/{dev}", json={"branch": {"name": "main"}})
    assert clash.status_code == 409

    assert api.delete(f"/projects/{project_id}/branches/{main}").status_code == 400
    made_default = api.post(f"/projects/{project_id}/branches/{dev}/set_as_default")
    assert made_default.json()["branch"]["default"] is True
    main_now = api.get(f"/projects/{project_id}/branches/{main}").json()["branch"]
    assert main_now["default"] is False
    assert api.delete(f"/projects/{project_id}/branches/{main}").status_code == 400  # has child

    api.post(f"/projects/{project_id}/branches/{main}/set_as_default").raise_for_status()
    deleted = api.delete(f"/projects/{project_id}/branches/{dev}")
    assert deleted.status_code == 200
    assert [op["action"] for op in deleted.json()["operations"]][-1] == "delete_timeline"
    assert api.get(f"/projects/{project_id}/branches/{dev}").status_code == 404


def test_list_sorts_and_pages_with_next(
    api: httpx.Client, project: dict[str, Any], wait_for_operations: Any
) -> None:
    project_id = project["project"]["id"]
    for name in ("b-1", "b-2", "b-3"):
        _branch(api, project_id, name=name).raise_for_status()
        wait_for_operations(api, project_id)
    names: list[str] = []
    params: dict[str, Any] = {"sort_by": "name", "sort_order": "asc", "limit": 2}
    while True:
        page = api.get(f"/projects/{project_id}/branches", params=params).json()
        names.extend(b["name"] for b in page["branches"])
        if "pagination" not in page:
            break
        params["cursor"] = page["pagination"]["next"]
    assert names == ["b-1", "b-2", "b-3", "main"]
    count = api.get(f"/projects/{project_id}/branches/count", params={"search": "b-"}).json()
    assert count == {"count": 3}


def test_restore_branch_from_parent_preserving_the_old_state(
    api: httpx.Client, project: dict[str, Any], wait_for_operations: Any
) -> None:
    project_id = project["project"]["id"]
    main = project["branch"]["id"]
    dev = _branch(api, project_id, name="dev").json()["branch"]["id"]
    wait_for_operations(api, project_id)
    response = api.post(
        f"/projects/{project_id}/branches/{dev}/restore",
        json={"source_branch_id": main, "preserve_under_name": "dev-backup"},
    )
    assert response.status_code == 200, response.text
    wait_for_operations(api, project_id)
    names = {b["name"] for b in api.get(f"/projects/{project_id}/branches").json()["branches"]}
    assert names == {"main", "dev", "dev-backup"}
    restored = api.get(f"/projects/{project_id}/branches/{dev}").json()["branch"]
    assert restored["current_state"] == "ready"
    assert "last_reset_at" in restored


def test_self_restore_needs_a_point_in_time_and_a_name(
    api: httpx.Client, project: dict[str, Any]
) -> None:
    project_id = project["project"]["id"]
    main = project["branch"]["id"]
    response = api.post(
        f"/projects/{project_id}/branches/{main}/restore", json={"source_branch_id": main}
    )
    assert response.status_code == 400
    earlier = (datetime.now(UTC) - timedelta(seconds=0)).strftime("%Y-%m-%dT%H:%M:%SZ")
    response = api.post(
        f"/projects/{project_id}/branches/{main}/restore",
        json={"source_branch_id": main, "source_timestamp": earlier},
    )
    assert response.status_code == 400
    assert "preserve_under_name" in response.json()["message"]
