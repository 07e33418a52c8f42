"""Organization members and invitations: who joins when, who may do what, the last admin."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration


def _member_id(api: httpx.Client, org_id: str, email: str) -> str:
    members = api.get(f"/organizations/{org_id}/members", params={"limit": 500}).json()["members"]
    return next(str(m["member"]["id"]) for m in members if m["user"]["email"] == email)


def _invite(api: httpx.Client, org_id: str, email: str, role: str = "member") -> None:
    response = api.post(
        f"/organizations/{org_id}/invitations",
        json={"invitations": [{"email": email, "role": role}]},
    )
    assert response.status_code == 200, response.text


def _org(emulator: Any) -> str:
    with emulator.admin() as admin:
        return str(admin.post("/admin/organizations", json={"name": "Team"}).json()["id"])


def test_an_invited_email_joins_when_its_account_is_created(
    emulator: Any, api: httpx.Client, create_project: Any
) -> None:
    org_id = _org(emulator)
    project_id = create_project(api, org_id)["project"]["id"]
    email = "later-user@example.com"
    _invite(api, org_id, email)
    listed = api.get(f"/organizations/{org_id}/members").json()["members"]
    assert email not in {m["user"]["email"] for m in listed}

    with emulator.admin() as admin:
        user = admin.post("/admin/users", json={"email": email}).json()

    member = api.get(f"/organizations/{org_id}/members/{_member_id(api, org_id, email)}").json()
    assert (member["user_id"], member["role"]) == (user["id"], "member")
    assert [
        i["email"] for i in api.get(f"/organizations/{org_id}/invitations").json()["invitations"]
    ] == [email]
    with emulator.client(key=user["api_key"]) as theirs:
        assert theirs.get(f"/projects/{project_id}").status_code == 200
        orgs = theirs.get("/users/me/organizations").json()["organizations"]
        assert [o["id"] for o in orgs] == [org_id]


def test_inviting_an_existing_account_makes_it_a_member_at_once(
    emulator: Any, api: httpx.Client, create_user: Any
) -> None:
    org_id = _org(emulator)
    user = create_user(emulator)
    _invite(api, org_id, user["email"], "admin")
    with emulator.client(key=user["api_key"]) as theirs:
        assert theirs.get(f"/organizations/{org_id}").status_code == 200
    again = api.post(
        f"/organizations/{org_id}/invitations",
        json={"invitations": [{"email": user["email"], "role": "member"}]},
    )
    assert again.status_code == 409
    assert "already a member" in again.json()["message"]


def test_a_member_cannot_administer_the_organization(
    emulator: Any, api: httpx.Client, create_user: Any
) -> None:
    org_id = _org(emulator)
    user = create_user(emulator)
    _invite(api, org_id, user["email"])
    with emulator.client(key=user["api_key"]) as member:
        assert member.get(f"/organizations/{org_id}/members").status_code == 200
        invite = member.post(
            f"/organizations/{org_id}/invitations",
            json={"invitations": [{"email": "x@example.com", "role": "member"}]},
        )
        key = member.post(f"/organizations/{org_id}/api_keys", json={"key_name": "mine"})
    assert invite.status_code == 403
    assert key.status_code == 403
    assert "only admins" in key.json()["message"]


def test_the_last_admin_can_be_neither_removed_nor_demoted(
    emulator: Any, api: httpx.Client, create_user: Any
) -> None:
    org_id = _org(emulator)
    me = _member_id(api, org_id, "emulator@example.com")
    members = f"/organizations/{org_id}/members"
    assert api.delete(f"{members}/{me}").status_code == 400
    demoted = api.patch(f"{members}/{me}", json={"role": "member"})
    assert demoted.status_code == 400
    assert "last admin" in demoted.json()["message"]

    user = create_user(emulator)
    _invite(api, org_id, user["email"])
    other = _member_id(api, org_id, user["email"])
    assert api.patch(f"{members}/{other}", json={"role": "admin"}).json()["role"] == "admin"
    assert api.patch(f"{members}/{me}", json={"role": "member"}).status_code == 200


def test_a_removed_member_loses_the_organizations_projects_at_once(
    emulator: Any, api: httpx.Client, create_user: Any, create_project: Any
) -> None:
    org_id = _org(emulator)
    project_id = create_project(api, org_id)["project"]["id"]
    user = create_user(emulator)
    _invite(api, org_id, user["email"])
    with emulator.client(key=user["api_key"]) as theirs:
        assert theirs.get(f"/projects/{project_id}").status_code == 200
        removed = api.delete(
            f"/organizations/{org_id}/members/{_member_id(api, org_id, user['email'])}"
        )
        assert removed.json() == {}
        assert theirs.get(f"/projects/{project_id}").status_code == 404
        assert theirs.get("/projects", params={"org_id": org_id}).status_code == 403


def test_members_page_by_the_chosen_field(
    emulator: Any, api: httpx.Client, create_user: Any
) -> None:
    org_id = _org(emulator)
    emails = sorted(create_user(emulator)["email"] for _ in range(3))
    api.post(
        f"/organizations/{org_id}/invitations",
        json={"invitations": [{"email": e, "role": "member"} for e in emails]},
    ).raise_for_status()
    seen: list[str] = []
    params: dict[str, Any] = {"sort_by": "email", "sort_order": "asc", "limit": 2}
    while True:
        page = api.get(f"/organizations/{org_id}/members", params=params).json()
        seen += [m["user"]["email"] for m in page["members"]]
        if "pagination" not in page:
            break
        params["cursor"] = page["pagination"]["next"]
    assert seen == sorted([*emails, "emulator@example.com"])
    bad = api.get(f"/organizations/{org_id}/members", params={"sort_by": "name"})
    assert bad.status_code == 400
    assert "sort_by" in bad.json()["message"]
