"""The leadership fence: writes pass only until the deadline the last renewal set."""

from __future__ import annotations

import httpx
import pytest

from neon_operator.fencing import Fence, NotLeader
from neon_operator.leadership import Election
from neon_operator.neon import LimiterRegistry, NeonClient

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_fence_is_closed_until_a_renewal_opens_it_and_closes_at_its_deadline() -> None:
    clock = Clock()
    refused: list[str] = []
    fence = Fence(clock=clock, on_refused=refused.append)

    with pytest.raises(NotLeader):
        fence.check("write Secret a/b")
    fence.open_until(clock.now + 10)
    fence.check("write Secret a/b")
    clock.now += 10  # a process frozen past its renew deadline finds the fence closed
    with pytest.raises(NotLeader, match="write Secret a/c"):
        fence.check("write Secret a/c")

    assert refused == ["write Secret a/b", "write Secret a/c"]
    assert fence.refused == 2


def test_a_closed_fence_stays_closed_whatever_the_clock_says() -> None:
    clock = Clock()
    fence = Fence(clock=clock)
    fence.open_until(clock.now + 10)
    fence.close()
    with pytest.raises(NotLeader):
        fence.check("patch status")


def test_an_unfenced_process_always_writes() -> None:
    Fence.unfenced().check("anything")


def test_election_timing_must_leave_the_fence_time_to_close_before_a_takeover() -> None:
    Election("neon-operator", "default", "me", 15, 10, 2)
    with pytest.raises(ValueError, match="lease duration > renew deadline"):
        Election("neon-operator", "default", "me", 10, 10, 2)


async def test_a_fenced_neon_client_reads_but_never_sends_a_write() -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.method)
        return httpx.Response(200, json={"projects": [], "pagination": {}})

    fence = Fence()  # never opened: this process does not lead

    async def no_sleep(_: float) -> None:
        return None

    client = NeonClient(
        "napi_fencetestsecretkey0123456789",
        base_url="http://neon.invalid/api/v2",
        transport=httpx.MockTransport(handler),
        limiters=LimiterRegistry(sleep=no_sleep),
        sleep=no_sleep,
        write_guard=fence.check,
    )
    try:
        await client.list_projects()
        with pytest.raises(NotLeader, match="DELETE /projects/"):
            await client.delete_project("p-1")
    finally:
        await client.aclose()
    assert sent == ["GET"]
