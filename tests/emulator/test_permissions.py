"""Project permissions: sharing a project with another account gates what its keys see."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration


def test_sharing_a_project_lets_the_other_account_in_until_revoked(
    emulator: Any, api: httpx.Client, project: dict[str, Any], create_user: Any
) -> None:
    project_id = project["project"]["id"]
    branch_id = project["branch"]["id"]
    user = create_user(emulator)
    with emulator.client(key=user["api_key"]) as theirs:
        assert theirs.get(f"/projects/{project_id}").status_code == 404
        assert theirs.get("/projects/shared").json()["projects"] == []

        granted = api.post(f"/projects/{project_id}/permissions", json={"email": user["email"]})
        assert granted.status_code == 200, granted.text
        assert granted.json()["granted_to_email"] == user["email"]

        assert theirs.get(f"/projects/{project_id}").status_code == 200
        assert theirs.get(f"/projects/{project_id}/branches/{branch_id}").status_code == 200
        shared = theirs.get("/projects/shared").json()["projects"]
        assert [p["id"] for p in shared] == [project_id]

        revoked = api.delete(f"/projects/{project_id}/permissions/{granted.json()['id']}")
        assert revoked.status_code == 200
        assert "revoked_at" in revoked.json()
        assert theirs.get(f"/projects/{project_id}").status_code == 404
        assert api.get(f"/projects/{project_id}/permissions").json() == {"project_permissions": []}


def test_a_collaborator_cannot_share_further_and_sharing_twice_conflicts(
    emulator: Any, api: httpx.Client, project: dict[str, Any], create_user: Any
) -> None:
    project_id = project["project"]["id"]
    user = create_user(emulator)
    api.post(f"/projects/{project_id}/permissions", json={"email": user["email"]})
    twice = api.post(f"/projects/{project_id}/permissions", json={"email": user["email"].upper()})
    assert twice.status_code == 409
    with emulator.client(key=user["api_key"]) as theirs:
        further = theirs.post(
            f"/projects/{project_id}/permissions", json={"email": "third@example.com"}
        )
    assert further.status_code == 403


def test_a_bad_email_is_refused_naming_the_field(
    api: httpx.Client, project: dict[str, Any]
) -> None:
    response = api.post(
        f"/projects/{project['project']['id']}/permissions", json={"email": "not-an-email"}
    )
    assert response.status_code == 400
    assert "email" in response.json()["message"]
