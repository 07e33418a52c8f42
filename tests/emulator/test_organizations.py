"""Organizations: transfers between them (≤ 400 ids, 406 and 422 cases), transfer requests and
org API keys."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration


def test_transfer_moves_projects_to_the_destination(
    api: httpx.Client, sponsored_org: str, paid_org: str, create_project: Any
) -> None:
    project_id = create_project(api, sponsored_org)["project"]["id"]
    response = api.post(
        f"/organizations/{sponsored_org}/projects/transfer",
        json={"destination_org_id": paid_org, "project_ids": [project_id]},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {}
    assert api.get(f"/projects/{project_id}").json()["project"]["org_id"] == paid_org


def test_transfer_over_the_destination_cap_gets_406_with_the_limit(
    emulator: Any, api: httpx.Client, sponsored_org: str, create_project: Any
) -> None:
    with emulator.admin() as admin:
        full = admin.post("/admin/organizations", json={"name": "Full"}).json()["id"]
        admin.put(f"/admin/organizations/{full}/limits", json={"projects_limit": 0})
    project_id = create_project(api, sponsored_org)["project"]["id"]
    response = api.post(
        f"/organizations/{sponsored_org}/projects/transfer",
        json={"destination_org_id": full, "project_ids": [project_id]},
    )
    assert response.status_code == 406
    assert response.json() == {
        "limits": [{"name": "projects_count", "expected": "0", "actual": "1"}]
    }


def test_transfer_of_integrated_projects_gets_422(
    emulator: Any, api: httpx.Client, sponsored_org: str, paid_org: str, create_project: Any
) -> None:
    project_id = create_project(api, sponsored_org)["project"]["id"]
    with emulator.admin() as admin:
        admin.put(f"/admin/projects/{project_id}/integrations", json={"integrations": ["github"]})
    response = api.post(
        f"/organizations/{sponsored_org}/projects/transfer",
        json={"destination_org_id": paid_org, "project_ids": [project_id]},
    )
    assert response.status_code == 422
    assert response.json() == {"projects": [{"id": project_id, "integration": "github"}]}


def test_transfer_of_a_project_not_in_the_source_gets_404(
    api: httpx.Client, sponsored_org: str, paid_org: str, project: dict[str, Any]
) -> None:
    response = api.post(
        f"/organizations/{sponsored_org}/projects/transfer",
        json={"destination_org_id": paid_org, "project_ids": [project["project"]["id"]]},
    )
    assert response.status_code == 404


def test_org_key_cannot_transfer_into_an_organization_it_cannot_see(
    emulator: Any, api: httpx.Client, sponsored_org: str, paid_org: str, create_project: Any
) -> None:
    project_id = create_project(api, sponsored_org)["project"]["id"]
    key = api.post(f"/organizations/{sponsored_org}/api_keys", json={"key_name": "s"}).json()
    with emulator.client(key=key["key"]) as sponsored_only:
        response = sponsored_only.post(
            f"/organizations/{sponsored_org}/projects/transfer",
            json={"destination_org_id": paid_org, "project_ids": [project_id]},
        )
    assert response.status_code == 403


def test_org_api_keys_list_and_revoke(api: httpx.Client, paid_org: str) -> None:
    created = api.post(f"/organizations/{paid_org}/api_keys", json={"key_name": "ci"}).json()
    listed = api.get(f"/organizations/{paid_org}/api_keys").json()
    assert created["id"] in {k["id"] for k in listed}
    revoked = api.delete(f"/organizations/{paid_org}/api_keys/{created['id']}").json()
    assert revoked["revoked"] is True


def test_a_transfer_request_moves_the_project_to_the_account_that_accepts_it(
    emulator: Any, api: httpx.Client, paid_org: str, create_user: Any, create_project: Any
) -> None:
    project_id = create_project(api, paid_org)["project"]["id"]
    ticket = api.post(f"/projects/{project_id}/transfer_requests", json={})
    assert ticket.status_code == 201, ticket.text
    assert ticket.json()["project_id"] == project_id
    with emulator.admin() as admin:
        theirs_org = admin.post("/admin/organizations", json={"name": "Claimer"}).json()["id"]
    user = create_user(emulator)
    api.post(
        f"/organizations/{theirs_org}/invitations",
        json={"invitations": [{"email": user["email"], "role": "admin"}]},
    ).raise_for_status()
    api.delete(
        f"/organizations/{theirs_org}/members/"
        + next(
            m["member"]["id"]
            for m in api.get(f"/organizations/{theirs_org}/members").json()["members"]
            if m["user"]["email"] != user["email"]
        )
    ).raise_for_status()
    accept = f"/projects/{project_id}/transfer_requests/{ticket.json()['id']}"
    with emulator.client(key=user["api_key"]) as theirs:
        assert theirs.put(accept, json={}).status_code == 400  # a personal key names the org
        accepted = theirs.put(accept, json={"org_id": theirs_org})
        assert accepted.status_code == 204, accepted.text
        assert theirs.get(f"/projects/{project_id}").json()["project"]["org_id"] == theirs_org
        assert theirs.put(accept, json={"org_id": theirs_org}).status_code == 404
    assert api.get(f"/projects/{project_id}").status_code == 404


def test_an_expired_transfer_request_cannot_be_accepted(
    api: httpx.Client, paid_org: str, sponsored_org: str, create_project: Any
) -> None:
    project_id = create_project(api, paid_org)["project"]["id"]
    ticket = api.post(f"/projects/{project_id}/transfer_requests", json={"ttl_seconds": 1}).json()
    time.sleep(1.1)
    response = api.put(
        f"/projects/{project_id}/transfer_requests/{ticket['id']}",
        json={"org_id": sponsored_org},
    )
    assert response.status_code == 404
    assert "expired" in response.json()["message"]


def test_accepting_into_a_full_organization_gets_406_with_the_reason(
    emulator: Any, api: httpx.Client, paid_org: str, create_project: Any
) -> None:
    with emulator.admin() as admin:
        full = admin.post("/admin/organizations", json={"name": "Full"}).json()["id"]
        admin.put(f"/admin/organizations/{full}/limits", json={"projects_limit": 0})
    project_id = create_project(api, paid_org)["project"]["id"]
    ticket = api.post(f"/projects/{project_id}/transfer_requests").json()
    response = api.put(
        f"/projects/{project_id}/transfer_requests/{ticket['id']}", json={"org_id": full}
    )
    assert response.status_code == 406
    assert response.json()["reasons"][0]["code"] == "projects_limit_exceeded"
