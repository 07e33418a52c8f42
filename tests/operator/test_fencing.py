"""The leadership fence: writes pass only until the deadline the last renewal set."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from neon_operator.fencing import Fence, NotLeader
from neon_operator.leadership import Election, Elector
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


class Leases:
    """The Lease API of an apiserver that refuses connections while ``down(now)``."""

    def __init__(self, clock: Clock, down: Callable[[float], bool]) -> None:
        self.clock, self.down = clock, down
        self.renewals = 0

    async def read_namespaced_lease(self, name: str, namespace: str) -> dict[str, object]:
        if self.down(self.clock.now):
            raise ConnectionRefusedError(111, "Connect call failed")
        return {"spec": {"holderIdentity": "me", "leaseDurationSeconds": 15}}

    async def replace_namespaced_lease(self, name: str, namespace: str, body: object) -> None:
        self.renewals += 1


class PlainApi:
    def sanitize_for_serialization(self, obj: object) -> object:
        return obj


async def keep_through(down: Callable[[float], bool], until: float) -> tuple[Fence, Leases, bool]:
    """A leader renewing (every 2 s, deadline 10 s) from t=100 against ``down``; whether it
    still keeps the Lease at ``until``."""
    clock = Clock()
    fence = Fence(clock=clock)
    leases = Leases(clock, down)

    class Reached(Exception):
        pass

    async def sleep(seconds: float) -> None:
        clock.now += seconds
        if clock.now >= until:
            raise Reached
        await asyncio.sleep(0)

    election = Election(name="lease", namespace="default", identity="me")
    elector = Elector(PlainApi(), election, fence, clock=clock, sleep=sleep)  # type: ignore[arg-type]
    elector.leases = leases  # type: ignore[assignment]
    elector._renewed(clock.now)
    try:
        await elector.keep()
    except Reached:
        still = True
    else:
        still = False
    return fence, leases, still


async def test_a_leader_keeps_its_lease_through_an_apiserver_outage_shorter_than_its_deadline() -> (
    None
):
    fence, leases, still = await keep_through(lambda now: 101 <= now < 107, until=130)
    assert still
    assert fence.is_open()
    assert leases.renewals > 5


async def test_a_leader_stops_quietly_when_the_apiserver_stays_down_past_its_deadline() -> None:
    fence, _, still = await keep_through(lambda now: now >= 101, until=130)
    assert not still
    assert not fence.is_open()
