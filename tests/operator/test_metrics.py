"""/metrics: the rate limiter's queue depth (a gauge read at scrape time) and wait time (a
histogram per priority), under Prometheus' naming rules."""

from __future__ import annotations

import asyncio
import re

import prometheus_client
import pytest

from neon_operator import metrics
from neon_operator.neon import ApiCall, CallLog, LimiterRegistry, Priority, RateLimits

pytestmark = pytest.mark.unit

ROUTE = "GET /projects/{project_id}"


async def test_queue_depth_counts_the_requests_waiting_for_the_limiter_by_priority() -> None:
    released = asyncio.Event()
    now = [0.0]

    async def held(seconds: float) -> None:  # time stands still until released
        await released.wait()
        now[0] += seconds

    limiters = LimiterRegistry(clock=lambda: now[0], sleep=held)
    limiter = limiters.get("https://neon.example", "key", RateLimits(0, burst_per_second=2))
    registry = prometheus_client.CollectorRegistry()
    registry.register(metrics.LimiterCollector(limiters))

    def depth(priority: str) -> float | None:
        return registry.get_sample_value(
            "neon_operator_rate_limiter_queue_depth", {"priority": priority}
        )

    assert (depth("work"), depth("drift")) == (0, 0)
    assert (
        registry.get_sample_value(
            "neon_operator_rate_limiter_budget_requests_per_minute", {"limiter": limiter.name}
        )
        == 0
    )
    await limiter.acquire(ROUTE, Priority.WORK)  # the burst's one slot: no wait
    waiting = [
        asyncio.create_task(limiter.acquire(ROUTE, priority))
        for priority in (Priority.WORK, Priority.WORK, Priority.DRIFT)
    ]
    await asyncio.sleep(0)

    assert (depth("work"), depth("drift")) == (2, 1)

    released.set()
    await asyncio.gather(*waiting)
    assert (depth("work"), depth("drift")) == (0, 0)


def test_wait_time_is_a_histogram_of_each_request_by_priority() -> None:
    calls = CallLog()
    metrics.observe_calls(calls)

    def sample(suffix: str) -> float:
        value = metrics.REGISTRY.get_sample_value(
            f"neon_operator_rate_limiter_wait_seconds_{suffix}", {"priority": "drift"}
        )
        return value or 0.0

    count, total = sample("count"), sample("sum")
    calls.record(ApiCall("GET", "/projects", 200, 0.01, 1, priority=Priority.DRIFT, waited=0.75))

    assert sample("count") == count + 1
    assert sample("sum") == pytest.approx(total + 0.75)
    assert (
        metrics.REGISTRY.get_sample_value(
            "neon_operator_rate_limiter_wait_seconds_bucket", {"priority": "drift", "le": "1.0"}
        )
        or 0
    ) >= 1


def test_every_metric_follows_prometheus_naming() -> None:
    families = list(metrics.REGISTRY.collect())
    names = {family.name: family.type for family in families}

    assert names["neon_operator_rate_limiter_queue_depth"] == "gauge"
    assert names["neon_operator_rate_limiter_wait_seconds"] == "histogram"
    for family in families:
        assert re.fullmatch(r"neon_operator_[a-z][a-z0-9_]*", family.name), family.name
        assert not family.name.endswith("_total"), family.name  # the exposition adds it
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples)
        if family.type == "histogram" or "duration" in family.name or "wait" in family.name:
            assert family.name.endswith("_seconds"), f"{family.name}: base unit in the name"
