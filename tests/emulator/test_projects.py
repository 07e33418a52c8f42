"""Projects: the create response, listing with cursor and search, update, delete, recover."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration


def test_create_returns_everything_needed_to_connect(api: httpx.Client, paid_org: str) -> None:
    response = api.post(
        "/projects",
        json={
            "project": {
                "org_id": paid_org,
                "name": "app-1",
                "region_id": "aws-us-west-2",
                "pg_version": 16,
                "branch": {"name": "prod", "role_name": "app", "database_name": "appdb"},
                "default_endpoint_settings": {
                    "autoscaling_limit_min_cu": 0.5,
                    "autoscaling_limit_max_cu": 2,
                    "suspend_timeout_seconds": -1,
                },
            }
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {
        "project",
        "connection_uris",
        "roles",
        "databases",
        "operations",
        "branch",
        "endpoints",
    }
    project = body["project"]
    assert re.fullmatch(r"[a-z]+-[a-z]+-\d{8}", project["id"])
    assert (project["name"], project["region_id"], project["pg_version"]) == (
        "app-1",
        "aws-us-west-2",
        16,
    )
    assert project["org_id"] == paid_org
    assert body["branch"]["name"] == "prod"
    assert body["branch"]["default"] is True
    assert (body["branch"]["current_state"], body["branch"]["pending_state"]) == ("init", "ready")
    assert re.fullmatch(r"br-[a-z]+-[a-z]+-[a-z0-9]{8}", body["branch"]["id"])
    [endpoint] = body["endpoints"]
    assert endpoint["type"] == "read_write"
    assert (endpoint["autoscaling_limit_min_cu"], endpoint["autoscaling_limit_max_cu"]) == (0.5, 2)
    assert endpoint["suspend_timeout_seconds"] == -1
    assert endpoint["host"].startswith(endpoint["id"] + ".")
    [role] = body["roles"]
    assert role["name"] == "app"
    assert re.fullmatch(r"npg_[A-Za-z0-9]{12}", role["password"])
    assert [d["name"] for d in body["databases"]] == ["appdb"]
    [uri] = body["connection_uris"]
    assert uri["connection_uri"] == (
        f"postgresql://app:{role['password']}@{endpoint['host']}/appdb?sslmode=require"
    )
    assert uri["connection_parameters"]["pooler_host"] == endpoint["host"].replace(
        endpoint["id"], endpoint["id"] + "-pooler"
    )
    assert [op["action"] for op in body["operations"]] == ["create_timeline", "start_compute"]


def test_defaults_follow_neon(api: httpx.Client, paid_org: str) -> None:
    body = api.post("/projects", json={"project": {"org_id": paid_org}}).json()
    assert body["project"]["name"] == body["project"]["id"]
    assert body["project"]["pg_version"] == 17
    assert body["project"]["region_id"] == "aws-us-east-2"
    assert body["project"]["history_retention_seconds"] == 86400
    assert body["branch"]["name"] == "main"
    assert [r["name"] for r in body["roles"]] == ["neondb_owner"]
    assert [d["name"] for d in body["databases"]] == ["neondb"]


def test_listing_pages_with_the_last_id_as_cursor(
    emulator: Any, api: httpx.Client, create_project: Any
) -> None:
    with emulator.admin() as admin:
        org = admin.post("/admin/organizations", json={"name": "Paging"}).json()["id"]
    made = [create_project(api, org, name=f"page-{i}")["project"]["id"] for i in range(5)]

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"org_id": org, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = api.get("/projects", params=params).json()
        if not page["projects"]:
            assert "pagination" not in page
            break
        seen.extend(p["id"] for p in page["projects"])
        assert page["pagination"]["cursor"] == page["projects"][-1]["id"]
        cursor = page["pagination"]["cursor"]
    assert seen == made


def test_search_matches_part_of_name_or_id(
    api: httpx.Client, paid_org: str, create_project: Any
) -> None:
    wanted = create_project(api, paid_org, name="needle-in-haystack")["project"]
    by_name = api.get("/projects", params={"org_id": paid_org, "search": "needle-in"}).json()
    assert [p["id"] for p in by_name["projects"]] == [wanted["id"]]
    by_id = api.get("/projects", params={"org_id": paid_org, "search": wanted["id"][-8:]}).json()
    assert [p["id"] for p in by_id["projects"]] == [wanted["id"]]


def test_update_renames_and_changes_default_compute(
    api: httpx.Client, project: dict[str, Any]
) -> None:
    project_id = project["project"]["id"]
    response = api.patch(
        f"/projects/{project_id}",
        json={
            "project": {
                "name": "renamed",
                "default_endpoint_settings": {"autoscaling_limit_max_cu": 4},
            }
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["operations"] == []
    got = api.get(f"/projects/{project_id}").json()["project"]
    assert got["name"] == "renamed"
    assert got["default_endpoint_settings"]["autoscaling_limit_max_cu"] == 4


def test_delete_hides_the_project_and_recover_brings_it_back(
    api: httpx.Client, paid_org: str, project: dict[str, Any]
) -> None:
    project_id = project["project"]["id"]
    assert api.delete(f"/projects/{project_id}").status_code == 200
    assert api.get(f"/projects/{project_id}").status_code == 404
    listed = api.get("/projects", params={"org_id": paid_org, "limit": 400}).json()["projects"]
    assert project_id not in {p["id"] for p in listed}
    deleted = api.get(
        "/projects", params={"org_id": paid_org, "recoverable": "True", "limit": 400}
    ).json()["projects"]
    assert project_id in {p["id"] for p in deleted}

    recovered = api.post(f"/projects/{project_id}/recover")
    assert recovered.status_code == 200
    assert api.get(f"/projects/{project_id}").status_code == 200


def test_unknown_project_gets_404_with_neon_error_body(api: httpx.Client) -> None:
    response = api.get("/projects/no-such-project-00000000", headers={"X-Request-ID": "req-1"})
    assert response.status_code == 404
    assert response.json() == {
        "code": "",
        "message": "project no-such-project-00000000 not found",
        "request_id": "req-1",
    }
    assert response.headers["X-Neon-Ret-Request-Id"] == "req-1"


def test_organization_project_cap_is_enforced(
    emulator: Any, api: httpx.Client, create_project: Any
) -> None:
    with emulator.admin() as admin:
        org = admin.post("/admin/organizations", json={"name": "Capped"}).json()["id"]
        admin.put(
            f"/admin/organizations/{org}/limits", json={"projects_limit": 1}
        ).raise_for_status()
    create_project(api, org)
    response = api.post("/projects", json={"project": {"org_id": org}})
    assert response.status_code == 422
    assert response.json()["code"] == "PROJECTS_LIMIT_EXCEEDED"
