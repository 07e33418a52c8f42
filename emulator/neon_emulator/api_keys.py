"""Issuing API keys (``napi_…``): personal (``org_id`` None), organization, or project-scoped.

The key's secret is shown once, in the create response (and for the bootstrap key in
``bootstrap.json``); lists and revocations show only its id and name.
"""

from __future__ import annotations

from neon_emulator import clock, ids, records
from neon_emulator.store import Store


def issue(
    store: Store,
    user_id: str,
    name: str,
    org_id: str | None = None,
    project_id: str | None = None,
) -> records.ApiKey:
    key = records.ApiKey(
        id=store.next_value("api_key_id", start=1_000_001),
        key=ids.unique(ids.api_key, lambda c: store.api_key_by_token(c) is not None),
        name=name,
        created_at=clock.now_iso(),
        created_by=user_id,
        org_id=org_id,
        project_id=project_id,
    )
    store.put_api_key(key)
    return key
