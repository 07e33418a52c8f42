"""The leader renews its Lease from a thread of its own: an operator loop busy past the renew
deadline (a burst of thousands of objects) does not cost it the leadership."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import time
import uuid

import pytest

from neon_operator.fencing import Fence
from neon_operator.kube import KubeClient
from neon_operator.leadership import Election, Elector

pytestmark = pytest.mark.e2e


async def test_the_leader_keeps_its_lease_while_its_event_loop_is_blocked(
    kubeconfig: pathlib.Path,
) -> None:
    kube = await KubeClient.connect(str(kubeconfig))
    fence = Fence()
    election = Election(
        name=f"renewal-{uuid.uuid4().hex[:8]}",
        namespace="default",
        identity="busy-leader",
        lease_duration=3,
        renew_deadline=2,
        retry_period=0.5,
    )
    elector = Elector(kube.api, election, fence)
    try:
        await elector.acquire()
        keeper = asyncio.create_task(elector.keep_on_own_thread())
        await asyncio.sleep(0.2)
        renewed = await elector._read()

        time.sleep(5)  # noqa: ASYNC251 - the operator's loop busy for 2.5 renew deadlines

        assert fence.is_open()
        assert not keeper.done()
        later = await elector._read()
        assert later["spec"]["renewTime"] > renewed["spec"]["renewTime"]
        assert later["spec"]["holderIdentity"] == "busy-leader"
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        await elector.release()
        assert (await elector._read())["spec"].get("holderIdentity") is None
    finally:
        await kube.close()
