"""Tier changes that arrive together move in one Neon transfer call, and one bad project fails
only itself. Runs against the emulator's real transfer endpoint."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from neon_operator.neon import InvalidRequestError, NeonClient, ProjectCreate
from neon_operator.transfers import TransferBatcher

from .conftest import Emulator

pytestmark = pytest.mark.integration

TRANSFER = "/organizations/{org_id}/projects/transfer"


async def new_projects(neon: NeonClient, org: str, count: int) -> list[str]:
    created = await asyncio.gather(
        *(
            neon.create_project(ProjectCreate(name=f"move-{uuid.uuid4().hex[:8]}", org_id=org))
            for _ in range(count)
        )
    )
    await asyncio.gather(*(neon.wait_for_operations(c.operations) for c in created))
    return [c.project.id for c in created]


async def test_concurrent_tier_changes_share_one_transfer_call(
    neon: NeonClient, emulator: Emulator
) -> None:
    sponsored, paid = emulator.organizations["sponsored"], emulator.organizations["paid"]
    projects = await new_projects(neon, sponsored, 5)
    batcher = TransferBatcher(neon, window=0.2)
    before = neon.calls.count("POST", TRANSFER)

    await asyncio.gather(*(batcher.transfer(sponsored, paid, p) for p in projects))

    assert neon.calls.count("POST", TRANSFER) - before == 1
    for project_id in projects:
        assert (await neon.get_project(project_id)).org_id == paid


async def test_a_full_batch_is_sent_without_waiting_for_the_window(
    neon: NeonClient, emulator: Emulator
) -> None:
    sponsored, paid = emulator.organizations["sponsored"], emulator.organizations["paid"]
    projects = await new_projects(neon, sponsored, 3)
    never = asyncio.Event()

    async def wait_forever(_: float) -> None:
        await never.wait()

    batcher = TransferBatcher(neon, max_batch=3, sleep=wait_forever)
    before = neon.calls.count("POST", TRANSFER)

    await asyncio.gather(*(batcher.transfer(sponsored, paid, p) for p in projects))

    assert neon.calls.count("POST", TRANSFER) - before == 1


async def test_a_refused_project_fails_alone_and_the_others_still_move(
    neon: NeonClient, emulator: Emulator
) -> None:
    sponsored, paid = emulator.organizations["sponsored"], emulator.organizations["paid"]
    good_one, good_two, integrated = await new_projects(neon, sponsored, 3)
    emulator.admin(f"/admin/projects/{integrated}/integrations", {"integrations": ["github"]})
    batcher = TransferBatcher(neon, window=0.2)

    outcomes = await asyncio.gather(
        *(batcher.transfer(sponsored, paid, p) for p in (good_one, integrated, good_two)),
        return_exceptions=True,
    )

    assert outcomes[0] is None
    assert outcomes[2] is None
    assert isinstance(outcomes[1], InvalidRequestError)
    assert (await neon.get_project(good_one)).org_id == paid
    assert (await neon.get_project(good_two)).org_id == paid
    assert (await neon.get_project(integrated)).org_id == sponsored
