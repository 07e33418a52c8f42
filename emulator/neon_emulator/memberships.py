"""Who belongs where: organization members, invitations, and projects shared with a user.

The rules, as on Neon:

* Inviting an email makes an :class:`~neon_emulator.records.Invitation`. If a user with that
  email exists, they join at once (the invitation is accepted); otherwise they join when their
  account is created (``POST /admin/users``).
* An organization always keeps an admin: the last one can be neither removed nor demoted.
* A project permission shares one project with an email; the user signing in with it sees the
  project (and only it) with a personal key, whatever organizations they belong to.
"""

from __future__ import annotations

import uuid

from neon_emulator import clock, errors, records
from neon_emulator.store import Store


def members_of(store: Store, org_id: str) -> list[records.Member]:
    return [m for m in store.members if m.org_id == org_id]


def roles(store: Store, user_id: str) -> dict[str, records.MemberRole]:
    """The organizations ``user_id`` belongs to, with their role in each."""
    return {m.org_id: m.role for m in store.members if m.user_id == user_id}


def shared_projects(store: Store, email: str) -> frozenset[str]:
    wanted = email.lower()
    return frozenset(p.project_id for p in store.permissions if p.email.lower() == wanted)


def user_by_email(store: Store, email: str) -> records.User | None:
    wanted = email.lower()
    return next((u for u in store.users if u.email.lower() == wanted), None)


def join(store: Store, org_id: str, user_id: str, role: records.MemberRole) -> records.Member:
    """Make ``user_id`` a member of ``org_id`` (keeping an existing membership as it is)."""
    for member in members_of(store, org_id):
        if member.user_id == user_id:
            return member
    return store.members.put(
        records.Member(
            id=str(uuid.uuid4()),
            org_id=org_id,
            user_id=user_id,
            role=role,
            joined_at=clock.now_iso(),
        )
    )


def accept_invitations(store: Store, user: records.User) -> None:
    """A user who now exists joins every organization that invited their email."""
    for invitation in store.invitations:
        if invitation.accepted_at is None and invitation.email.lower() == user.email.lower():
            join(store, invitation.org_id, user.id, invitation.role)
            invitation.accepted_at = clock.now_iso()
            store.invitations.put(invitation)


def keep_an_admin(store: Store, member: records.Member, new_role: str | None) -> None:
    """Refuse to remove (``new_role`` None) or demote the organization's last admin."""
    if member.role != "admin" or new_role == "admin":
        return
    admins = [m for m in members_of(store, member.org_id) if m.role == "admin"]
    if len(admins) <= 1:
        raise errors.BadRequest(
            f"member {member.id} is the last admin of organization {member.org_id}: "
            "make another member an admin first"
        )


def adopt_legacy_members(store: Store) -> None:
    """State written before members had records lists them on the organization: move them."""
    for org in store.organizations:
        if not org.member_ids:
            continue
        for user_id in org.member_ids:
            join(store, org.id, user_id, "admin")
        org.member_ids = []
        store.organizations.put(org)
