"""Two shards: operators serving disjoint namespace patterns with one NeonConfig (one API key),
each spending half its budget. Each elects its own leader, provisions only its own apps, and
runs at half the key's requests per minute."""

from __future__ import annotations

import time
import uuid

import pytest

pytestmark = pytest.mark.e2e

APPS = 2


def budget(operator) -> list[float]:
    return [v for _, v in operator.samples("neon_operator_rate_limiter_budget_requests_per_minute")]


def test_two_shards_share_one_keys_budget_and_each_serves_only_its_namespaces(
    start_operator, apps_in, make_namespace
) -> None:
    token = uuid.uuid4().hex[:6]
    prefixes = [f"shard-{shard}-{token}-" for shard in "ab"]  # outside the session's t-*
    shard_namespaces = [make_namespace(prefix) for prefix in prefixes]
    shards = [
        start_operator([prefix + "*"], f"{prefix}.log", args=("--neon-budget-share", "0.5"))
        for prefix in prefixes
    ]
    for operator in shards:
        operator.wait_serving()
    deadline = time.monotonic() + 60
    while not all(op.leading() and budget(op) for op in shards):  # each its own Lease
        assert time.monotonic() < deadline, "a shard never led and checked its NeonConfig"
        time.sleep(0.5)

    for namespace in shard_namespaces:
        for index in range(APPS):
            apps_in(namespace).create(f"app-{index}", {})
    for namespace in shard_namespaces:
        for index in range(APPS):
            apps_in(namespace).wait_condition(f"app-{index}", "True")

    # The session NeonConfig allows 700 requests/minute; each shard spends 350 of them.
    assert [budget(op) for op in shards] == [[350.0], [350.0]]
    assert [op.neon_calls("POST", "/projects") for op in shards] == [APPS, APPS]
    for namespace in shard_namespaces:
        apps_in(namespace).delete_all(f"app-{index}" for index in range(APPS))
