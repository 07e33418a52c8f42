"""A tier's organization at its project limit: new apps wait (OrganizationFull) without a storm
of creates, and one takes the place a deleted app frees."""

from __future__ import annotations

import itertools
import time
from typing import Any

import httpx
import pytest

from neon_operator import capacity, errors, neon

pytestmark = pytest.mark.integration

APPS = "neonappdatabases"


async def cap(neon_api, org: str, projects: int) -> None:
    admin_url = neon_api.api_url.removesuffix("/api/v2")
    async with httpx.AsyncClient(base_url=admin_url) as admin:
        org_id = neon_api.organizations[org]
        answer = await admin.put(
            f"/admin/organizations/{org_id}/limits", json={"projects_limit": projects}
        )
        answer.raise_for_status()


async def creates(neon_api) -> int:
    """``POST /projects`` requests the emulator has answered so far."""
    admin_url = neon_api.api_url.removesuffix("/api/v2")
    async with httpx.AsyncClient(base_url=admin_url) as admin:
        log: list[dict[str, Any]] = (await admin.get("/admin/requests")).json()["requests"]
    return sum(1 for r in log if r["method"] == "POST" and r["route"] == "/projects")


async def waits_for_room(op, name: str) -> errors.RetryLater:
    with pytest.raises(errors.RetryLater) as raised:
        await op.reconcile(APPS, name)
    assert raised.value.reason == "OrganizationFull"
    return raised.value


async def test_apps_wait_for_room_in_a_full_organization_and_take_a_freed_place(
    op, neon_api
) -> None:
    await cap(neon_api, "free", 1)
    op.apply(APPS, "first", {"tier": "free"})
    await op.reconcile(APPS, "first")
    for name in ("second", "third"):
        op.apply(APPS, name, {"tier": "free"})

    waiting = await waits_for_room(op, "second")

    ready = op.condition(APPS, "second")
    assert (ready["status"], ready["reason"]) == ("False", "OrganizationFull")
    org_id = neon_api.organizations["free"]
    for named in (org_id, "tier 'free'", "NeonConfig 'default'", "project limit"):
        assert named in ready["message"]
    for fix in ("raise the organization's project limit", "delete projects", "spec.tier"):
        assert fix in ready["message"]
    assert waiting.delay == op.settings.retry_delay

    # Everyone waiting looks again without asking Neon: one 422 per organization, not per app.
    tried = await creates(neon_api)
    for name in ("second", "third", "second", "third"):
        await waits_for_room(op, name)
    assert await creates(neon_api) == tried
    assert op.condition(APPS, "third")["reason"] == "OrganizationFull"

    # Deleting an app frees one place: the next waiter to look takes it, the other waits on.
    await op.delete(APPS, "first")
    await op.reconcile(APPS, "third")
    assert op.condition(APPS, "third")["status"] == "True"
    await waits_for_room(op, "second")
    assert await creates(neon_api) == tried + 1
    assert len(await neon_api.projects("free")) == 1


async def test_a_probe_after_the_backoff_finds_a_raised_limit_and_ends_the_wait(
    op, neon_api
) -> None:
    await cap(neon_api, "free", 0)
    for name in ("first", "second"):
        op.apply(APPS, name, {"tier": "free"})
        await waits_for_room(op, name)
    account = await op.accounts.get("default", namespace="apps")
    org_id = neon_api.organizations["free"]
    await cap(neon_api, "free", 5)

    # The probe's time comes: one waiter asks Neon again, finds room, and the wait ends.
    later = time.monotonic() + capacity.PROBE_BACKOFF
    account.capacity.clock = lambda: later
    await op.reconcile(APPS, "first")
    await op.reconcile(APPS, "second")

    assert not account.capacity.full(org_id)
    assert [op.condition(APPS, n)["status"] for n in ("first", "second")] == ["True", "True"]


async def test_probes_back_off_to_the_cap() -> None:
    now = [0.0]
    room = capacity.Capacity(4, clock=lambda: now[0])
    asked: list[float] = []

    async def create() -> None:
        async with room.creating("org-1", where="tier 'free'", recheck=1.0):
            asked.append(now[0])
            raise neon.OrganizationFull("organization projects limit of 1 exceeded")

    while len(asked) < 9:
        with pytest.raises(errors.RetryLater):
            await create()
        now[0] += 1.0

    gaps = [later - earlier for earlier, later in itertools.pairwise(asked)]
    assert gaps[0] == capacity.PROBE_BACKOFF
    assert gaps == sorted(gaps)
    assert gaps[-1] == capacity.PROBE_BACKOFF_CAP


def test_creates_in_flight_follow_the_budget() -> None:
    assert capacity.in_flight_for(neon.RateLimits(per_minute=700)) == 46
    assert capacity.in_flight_for(neon.RateLimits(per_minute=30)) == capacity.MIN_IN_FLIGHT
    assert capacity.in_flight_for(neon.RateLimits(per_minute=0)) == capacity.MAX_IN_FLIGHT
