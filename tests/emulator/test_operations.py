"""Operations progress scheduling → running → finished; conflicting calls meanwhile get 423."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

LOCKED = "project already has running conflicting operations, scheduling of new ones is prohibited"


def _slow(emulator: Any, seconds: float) -> None:
    with emulator.admin() as admin:
        admin.put("/admin/operations", json={"latency_seconds": seconds}).raise_for_status()


def test_conflicting_mutation_while_operations_run_gets_423(
    own_emulator: Any, wait_for_operations: Any
) -> None:
    _slow(own_emulator, 60)
    with own_emulator.client() as api:
        created = api.post(
            "/projects", json={"project": {"org_id": own_emulator.organizations["paid"]}}
        ).json()
        project_id = created["project"]["id"]

        response = api.post(f"/projects/{project_id}/branches", json={})

        assert response.status_code == 423
        assert response.json()["message"] == LOCKED
        assert (
            api.get(f"/projects/{project_id}/branches").json()["branches"][0]["id"]
            == (created["branch"]["id"])
        )
        assert len(api.get(f"/projects/{project_id}/branches").json()["branches"]) == 1

        _slow(own_emulator, 0)
        wait_for_operations(api, project_id)
        assert api.post(f"/projects/{project_id}/branches", json={}).status_code == 201


def test_operations_pass_through_scheduling_running_finished(own_emulator: Any) -> None:
    _slow(own_emulator, 1.0)
    with own_emulator.client() as api:
        created = api.post(
            "/projects", json={"project": {"org_id": own_emulator.organizations["paid"]}}
        ).json()
        project_id = created["project"]["id"]
        first = created["operations"][0]["id"]
        assert created["operations"][0]["status"] == "scheduling"
        seen = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status = api.get(f"/projects/{project_id}/operations/{first}").json()["operation"]
            if not seen or seen[-1] != status["status"]:
                seen.append(status["status"])
            if status["status"] == "finished":
                break
            time.sleep(0.01)
    assert seen[-1] == "finished"
    assert "running" in seen
    assert seen == [s for s in ("scheduling", "running", "finished") if s in seen]


def test_branch_and_endpoint_states_follow_operations(
    api: httpx.Client, paid_org: str, wait_for_operations: Any
) -> None:
    created = api.post("/projects", json={"project": {"org_id": paid_org}}).json()
    project_id = created["project"]["id"]
    assert created["endpoints"][0]["current_state"] == "init"
    assert created["endpoints"][0]["pending_state"] == "active"
    wait_for_operations(api, project_id)
    branch = api.get(f"/projects/{project_id}/branches/{created['branch']['id']}").json()["branch"]
    assert branch["current_state"] == "ready"
    assert "pending_state" not in branch
    endpoint_id = created["endpoints"][0]["id"]
    endpoint = api.get(f"/projects/{project_id}/endpoints/{endpoint_id}").json()["endpoint"]
    assert endpoint["current_state"] == "active"

    suspended = api.post(f"/projects/{project_id}/endpoints/{endpoint_id}/suspend").json()
    assert [op["action"] for op in suspended["operations"]] == ["suspend_compute"]
    wait_for_operations(api, project_id)
    endpoint = api.get(f"/projects/{project_id}/endpoints/{endpoint_id}").json()["endpoint"]
    assert endpoint["current_state"] == "idle"

    api.post(f"/projects/{project_id}/endpoints/{endpoint_id}/start").raise_for_status()
    wait_for_operations(api, project_id)
    endpoint = api.get(f"/projects/{project_id}/endpoints/{endpoint_id}").json()["endpoint"]
    assert endpoint["current_state"] == "active"


def test_operations_list_pages_newest_first(api: httpx.Client, project: dict[str, Any]) -> None:
    project_id = project["project"]["id"]
    first = api.get(f"/projects/{project_id}/operations", params={"limit": 1}).json()
    assert first["operations"][0]["action"] == "start_compute"
    second = api.get(
        f"/projects/{project_id}/operations",
        params={"limit": 1, "cursor": first["pagination"]["cursor"]},
    ).json()
    assert second["operations"][0]["action"] == "create_timeline"
