"""Priorities in the limiter: new work always goes before drift checks, driven by virtual time.

Many callers wait at once here, so the clock is the ``virtual_time`` fixture: a sleeping caller
wakes when virtual time reaches its deadline, and time only moves when every caller is blocked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest

from neon_operator.neon.ratelimit import Priority, RateLimiter, RateLimits, prioritized

pytestmark = pytest.mark.unit

WORK, DRIFT = Priority.WORK, Priority.DRIFT
INTERVAL = 1.0  # seconds between requests on one route at RateLimits(burst_per_second=2)
ROUTE = "GET /projects/{project_id}"


@pytest.fixture
def time_(virtual_time: Any) -> Any:
    return virtual_time


def drained(time_: Any) -> RateLimiter:
    """A limiter of one request a second on :data:`ROUTE`, its burst spent: the next slot is
    now."""
    limiter = RateLimiter(
        RateLimits(per_minute=0, burst_per_second=2), clock=time_.clock, sleep=time_.sleep
    )
    limiter.pause(0.0)
    return limiter


def start(
    granted: list[str], name: str, coroutine: Coroutine[Any, Any, float]
) -> asyncio.Task[None]:
    async def note() -> None:
        await coroutine
        granted.append(name)

    return asyncio.create_task(note())


async def test_work_goes_before_drift_checks_that_came_earlier(time_: Any) -> None:
    limiter = drained(time_)
    granted: list[str] = []
    drifts = [start(granted, f"drift-{i}", limiter.acquire(ROUTE, DRIFT)) for i in range(4)]
    await time_.advance(INTERVAL / 10)
    work = start(granted, "work", limiter.acquire(ROUTE, WORK))

    await time_.run([*drifts, work])

    assert granted[:2] == ["drift-0", "work"]  # drift-0 had the free slot before work came
    assert sorted(granted[2:]) == ["drift-1", "drift-2", "drift-3"]
    assert limiter.stats[DRIFT].overtook == 0


async def test_a_drift_check_waits_while_any_work_waits(time_: Any) -> None:
    limiter = drained(time_)
    granted: list[str] = []
    tasks = []
    for i in range(10):
        tasks.append(start(granted, f"drift-{i}", limiter.acquire(ROUTE, DRIFT)))
        tasks.append(start(granted, f"work-{i}", limiter.acquire(ROUTE, WORK)))

    await time_.run(tasks)

    last_work = max(i for i, name in enumerate(granted) if name.startswith("work"))
    drift_before = [name for name in granted[:last_work] if name.startswith("drift")]
    assert drift_before == ["drift-0"]  # it found the slot free before any work had come
    assert limiter.stats[DRIFT].overtook == 0
    assert (limiter.stats[WORK].granted, limiter.stats[DRIFT].granted) == (10, 10)


async def test_drift_checks_alone_use_every_free_slot(time_: Any) -> None:
    limiter = drained(time_)
    granted: list[str] = []
    started = time_.now
    tasks = [start(granted, f"drift-{i}", limiter.acquire(ROUTE, DRIFT)) for i in range(5)]

    await time_.run(tasks)

    assert len(granted) == 5
    assert time_.now - started <= 5 * INTERVAL


async def test_a_pause_holds_drift_checks_too(time_: Any) -> None:
    limiter = drained(time_)
    granted: list[str] = []
    limiter.pause(30.0)
    started = time_.now
    task = start(granted, "drift", limiter.acquire(ROUTE, DRIFT))

    await time_.advance(29.0)
    assert granted == []
    await time_.run([task])
    assert time_.now - started >= 30.0


async def test_the_callers_context_sets_the_priority_of_its_requests(time_: Any) -> None:
    limiter = drained(time_)
    limiter.reserve(ROUTE)  # the next slot is a second away: callers must queue

    async def sweep() -> float:
        with prioritized(DRIFT):
            return await asyncio.create_task(limiter.acquire(ROUTE))

    task = asyncio.create_task(sweep())
    await time_.settle()
    assert (limiter.stats[DRIFT].waiting, limiter.stats[WORK].waiting) == (1, 0)
    await time_.run([task])
    assert limiter.stats[DRIFT].granted == 1
    assert limiter.stats[DRIFT].waited == pytest.approx(task.result())
    assert task.result() > 0


async def test_queue_depth_and_waits_are_counted_by_priority(time_: Any) -> None:
    limiter = drained(time_)
    tasks = [asyncio.create_task(limiter.acquire(ROUTE, WORK)) for _ in range(3)]
    tasks += [asyncio.create_task(limiter.acquire(ROUTE, DRIFT)) for _ in range(2)]
    await time_.settle()

    assert (limiter.stats[WORK].waiting, limiter.stats[DRIFT].waiting) == (2, 2)
    await time_.run(tasks)
    assert (limiter.stats[WORK].waiting, limiter.stats[DRIFT].waiting) == (0, 0)
    assert limiter.stats[WORK].waited == pytest.approx(0 + 1 + 2)
    assert limiter.stats[DRIFT].waited == pytest.approx(3 + 4)
