"""``--max-workers 1``: kopf processes one NeonAppDatabase at a time, the others wait as queued
events, and a burst still converges (nothing a reconcile waits for needs another worker of its
kind). Sampled while it runs: never more than one app between its first status write and
Ready."""

from __future__ import annotations

import time
import uuid

import pytest

from .conftest import ready

pytestmark = pytest.mark.e2e

APPS = 4


def test_one_worker_takes_a_burst_one_app_at_a_time(
    start_operator, apps_in, make_namespace
) -> None:
    prefix = f"workers-{uuid.uuid4().hex[:6]}-"  # outside the session's t-*
    namespace = make_namespace(prefix)
    operator = start_operator([prefix + "*"], f"{prefix}.log", args=("--max-workers", "1"))
    operator.wait_serving()
    apps = apps_in(namespace)
    names = [f"app-{index}" for index in range(APPS)]
    for name in names:
        apps.create(name, {})

    most_in_progress = 0
    deadline = time.monotonic() + 180
    while True:
        objects = [apps.get(name) or {} for name in names]
        done = [(r := ready(obj)) is not None and r["status"] == "True" for obj in objects]
        # A new app's status holds only the CRD's default (observedGeneration: 0).
        statuses = [obj.get("status") or {} for obj in objects]
        started = [bool(s.get("creationRequested") or s.get("conditions")) for s in statuses]
        in_progress = sum(s and not d for s, d in zip(started, done, strict=True))
        most_in_progress = max(most_in_progress, in_progress)
        if all(done):
            break
        assert time.monotonic() < deadline, f"Ready: {done}"
        time.sleep(0.05)

    assert most_in_progress == 1
    assert operator.neon_calls("POST", "/projects") == APPS
    apps.delete_all(names)
