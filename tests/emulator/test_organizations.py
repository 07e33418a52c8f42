"""Organizations: transfer between them (≤ 400 ids, 406 and 422 cases) and org API keys."""

from __future__ import annotations

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
