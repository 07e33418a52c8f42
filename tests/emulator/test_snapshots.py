"""Snapshots and restores, with Neon's branch renaming and restore bookkeeping."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration


def _snapshot(api: httpx.Client, project: dict[str, Any], **params: str) -> dict[str, Any]:
    project_id = project["project"]["id"]
    response = api.post(
        f"/projects/{project_id}/branches/{project['branch']['id']}/snapshot", params=params
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_create_list_rename_delete(
    api: httpx.Client, project: dict[str, Any], wait_for_operations: Any
) -> None:
    project_id = project["project"]["id"]
    created = _snapshot(api, project, name="checkpoint-1")
    snapshot = created["snapshot"]
    assert snapshot["id"].startswith("snap-")
    assert snapshot["name"] == "checkpoint-1"
    assert snapshot["source_branch_id"] == project["branch"]["id"]
    assert created["operations"]
    wait_for_operations(api, project_id)

    listed = api.get(f"/projects/{project_id}/snapshots").json()["snapshots"]
    assert [s["id"] for s in listed] == [snapshot["id"]]

    renamed = api.patch(
        f"/projects/{project_id}/snapshots/{snapshot['id']}", json={"snapshot": {"name": "v1"}}
    )
    assert renamed.json()["snapshot"]["name"] == "v1"

    deleted = api.delete(f"/projects/{project_id}/snapshots/{snapshot['id']}")
    assert deleted.status_code == 202
    assert "operations" in deleted.json()
    assert api.get(f"/projects/{project_id}/snapshots").json()["snapshots"] == []


def test_snapshot_parameters_may_come_as_a_json_body(
    api: httpx.Client, project: dict[str, Any]
) -> None:
    project_id = project["project"]["id"]
    response = api.post(
        f"/projects/{project_id}/branches/{project['branch']['id']}/snapshot",
        json={"name": "from-body"},
    )
    assert response.json()["snapshot"]["name"] == "from-body"


def test_restore_with_finalize_swaps_in_the_snapshot_keeping_connection_strings(
    api: httpx.Client, project: dict[str, Any], wait_for_operations: Any
) -> None:
    project_id = project["project"]["id"]
    main = project["branch"]
    endpoint = project["endpoints"][0]
    snapshot = _snapshot(api, project, name="before-agent-edit")["snapshot"]
    wait_for_operations(api, project_id)

    response = api.post(
        f"/projects/{project_id}/snapshots/{snapshot['id']}/restore",
        json={"target_branch_id": main["id"], "finalize_restore": True},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    restored = body["branch"]
    wait_for_operations(api, project_id)

    restored = api.get(f"/projects/{project_id}/branches/{restored['id']}").json()["branch"]
    old = api.get(f"/projects/{project_id}/branches/{main['id']}").json()["branch"]
    assert restored["id"] != main["id"]
    assert restored["name"] == "main"
    assert restored["default"] is True
    assert restored["restored_from"] == snapshot["id"]
    assert restored["restored_as"] == main["id"]
    assert restored["restore_status"] == "finalized"
    assert old["name"] == "main (old)"
    assert old["default"] is False
    moved = api.get(f"/projects/{project_id}/endpoints/{endpoint['id']}").json()["endpoint"]
    assert moved["branch_id"] == restored["id"]
    assert moved["host"] == endpoint["host"]
    assert [e["id"] for e in body["endpoints"]] == [endpoint["id"]]
    assert api.delete(f"/projects/{project_id}/branches/{main['id']}").status_code == 200


def test_restore_without_finalize_leaves_the_target_until_finalize_restore(
    api: httpx.Client, project: dict[str, Any], wait_for_operations: Any
) -> None:
    project_id = project["project"]["id"]
    main = project["branch"]
    snapshot = _snapshot(api, project)["snapshot"]
    wait_for_operations(api, project_id)

    restored = api.post(
        f"/projects/{project_id}/snapshots/{snapshot['id']}/restore", json={"name": "preview"}
    ).json()["branch"]
    assert restored["restore_status"] == "restored"
    assert restored["restored_from"] == snapshot["id"]
    wait_for_operations(api, project_id)
    untouched = api.get(f"/projects/{project_id}/branches/{main['id']}").json()["branch"]
    assert (untouched["name"], untouched["default"]) == ("main", True)

    finalized = api.post(
        f"/projects/{project_id}/branches/{restored['id']}/finalize_restore",
        json={"name": "main-before-restore"},
    )
    assert finalized.status_code == 200, finalized.text
    assert "operations" in finalized.json()
    wait_for_operations(api, project_id)
    after = api.get(f"/projects/{project_id}/branches/{restored['id']}").json()["branch"]
    assert (after["name"], after["default"], after["restore_status"]) == ("main", True, "finalized")
    old = api.get(f"/projects/{project_id}/branches/{main['id']}").json()["branch"]
    assert old["name"] == "main-before-restore"


def test_snapshots_only_of_root_branches(
    api: httpx.Client, project: dict[str, Any], wait_for_operations: Any
) -> None:
    project_id = project["project"]["id"]
    child = api.post(f"/projects/{project_id}/branches", json={}).json()["branch"]
    wait_for_operations(api, project_id)
    response = api.post(f"/projects/{project_id}/branches/{child['id']}/snapshot")
    assert response.status_code == 400
    assert "root" in response.json()["message"]
