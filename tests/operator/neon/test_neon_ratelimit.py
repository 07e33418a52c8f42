"""The client-side limiter, driven by a fake clock: budgets hold in every window, pauses stop
everyone, and the registry shares one limiter per key without ever holding the key."""

from __future__ import annotations

import bisect
from collections.abc import Callable

import pytest

from neon_operator.neon.ratelimit import LimiterRegistry, RateLimiter, RateLimits

pytestmark = pytest.mark.unit


class FakeTime:
    """A clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []
        self.on_sleep: Callable[[float], None] | None = None

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.on_sleep is not None:
            self.on_sleep(seconds)
        self.now += seconds


def busiest_window(times: list[float], window: float) -> int:
    """Most events in any closed interval ``[t, t + window)`` starting at an event."""
    ordered = sorted(times)
    return max(bisect.bisect_left(ordered, t + window - 1e-9) - i for i, t in enumerate(ordered))


async def send(limiter: RateLimiter, fake: FakeTime, routes: list[str]) -> list[float]:
    """Acquire a slot for each route in turn; returns when each request went out."""
    sent = []
    for route in routes:
        await limiter.acquire(route)
        sent.append(fake.now)
    return sent


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


async def test_one_route_never_exceeds_its_burst_per_second(fake: FakeTime) -> None:
    limiter = RateLimiter(RateLimits(), clock=fake.clock, sleep=fake.sleep)
    sent = await send(limiter, fake, ["GET /projects"] * 200)
    assert busiest_window(sent, 1.0) <= 40


async def test_the_key_never_exceeds_its_budget_per_minute(fake: FakeTime) -> None:
    limiter = RateLimiter(RateLimits(), clock=fake.clock, sleep=fake.sleep)
    routes = [f"GET /route/{i % 50}" for i in range(1500)]
    sent = await send(limiter, fake, routes)
    assert busiest_window(sent, 60.0) <= 700


async def test_a_quiet_key_sends_a_burst_without_waiting(fake: FakeTime) -> None:
    limiter = RateLimiter(RateLimits(), clock=fake.clock, sleep=fake.sleep)
    routes = [f"GET /route/{i % 4}" for i in range(40)]
    await send(limiter, fake, routes)
    assert fake.slept == []


async def test_steady_rate_fits_the_minute_budget_after_the_burst(fake: FakeTime) -> None:
    limiter = RateLimiter(RateLimits(per_minute=700, burst_per_second=40), clock=fake.clock)
    delays = [limiter.reserve(f"GET /r/{i}") for i in range(42)]
    assert delays[:40] == [0.0] * 40
    assert delays[40] == pytest.approx(1 / 11)
    assert delays[41] == pytest.approx(2 / 11)


def test_reservations_are_first_come_first_served(fake: FakeTime) -> None:
    limiter = RateLimiter(RateLimits(per_minute=0, burst_per_second=10), clock=fake.clock)
    delays = [limiter.reserve("POST /projects") for _ in range(30)]
    assert delays == sorted(delays)
    assert delays[:5] == [0.0] * 5


def test_zero_disables_a_limit(fake: FakeTime) -> None:
    limiter = RateLimiter(RateLimits(per_minute=0, burst_per_second=0), clock=fake.clock)
    assert {limiter.reserve("GET /projects") for _ in range(10_000)} == {0.0}


async def test_pause_holds_every_route_until_it_ends(fake: FakeTime) -> None:
    limiter = RateLimiter(RateLimits(), clock=fake.clock, sleep=fake.sleep)
    start = fake.now
    limiter.pause(5.0)
    assert limiter.paused_for == 5.0
    await limiter.acquire("GET /projects")
    await limiter.acquire("POST /projects/{project_id}/branches")
    assert fake.now - start >= 5.0


def test_traffic_resumes_at_steady_rate_without_a_burst_after_a_pause(fake: FakeTime) -> None:
    limiter = RateLimiter(RateLimits(per_minute=700, burst_per_second=40), clock=fake.clock)
    limiter.pause(2.0)
    delays = [limiter.reserve(f"GET /r/{i}") for i in range(3)]
    assert delays[0] == pytest.approx(2.0)
    assert delays[1] - delays[0] == pytest.approx(1 / 11)
    assert delays[2] - delays[1] == pytest.approx(1 / 11)


async def test_a_pause_during_a_wait_sends_the_waiter_behind_it(fake: FakeTime) -> None:
    limiter = RateLimiter(
        RateLimits(per_minute=0, burst_per_second=2), clock=fake.clock, sleep=fake.sleep
    )
    limiter.reserve("GET /projects")
    limiter.reserve("GET /projects")
    start = fake.now

    def pause_once(_: float) -> None:
        fake.on_sleep = None
        limiter.pause(10.0)

    fake.on_sleep = pause_once
    await limiter.acquire("GET /projects")
    assert fake.now - start >= 10.0
    assert len(fake.slept) == 2


def test_a_shorter_pause_does_not_cut_a_longer_one(fake: FakeTime) -> None:
    limiter = RateLimiter(RateLimits(), clock=fake.clock)
    limiter.pause(10.0)
    limiter.pause(1.0)
    assert limiter.paused_for == 10.0


def test_registry_shares_one_limiter_per_key_and_base_url() -> None:
    registry = LimiterRegistry()
    a = registry.get("https://neon/api/v2", "napi_secret_one")
    assert registry.get("https://neon/api/v2/", "napi_secret_one") is a
    assert registry.get("https://neon/api/v2", "napi_secret_two") is not a
    assert registry.get("http://emulator/api/v2", "napi_secret_one") is not a
    assert len(registry) == 3


def test_registry_adopts_a_changed_budget() -> None:
    registry = LimiterRegistry()
    limiter = registry.get("https://neon/api/v2", "k", RateLimits(per_minute=700))
    registry.get("https://neon/api/v2", "k", RateLimits(per_minute=100))
    assert limiter.limits.per_minute == 100


def test_the_key_is_not_in_the_limiter_name_or_repr() -> None:
    key = "napi_" + "s3cr3t" * 10
    limiter = LimiterRegistry().get("https://neon/api/v2", key)
    assert key not in repr(limiter)
    assert "s3cr3t" not in limiter.name
    assert len(limiter.name) == 12


def test_limits_reject_negative_budgets() -> None:
    with pytest.raises(ValueError, match="≥ 0"):
        RateLimits(per_minute=-1)
