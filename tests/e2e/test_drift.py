"""What changes in Neon behind the operator's back is put back by the drift checks, which never
delay new work."""

from __future__ import annotations

import collections
import contextlib
import time
import uuid
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from .conftest import condition

pytestmark = pytest.mark.e2e


def test_an_out_of_band_compute_change_in_neon_is_reverted(
    kube_api, neon, start_operator, apps_in
) -> None:
    namespace = "drift-" + uuid.uuid4().hex[:8]
    core = client.CoreV1Api(kube_api)
    core.create_namespace({"metadata": {"name": namespace}})
    apps = apps_in(namespace)
    try:
        start_operator([namespace], "drift.log", args=("--neon-resync-interval", "1"))
        apps.create(
            "steady", {"compute": {"minCu": 0.25, "maxCu": 1, "suspendTimeoutSeconds": 300}}
        )
        status = apps.wait_condition("steady", "True")["status"]
        path = f"/projects/{status['projectId']}/endpoints/{status['endpointId']}"
        changed = neon.http.patch(
            path, json={"endpoint": {"autoscaling_limit_max_cu": 8, "suspend_timeout_seconds": -1}}
        )
        changed.raise_for_status()

        deadline = time.monotonic() + 60
        endpoint = neon.endpoint(status["projectId"], status["endpointId"])
        while (endpoint["autoscaling_limit_max_cu"], endpoint["suspend_timeout_seconds"]) != (
            1,
            300,
        ):
            assert time.monotonic() < deadline, f"drift never reverted: {endpoint}"
            time.sleep(0.5)
            endpoint = neon.endpoint(status["projectId"], status["endpointId"])

        apps.delete("steady")  # while its operator runs, so the finalizer is released
        apps.wait("steady", lambda obj: obj is None, "deleted")
    finally:
        core.delete_namespace(namespace)


SWEPT = 40


def limiter(operator: Any) -> dict[str, float]:
    """The rate limiter's accounting on ``/metrics``, by ``<measure>:<priority>``.

    A priority's histogram appears on ``/metrics`` only after its first request finished waiting,
    so a series not seen yet reads 0, as a Prometheus query would treat it.
    """
    found: dict[str, float] = collections.defaultdict(float)
    for measure in ("wait_seconds_sum", "wait_seconds_count", "queue_depth"):
        for labels, value in operator.samples(f"neon_operator_rate_limiter_{measure}"):
            found[f"{measure}:{labels['priority']}"] = value
    for labels, value in operator.samples("neon_operator_rate_limiter_overtaking_requests_total"):
        found[f"overtaking:{labels['priority']}"] = value
    return found


def test_a_create_during_a_drift_sweep_waits_behind_no_drift_check(
    kube_api, start_operator, apps_in
) -> None:
    namespace = "sweep-" + uuid.uuid4().hex[:8]
    core = client.CoreV1Api(kube_api)
    core.create_namespace({"metadata": {"name": namespace}})
    apps = apps_in(namespace)
    names = [f"swept-{i}" for i in range(SWEPT)]
    try:
        # Every resource due every second, and a share above the whole budget: drift checks
        # ask for more than the key may send, so the limiter always holds a backlog of them.
        operator = start_operator(
            [namespace],
            "sweep.log",
            args=("--neon-resync-interval", "1", "--neon-resync-share", "3"),
        )
        for name in names:
            apps.create(name, {})
        for name in names:
            apps.wait_condition(name, "True")
        deadline = time.monotonic() + 60
        while limiter(operator).get("queue_depth:drift", 0) == 0:
            assert time.monotonic() < deadline, "the sweep never queued in the limiter"
            time.sleep(0.1)
        before = limiter(operator)

        apps.create("newcomer", {})
        backlog = 0.0
        while (obj := apps.get("newcomer")) is None or not _ready(obj):
            backlog = max(backlog, limiter(operator).get("queue_depth:drift", 0))
            time.sleep(0.1)
        after = limiter(operator)

        def mean_wait(priority: str) -> float:
            waited = after[f"wait_seconds_sum:{priority}"] - before[f"wait_seconds_sum:{priority}"]
            count = (
                after[f"wait_seconds_count:{priority}"] - before[f"wait_seconds_count:{priority}"]
            )
            assert count > 0, f"no {priority} request during the create"
            return waited / count

        assert backlog > 0  # drift checks were queued while the create ran
        assert after["overtaking:drift"] == 0  # none went while a create's request waited
        assert mean_wait("work") < mean_wait("drift")
    finally:
        for name in [*names, "newcomer"]:
            with contextlib.suppress(ApiException):
                apps.delete(name)
        for name in [*names, "newcomer"]:
            apps.wait(name, lambda obj: obj is None, "deleted")
        core.delete_namespace(namespace)


def _ready(obj: dict[str, Any]) -> bool:
    found = condition(obj, "Ready")
    return found is not None and found["status"] == "True"
