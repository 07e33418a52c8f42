"""The drift scheduler: every resource once per interval, evenly spread, inside the budget share.

Driven by the ``virtual_time`` fixture: time moves only when the test advances it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from neon_operator.drift import CHECK_CALLS, DriftScheduler, Target

pytestmark = pytest.mark.unit


def targets(count: int, lane: str = "default") -> list[Target]:
    return [
        Target("NeonAppDatabase", "neonappdatabases", "team-a", f"app-{i}", f"uid-{lane}-{i}", lane)
        for i in range(count)
    ]


class Recorder:
    """A ``check`` that notes when each target was checked, and a lane budget."""

    def __init__(self, time_: Any, per_minute: dict[str, float | None] | None = None) -> None:
        self.time = time_
        self.per_minute = per_minute or {}
        self.checked: list[tuple[float, Target]] = []

    async def check(self, target: Target) -> None:
        self.checked.append((self.time.now, target))

    async def budget(self, lane: str) -> float | None:
        if self.per_minute.get(lane, 0) is None:
            raise LookupError(lane)  # an unusable NeonConfig
        return self.per_minute.get(lane)

    def times(self, lane: str | None = None) -> list[float]:
        return [at for at, target in self.checked if lane is None or target.lane == lane]


def scheduler(recorder: Recorder, *, interval: float, share: float = 0.25) -> DriftScheduler:
    return DriftScheduler(
        recorder.check,
        recorder.budget,
        interval=interval,
        share=share,
        clock=recorder.time.clock,
        sleep=recorder.time.sleep,
    )


async def test_every_resource_is_checked_once_per_interval_spread_evenly(virtual_time) -> None:
    recorder = Recorder(virtual_time)
    drift = scheduler(recorder, interval=100.0)
    start = virtual_time.now
    for target in targets(10):
        drift.enroll(target, due_in=0.0)  # all due at once, as after a restart

    await virtual_time.advance(199.0)
    await drift.close()

    times = [at - start for at in recorder.times()]
    assert times == pytest.approx([10.0 * i for i in range(20)])
    first, second = recorder.checked[:10], recorder.checked[10:]
    assert {t.uid for _, t in first} == {t.uid for _, t in second} == {t.uid for t in targets(10)}


async def test_checks_spend_at_most_their_share_of_the_budget(virtual_time) -> None:
    recorder = Recorder(virtual_time, {"default": 700.0})
    drift = scheduler(recorder, interval=3600.0, share=0.25)
    for target in targets(30_000):
        drift.enroll(target, due_in=0.0)

    await virtual_time.advance(600.0)
    await drift.close()

    calls = CHECK_CALLS * len(recorder.checked)
    assert calls <= 700 * 0.25 * 10 + CHECK_CALLS
    assert calls >= 700 * 0.25 * 10 * 0.95  # and the share is used, not wasted
    gaps = [b - a for a, b in zip(recorder.times(), recorder.times()[1:], strict=False)]
    assert min(gaps) == pytest.approx(CHECK_CALLS * 60 / (700 * 0.25))  # no burst


async def test_checks_with_neon_auth_and_the_data_api_pay_for_their_extra_calls(
    virtual_time,
) -> None:
    recorder = Recorder(virtual_time, {"default": 700.0})
    drift = scheduler(recorder, interval=3600.0, share=0.25)
    costly = [dataclasses.replace(t, calls=CHECK_CALLS + 3 + 1) for t in targets(30_000)]
    for target in costly:
        drift.enroll(target, due_in=0.0)

    await virtual_time.advance(600.0)
    await drift.close()

    calls = sum(target.calls for _, target in recorder.checked)
    assert calls <= 700 * 0.25 * 10 + 6
    assert calls >= 700 * 0.25 * 10 * 0.95
    gaps = [b - a for a, b in zip(recorder.times(), recorder.times()[1:], strict=False)]
    assert min(gaps) == pytest.approx(6 * 60 / (700 * 0.25))


async def test_resources_resumed_one_by_one_are_spread_over_the_lanes_size_now(
    virtual_time,
) -> None:
    # After a restart kopf resumes objects one at a time and the walk checks the first at once:
    # the wait before the next check follows the lane's size now, not its size (1) then, which
    # held every other check back one whole interval.
    recorder = Recorder(virtual_time)
    drift = scheduler(recorder, interval=100.0)
    start = virtual_time.now
    first, *others = targets(10)
    drift.enroll(first, due_in=0.0)
    await virtual_time.advance(0.0)
    for target in others:
        drift.enroll(target, due_in=0.0)

    await virtual_time.advance(95.0)
    await drift.close()

    assert [at - start for at in recorder.times()] == pytest.approx([10.0 * i for i in range(10)])


async def test_a_new_resource_is_first_checked_one_interval_later(virtual_time) -> None:
    recorder = Recorder(virtual_time)
    drift = scheduler(recorder, interval=50.0)
    start = virtual_time.now
    drift.enroll(targets(1)[0])

    await virtual_time.advance(49.0)
    assert recorder.checked == []
    await virtual_time.advance(2.0)
    await drift.close()
    assert [at - start for at in recorder.times()] == pytest.approx([50.0])


async def test_a_withdrawn_resource_is_checked_no_more(virtual_time) -> None:
    recorder = Recorder(virtual_time)
    drift = scheduler(recorder, interval=10.0)
    gone, kept = targets(2)
    drift.enroll(gone, due_in=0.0)
    drift.enroll(kept, due_in=0.0)
    await virtual_time.advance(1.0)

    drift.withdraw(gone.uid)
    await virtual_time.advance(30.0)
    await drift.close()

    after = [t.uid for at, t in recorder.checked if at > virtual_time.now - 30.0]
    assert after
    assert set(after) == {kept.uid}
    assert len(drift) == 1


async def test_each_neonconfig_has_its_own_lane_and_budget(virtual_time) -> None:
    recorder = Recorder(virtual_time, {"slow": 60.0, "fast": 6000.0})
    drift = scheduler(recorder, interval=60.0, share=0.5)
    for target in [*targets(100, "slow"), *targets(100, "fast")]:
        drift.enroll(target, due_in=0.0)

    await virtual_time.advance(60.0)
    await drift.close()

    assert len(recorder.times("slow")) <= 60 * 0.5 * 60 / 60 / CHECK_CALLS + 1  # 15 a minute
    assert len(recorder.times("fast")) >= 100  # not held up by the slow key's budget


async def test_moving_a_resource_to_another_neonconfig_moves_it_to_that_lane(
    virtual_time,
) -> None:
    recorder = Recorder(virtual_time)
    drift = scheduler(recorder, interval=10.0)
    target = targets(1, "first")[0]
    drift.enroll(target, due_in=0.0)
    await virtual_time.advance(1.0)

    moved = dataclasses.replace(target, lane="second")
    drift.enroll(moved, due_in=0.0)
    await virtual_time.advance(25.0)
    await drift.close()

    lanes = [t.lane for _, t in recorder.checked]
    assert lanes[0] == "first"
    assert set(lanes[1:]) == {"second"}
    assert len(drift) == 1


async def test_an_unusable_budget_paces_by_the_interval_alone(virtual_time) -> None:
    recorder = Recorder(virtual_time, {"broken": None})
    drift = scheduler(recorder, interval=10.0)
    for target in targets(5, "broken"):
        drift.enroll(target, due_in=0.0)

    await virtual_time.advance(9.5)
    await drift.close()

    assert len(recorder.checked) == 5


async def test_a_failing_check_does_not_stop_the_walk(virtual_time) -> None:
    checked: list[str] = []

    async def check(target: Target) -> None:
        checked.append(target.name)
        raise RuntimeError("boom")

    async def budget(lane: str) -> float | None:
        return None

    drift = DriftScheduler(
        check,
        budget,
        interval=10.0,
        share=0.25,
        clock=virtual_time.clock,
        sleep=virtual_time.sleep,
    )
    for target in targets(2):
        drift.enroll(target, due_in=0.0)
    await virtual_time.advance(25.0)
    await drift.close()
    await asyncio.sleep(0)

    assert len(checked) >= 4
    assert set(checked) == {"app-0", "app-1"}
