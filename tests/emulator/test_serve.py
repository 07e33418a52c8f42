"""Starting, health, bootstrap.json and state that survives a restart."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = pytest.mark.integration


def test_first_start_writes_bootstrap_with_a_key_for_two_organizations(own_emulator: Any) -> None:
    info = own_emulator.bootstrap
    assert set(info) == {"api_url", "api_key", "organizations"}
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/v2", info["api_url"])
    assert re.fullmatch(r"napi_[a-z0-9]{64}", info["api_key"])
    assert set(info["organizations"]) == {"sponsored", "paid"}
    for org_id in info["organizations"].values():
        assert re.fullmatch(r"org-[a-z]+-[a-z]+-\d{8}", org_id)
    with own_emulator.client() as api:
        orgs = api.get("/users/me/organizations").json()["organizations"]
    assert {o["id"] for o in orgs} == set(info["organizations"].values())


def test_healthz_answers_outside_the_api(own_emulator: Any) -> None:
    with own_emulator.admin() as admin:
        response = admin.get("/healthz")
    assert response.status_code == 200


def test_restart_keeps_key_organizations_and_projects(
    own_emulator: Any, create_project: Any
) -> None:
    with own_emulator.client() as api:
        created = create_project(api, own_emulator.organizations["paid"], name="survivor")
    before = dict(own_emulator.bootstrap)

    own_emulator.restart()

    assert own_emulator.api_key == before["api_key"]
    assert own_emulator.organizations == before["organizations"]
    with own_emulator.client() as api:
        project_id = created["project"]["id"]
        got = api.get(f"/projects/{project_id}")
        assert got.status_code == 200
        assert got.json()["project"]["name"] == "survivor"
        roles = api.get(f"/projects/{project_id}/branches/{created['branch']['id']}/roles")
        assert [r["name"] for r in roles.json()["roles"]] == ["neondb_owner"]


def test_operations_unfinished_at_shutdown_finish_after_restart(
    own_emulator: Any, wait_for_operations: Any
) -> None:
    with own_emulator.admin() as admin:
        admin.put("/admin/operations", json={"latency_seconds": 60})
    with own_emulator.client() as api:
        created = api.post(
            "/projects", json={"project": {"org_id": own_emulator.organizations["paid"]}}
        ).json()
    project_id = created["project"]["id"]

    own_emulator.restart()

    with own_emulator.client() as api:
        wait_for_operations(api, project_id)
        statuses = {
            op["status"]
            for op in api.get(f"/projects/{project_id}/operations").json()["operations"]
        }
        assert statuses == {"finished"}
        endpoint = api.get(f"/projects/{project_id}/endpoints").json()["endpoints"][0]
        assert endpoint["current_state"] == "active"
