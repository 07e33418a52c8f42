"""Drift checks spend at most their share of a key's Neon budget, refilled over time."""

from __future__ import annotations

import pytest

from neon_operator.drift import DriftBudget

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_pays_for_ten_seconds_of_checks_then_refuses() -> None:
    clock = Clock()
    budget = DriftBudget(per_minute=120, clock=clock)  # 2 calls/s, 20 banked

    spent = sum(budget.try_spend(2) for _ in range(15))

    assert spent == 10
    assert not budget.try_spend(2)


def test_the_budget_refills_at_its_share_of_the_minute() -> None:
    clock = Clock()
    budget = DriftBudget(per_minute=120, clock=clock)
    while budget.try_spend(2):
        pass

    clock.now += 1.0
    assert budget.try_spend(2)
    assert not budget.try_spend(2)

    clock.now += 3600.0
    assert sum(budget.try_spend(2) for _ in range(100)) == 10


def test_even_a_tiny_budget_eventually_pays_for_one_check() -> None:
    clock = Clock()
    budget = DriftBudget(per_minute=1.0, clock=clock)
    while budget.try_spend(2):
        pass

    clock.now += 120.0
    assert budget.try_spend(2)


def test_the_default_share_keeps_thirty_thousand_hourly_checks_under_neons_limit() -> None:
    clock = Clock()
    budget = DriftBudget(per_minute=700 * 0.25, clock=clock)
    calls = 0
    for second in range(3600):
        clock.now = 1000.0 + second
        for _ in range(30_000 // 3600 + 1):  # the timers of 30,000 resources over an hour
            if budget.try_spend(2):
                calls += 2

    assert calls <= 700 * 0.25 * 60 + 2 * 30  # a quarter of Neon's 700/min, plus the bank
