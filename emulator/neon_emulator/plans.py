"""Which Neon plans offer which feature (an organization's ``plan``), and the 403 otherwise.

The emulator's bootstrap organizations are on ``free_v2`` (sponsored) and ``scale`` (paid);
``POST /admin/organizations`` takes any plan name.
"""

from __future__ import annotations

from neon_emulator import errors, records

CONSUMPTION_V1 = frozenset({"scale", "scale_v3", "business", "enterprise", "direct_sales"})
CONSUMPTION_V2 = CONSUMPTION_V1 | {"launch", "launch_v3", "agent"}
SPENDING_LIMIT = frozenset({"launch", "launch_v3", "scale", "scale_v3"})
"""Neon: "Available … on Launch and Scale plans only"."""
BACKUP_SCHEDULES = CONSUMPTION_V2 - {"agent"}
"""Paid plans, not Agent."""


def require(org: records.Organization, plans: frozenset[str], feature: str) -> None:
    if org.plan not in plans:
        raise errors.Forbidden(f"{feature} is not available on the {org.plan} plan of {org.id}")
