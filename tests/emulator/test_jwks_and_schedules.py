"""A project's JWKS registry, backup schedules of root branches, and the platform services a
branch does not have here (object storage, AI gateway)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

URL = "https://clerk.example.com/.well-known/jwks.json"


def test_jwks_are_added_listed_and_deleted(api: httpx.Client, project: dict[str, Any]) -> None:
    project_id, branch_id = project["project"]["id"], project["branch"]["id"]
    added = api.post(
        f"/projects/{project_id}/jwks",
        json={
            "jwks_url": URL,
            "provider_name": "clerk",
            "branch_id": branch_id,
            "jwt_audience": "app",
        },
    )
    assert added.status_code == 201, added.text
    jwks = added.json()["jwks"]
    assert added.json()["operations"] == []
    assert (jwks["branch_id"], jwks["jwt_audience"], jwks["role_names"]) == (
        branch_id,
        "app",
        ["authenticator", "authenticated", "anonymous"],
    )
    twice = api.post(
        f"/projects/{project_id}/jwks",
        json={"jwks_url": URL, "provider_name": "clerk", "branch_id": branch_id},
    )
    assert twice.status_code == 409
    assert api.get(f"/projects/{project_id}/jwks").json() == {"jwks": [jwks]}
    assert api.delete(f"/projects/{project_id}/jwks/{jwks['id']}").json() == jwks
    assert api.get(f"/projects/{project_id}/jwks").json() == {"jwks": []}
    assert api.delete(f"/projects/{project_id}/jwks/{jwks['id']}").status_code == 404


def test_a_jwks_url_must_be_https(api: httpx.Client, project: dict[str, Any]) -> None:
    response = api.post(
        f"/projects/{project['project']['id']}/jwks",
        json={"jwks_url": "http://clerk.example.com/jwks.json", "provider_name": "clerk"},
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith("jwks_url:")


def test_a_backup_schedule_is_stored_for_root_branches_on_paid_plans(
    api: httpx.Client,
    project: dict[str, Any],
    sponsored_org: str,
    create_project: Any,
    wait_for_operations: Any,
) -> None:
    project_id, main = project["project"]["id"], project["branch"]["id"]
    schedule = f"/projects/{project_id}/branches/{main}/backup_schedule"
    assert api.get(schedule).json() == {"schedule": []}
    wanted = [
        {"frequency": "daily", "hour": 3, "retention_seconds": 604_800},
        {"frequency": "weekly", "hour": 4, "day": 7},
    ]
    assert api.put(schedule, json={"schedule": wanted}).json() == {}
    assert api.get(schedule).json() == {"schedule": wanted}

    repeated = api.put(schedule, json={"schedule": [wanted[0], wanted[0]]})
    assert repeated.status_code == 400
    assert "schedule[1].frequency" in repeated.json()["message"]
    short = api.put(schedule, json={"schedule": [{"frequency": "hourly", "retention_seconds": 60}]})
    assert short.status_code == 400
    assert "retention_seconds" in short.json()["message"]

    child = api.post(f"/projects/{project_id}/branches", json={}).json()["branch"]["id"]
    wait_for_operations(api, project_id)
    on_child = api.put(
        f"/projects/{project_id}/branches/{child}/backup_schedule", json={"schedule": []}
    )
    assert on_child.status_code == 400
    assert "root branches" in on_child.json()["message"]

    free = create_project(api, sponsored_org)
    free_schedule = (
        f"/projects/{free['project']['id']}/branches/{free['branch']['id']}/backup_schedule"
    )
    assert api.put(free_schedule, json={"schedule": []}).status_code == 403


def test_object_storage_and_the_ai_gateway_report_they_are_unavailable(
    api: httpx.Client, project: dict[str, Any]
) -> None:
    branch = f"/projects/{project['project']['id']}/branches/{project['branch']['id']}"
    storage = api.get(f"{branch}/storage")
    assert storage.status_code == 404
    assert storage.json()["reason"] == "org_not_entitled"
    assert api.get(f"{branch}/ai_gateway").json()["reason"] == "ai_gateway_unavailable"
    unknown = api.get(
        f"/projects/{project['project']['id']}/branches/br-none-none-a5000000/storage"
    )
    assert unknown.json()["reason"] == "branch_not_found"
