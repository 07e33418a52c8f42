"""The account a fresh emulator starts with, like Neon's agent plan: one user, two
organizations (``sponsored`` for free end users, ``paid`` for paying ones) and a personal API key
with access to both.

It is created on first start and kept in the state directory; every start (once the socket is
bound, so the URL is right) rewrites ``bootstrap.json``::

    {"api_url": "http://127.0.0.1:PORT/api/v2", "api_key": "napi_…",
     "organizations": {"sponsored": "org-…", "paid": "org-…"}}
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from neon_emulator import api_keys, clock, ids, memberships, records
from neon_emulator.store import Store

# Plans are values every client's ``BillingSubscriptionType`` enum knows (neon-api 0.3.0 predates
# the ``*_v3`` plans and rejects them).
TIERS = {"sponsored": ("Sponsored", "free_v2"), "paid": ("Paid", "scale")}
KEY_NAME = "bootstrap"


@dataclass(frozen=True)
class Account:
    user: records.User
    organizations: dict[str, str]
    api_key: str


def ensure_account(store: Store) -> Account:
    """Create the bootstrap account unless the state directory already holds it."""
    user = next(iter(store.users), None)
    stamp = clock.now_iso()
    if user is None:
        user = store.users.put(
            records.User(
                id=ids.user_id(), email="emulator@example.com", name="Emulator", created_at=stamp
            )
        )
    memberships.adopt_legacy_members(store)
    organizations: dict[str, str] = {}
    for tier, (name, plan) in TIERS.items():
        org = next((o for o in store.organizations if o.handle == tier), None)
        if org is None:
            org = store.organizations.put(
                records.Organization(
                    id=ids.unique(ids.organization_id, lambda c: c in store.organizations),
                    name=name,
                    handle=tier,
                    plan=plan,
                    created_at=stamp,
                    updated_at=stamp,
                )
            )
            memberships.join(store, org.id, user.id, "admin")
        organizations[tier] = org.id
    key = next(
        (
            k
            for k in store.api_keys
            if k.name == KEY_NAME and k.created_by == user.id and k.org_id is None and not k.revoked
        ),
        None,
    )
    if key is None:
        key = api_keys.issue(store, user.id, KEY_NAME)
    store.commit()
    return Account(user=user, organizations=organizations, api_key=key.key)


def write(path: Path, api_url: str, account: Account) -> None:
    """Write ``bootstrap.json`` atomically (readers never see half a file)."""
    body = {
        "api_url": api_url,
        "api_key": account.api_key,
        "organizations": account.organizations,
    }
    partial = path.with_suffix(".json.tmp")
    partial.write_text(json.dumps(body, indent=2) + "\n")
    os.replace(partial, path)
