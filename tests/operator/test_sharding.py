"""Shards sharing an API key split its request budget: ``--neon-budget-share`` scales the
NeonConfig's ``spec.rateLimit`` for this process's rate limiter (and what is derived from it:
the drift share, creates in flight)."""

from __future__ import annotations

import argparse

import pytest

from neon_operator import capacity, cli
from neon_operator.accounts import budget_of
from neon_operator.models import NeonConfig

pytestmark = pytest.mark.unit


def config(per_minute: int = 700, burst: int = 40) -> NeonConfig:
    return NeonConfig.model_validate(
        {
            "apiVersion": "neon.operator.dev/v1alpha1",
            "kind": "NeonConfig",
            "metadata": {"name": "default"},
            "spec": {
                "apiKeySecretRef": {"namespace": "ops", "name": "neon", "key": "apiKey"},
                "organizations": {"free": "org-free"},
                "rateLimit": {"requestsPerMinute": per_minute, "burstPerSecond": burst},
            },
        }
    )


def test_shards_together_stay_inside_the_keys_budget() -> None:
    shards = 3
    parts = [budget_of(config(), 1 / shards) for _ in range(shards)]

    assert sum(p.per_minute for p in parts) <= 700
    assert sum(p.burst_per_second for p in parts) <= 40
    assert parts[0].per_minute == 233
    assert capacity.in_flight_for(parts[0]) == 15  # creates in flight follow the share


def test_the_whole_budget_by_default_and_never_less_than_one_request() -> None:
    whole = budget_of(config())
    assert (whole.per_minute, whole.burst_per_second) == (700, 40)
    tiny = budget_of(config(per_minute=10, burst=2), 0.01)
    assert (tiny.per_minute, tiny.burst_per_second) == (1, 1)


@pytest.mark.parametrize("share", ["0", "-0.5", "1.5", "many"])
def test_the_cli_refuses_a_share_outside_zero_to_one(share: str) -> None:
    with pytest.raises(SystemExit):
        cli._parser().parse_args(["run", "--neon-budget-share", share])


def test_the_cli_passes_a_share_on() -> None:
    args = cli._parser().parse_args(["run", "--neon-budget-share", "0.25", "-n", "team-a-*"])
    assert isinstance(args, argparse.Namespace)
    assert (args.neon_budget_share, args.namespace) == (0.25, ["team-a-*"])
