"""API keys: 401 without a valid one; organizations do not see each other's projects."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration


def _org_key(api: httpx.Client, org_id: str, **extra: Any) -> str:
    response = api.post(f"/organizations/{org_id}/api_keys", json={"key_name": "test", **extra})
    assert response.status_code == 200, response.text
    return str(response.json()["key"])


def test_requests_without_a_key_get_401(emulator: Any) -> None:
    with emulator.client(key="") as anonymous:
        response = anonymous.get("/projects")
    assert response.status_code == 401
    assert response.json()["message"] == "authentication required"
    assert response.headers["X-Neon-Ret-Request-Id"]


def test_unknown_key_gets_401(emulator: Any) -> None:
    with emulator.client(key="napi_" + "x" * 64) as stranger:
        assert stranger.get("/users/me").status_code == 401


def test_revoked_key_gets_401(emulator: Any, api: httpx.Client, paid_org: str) -> None:
    created = api.post(f"/organizations/{paid_org}/api_keys", json={"key_name": "gone"}).json()
    api.delete(f"/organizations/{paid_org}/api_keys/{created['id']}").raise_for_status()
    with emulator.client(key=created["key"]) as revoked:
        assert revoked.get("/projects").status_code == 401


def test_personal_key_must_name_the_organization_when_listing(api: httpx.Client) -> None:
    response = api.get("/projects")
    assert response.status_code == 400
    assert response.json()["message"] == "org_id is required"


def test_org_key_cannot_see_a_project_of_another_organization(
    emulator: Any, api: httpx.Client, sponsored_org: str, paid_org: str, create_project: Any
) -> None:
    foreign = create_project(api, sponsored_org)["project"]["id"]
    with emulator.client(key=_org_key(api, paid_org)) as paid_only:
        assert paid_only.get(f"/projects/{foreign}").status_code == 404
        assert paid_only.delete(f"/projects/{foreign}").status_code == 404
        listed = paid_only.get("/projects", params={"org_id": sponsored_org})
        assert listed.status_code == 403
        own = paid_only.get("/projects").json()["projects"]
        assert foreign not in {p["id"] for p in own}


def test_org_key_creates_projects_in_its_own_organization(
    emulator: Any, api: httpx.Client, paid_org: str
) -> None:
    with emulator.client(key=_org_key(api, paid_org)) as paid_only:
        response = paid_only.post("/projects", json={"project": {"name": "implicit-org"}})
    assert response.status_code == 201
    assert response.json()["project"]["org_id"] == paid_org


def test_project_scoped_key_sees_only_its_project(
    emulator: Any, api: httpx.Client, paid_org: str, create_project: Any
) -> None:
    mine = create_project(api, paid_org)["project"]["id"]
    other = create_project(api, paid_org)["project"]["id"]
    with emulator.client(key=_org_key(api, paid_org, project_id=mine)) as scoped:
        assert scoped.get(f"/projects/{mine}").status_code == 200
        assert scoped.get(f"/projects/{other}").status_code == 404
        assert [p["id"] for p in scoped.get("/projects").json()["projects"]] == [mine]


def test_auth_endpoint_tells_the_key_type(emulator: Any, api: httpx.Client, paid_org: str) -> None:
    assert api.get("/auth").json()["auth_method"] == "api_key_user"
    with emulator.client(key=_org_key(api, paid_org)) as org_key:
        details = org_key.get("/auth").json()
    assert details == {"account_id": paid_org, "auth_method": "api_key_org"}


def test_revoking_a_personal_key_locks_it_out_at_once(emulator: Any, create_user: Any) -> None:
    user = create_user(emulator)
    with emulator.client(key=user["api_key"]) as theirs:
        extra = theirs.post("/api_keys", json={"key_name": "laptop"}).json()
        with emulator.client(key=extra["key"]) as laptop:
            assert laptop.get("/users/me").json()["email"] == user["email"]
            assert theirs.delete(f"/api_keys/{extra['id']}").json()["revoked"] is True
            assert laptop.get("/users/me").status_code == 401
        assert extra["id"] not in {k["id"] for k in theirs.get("/api_keys").json()}
