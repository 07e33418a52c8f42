"""Who is calling: Bearer API keys and what they may see.

Three kinds of keys, as on Neon:

* personal keys (``org_id`` is ``None``) act for their user in every organization the user belongs
  to; they must name ``org_id`` when listing or creating projects (400 ``org_id is required``);
* organization keys act in their one organization; ``org_id`` is implied;
* project-scoped organization keys additionally see only their project.

No key or an unknown one → 401. A project the key cannot see is reported as missing (404), an
organization it cannot act in as 403.
"""

from __future__ import annotations

from dataclasses import dataclass

from neon_emulator import clock, errors, records
from neon_emulator.store import Store


@dataclass(frozen=True)
class Principal:
    key: records.ApiKey
    user_id: str
    org_ids: frozenset[str]

    @property
    def personal(self) -> bool:
        return self.key.org_id is None

    def sees(self, project: records.Project) -> bool:
        if self.key.project_id is not None and project.id != self.key.project_id:
            return False
        return project.org_id in self.org_ids

    def require_org(self, org_id: str) -> None:
        if org_id not in self.org_ids:
            raise errors.Forbidden(f"API key has no access to organization {org_id}")

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
    if key.org_id is not None:
        org_ids = frozenset({key.org_id})
    else:
        org_ids = frozenset(org.id for org in store.organizations if user_id in org.member_ids)
    key.last_used_at = clock.now_iso()
    key.last_used_from_addr = remote or ""
    return Principal(key=key, user_id=user_id, org_ids=org_ids)
