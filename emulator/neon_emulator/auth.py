"""Who is calling: Bearer API keys and what they may see.

Three kinds of keys, as on Neon:

* personal keys (``org_id`` is ``None``) act for their user in every organization the user belongs
  to; they must name ``org_id`` when listing or creating projects (400 ``org_id is required``);
* organization keys act in their one organization; ``org_id`` is implied;
* project-scoped organization keys additionally see only their project.

A personal key also sees the projects shared with its user's email (project permissions) in
organizations the user does not belong to. Within an organization a personal key acts with its
user's role (``admin`` or ``member``); an organization key acts as an admin of its organization.

No key or an unknown one → 401. A project the key cannot see is reported as missing (404), an
organization it cannot act in as 403, an admin-only action by a member as 403.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from neon_emulator import clock, errors, memberships, records
from neon_emulator.store import Store


@dataclass(frozen=True)
class Principal:
    key: records.ApiKey
    user_id: str
    roles: Mapping[str, records.MemberRole]
    """The organizations the key acts in, with the role it acts with in each."""
    shared: frozenset[str] = frozenset()
    """Projects of other organizations shared with the key's user (personal keys only)."""

    @property
    def personal(self) -> bool:
        return self.key.org_id is None

    @property
    def org_ids(self) -> frozenset[str]:
        return frozenset(self.roles)

    def sees(self, project: records.Project) -> bool:
        if self.key.project_id is not None and project.id != self.key.project_id:
            return False
        return project.org_id in self.roles or project.id in self.shared

    def require_org(self, org_id: str) -> None:
        if org_id not in self.roles:
            raise errors.Forbidden(f"API key has no access to organization {org_id}")

    def require_admin(self, org_id: str) -> None:
        self.require_org(org_id)
        if self.roles[org_id] != "admin":
            raise errors.Forbidden(f"only admins of organization {org_id} can do this")

    def resolve_org(self, org_id: str | None) -> str:
        """The organization a list or create acts in: explicit, or implied by an org key."""
        if org_id is None:
            if self.key.org_id is None:
                raise errors.BadRequest("org_id is required")
            return self.key.org_id
        self.require_org(org_id)
        return org_id


def authenticate(store: Store, authorization: str | None, remote: str | None) -> Principal:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise errors.Unauthorized("authentication required")
    key = store.api_key_by_token(token.strip())
    if key is None or key.revoked:
        raise errors.Unauthorized("authentication required")
    user_id = key.created_by
    key.last_used_at = clock.now_iso()
    key.last_used_from_addr = remote or ""
    if key.org_id is not None:
        return Principal(key=key, user_id=user_id, roles={key.org_id: "admin"})
    user = store.users.get(user_id)
    return Principal(
        key=key,
        user_id=user_id,
        roles=memberships.roles(store, user_id),
        shared=memberships.shared_projects(store, user.email) if user else frozenset(),
    )
