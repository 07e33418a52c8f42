"""A restart costs Neon nothing: resources whose status is complete and observed are not re-read.

Each test runs its own operator on a namespace of its own, stops it, changes (or does not change)
things while it is down, and starts another one. Resuming a resource whose status is complete and
whose ``observedGeneration`` equals its generation makes no Neon call; its Secret is checked from
the operator's shared watch of its Secrets, not one GET per object. Whatever changed while the
operator was down is still reconciled.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from .conftest import Kind

pytestmark = pytest.mark.e2e

APPS = 10


@pytest.fixture
def own_namespace(make_namespace: Callable[..., str]) -> str:
    """A namespace outside the session operator's ``t-*``."""
    return make_namespace("restart-")


def resumed(operator: Any, count: int, timeout: float = 60.0) -> None:
    """Wait until ``operator`` has resumed ``count`` objects."""
    deadline = time.monotonic() + timeout
    while operator.reconciles("resume") < count:
        assert time.monotonic() < deadline, f"only {operator.reconciles('resume')} resumed"
        time.sleep(0.25)


def tiers(apps: Any) -> int:
    config = apps.objects.get_cluster_custom_object(
        "neon.operator.dev", "v1alpha1", "neonconfigs", "default"
    )
    return len(config["spec"]["organizations"])


def test_a_restart_with_complete_resources_makes_no_neon_call(
    own_namespace, neon, start_operator, apps_in
) -> None:
    apps = apps_in(own_namespace)
    branches = Kind(apps, "NeonBranch", "neonbranches")
    snapshots = Kind(apps, "NeonSnapshot", "neonsnapshots")
    start, _ = neon.requests_after(0)
    first = start_operator([own_namespace], "first.log")
    names = [f"app-{i}" for i in range(APPS)]
    for name in names:
        apps.create(name, {})
    projects = [apps.wait_condition(name, "True")["status"]["projectId"] for name in names]
    branches.create("dev", {"appDatabaseRef": {"name": "app-0"}})
    snapshots.create("checkpoint", {"appDatabaseRef": {"name": "app-0"}})
    branches.wait_condition("dev", "True")
    snapshots.wait_condition("checkpoint", "True")
    first.stop()

    # The emulator's log names each project in the requests that created it (its operations).
    before, creating = neon.requests_after(start)
    assert all(any(p in r["path"] for r in creating) for p in projects)

    second = start_operator([own_namespace], "second.log")
    second.wait_serving()
    resumed(second, APPS + 2)
    time.sleep(3.0)  # three of its resync intervals

    # The NeonConfig's key check (one call per tier) is all; no resource costs a call.
    assert second.neon_calls_by_route() == {"GET /projects": tiers(apps)}
    # The emulator agrees: no request from any client touched these projects.
    _, answered = neon.requests_after(before)
    assert [r["path"] for r in answered if any(p in r["path"] for p in projects)] == []
    # Connection Secrets come from one watch (one list), not a GET each; the one GET is the key.
    assert second.kubernetes_requests("list", "secrets") == 1
    assert second.kubernetes_requests("get", "secrets") <= 1
    assert second.kubernetes_requests("patch", "neonappdatabases/status") == 0
    apps.delete_all(names)


def test_what_changed_while_the_operator_was_down_is_reconciled_on_restart(
    own_namespace, neon, start_operator, apps_in
) -> None:
    apps = apps_in(own_namespace)
    first = start_operator([own_namespace], "first.log")
    apps.create("resized", {"compute": {"maxCu": 1}})
    apps.create("robbed", {})
    resized = apps.wait_condition("resized", "True")["status"]
    apps.wait_condition("robbed", "True")
    secret = apps.secret("robbed-neon")
    first.stop()

    apps.patch("resized", {"spec": {"compute": {"maxCu": 2}}})
    apps.core.delete_namespaced_secret("robbed-neon", apps.namespace)
    start_operator([own_namespace], "second.log")

    apps.wait_condition("resized", "True")
    endpoint = neon.endpoint(resized["projectId"], resized["endpointId"])
    assert endpoint["autoscaling_limit_max_cu"] == 2
    deadline = time.monotonic() + 60
    while apps.secret("robbed-neon") != secret:
        assert time.monotonic() < deadline, "the Secret deleted while the operator was down"
        time.sleep(0.25)
    apps.delete_all(["resized", "robbed"])


def test_resumed_resources_still_get_their_drift_checks(
    own_namespace, start_operator, apps_in
) -> None:
    apps = apps_in(own_namespace)
    first = start_operator([own_namespace], "first.log")
    names = [f"app-{i}" for i in range(3)]
    for name in names:
        apps.create(name, {})
    for name in names:
        apps.wait_condition(name, "True")
    first.stop()

    second = start_operator([own_namespace], "second.log", args=("--neon-resync-interval", "2"))
    second.wait_serving()
    resumed(second, len(names))
    deadline = time.monotonic() + 60
    while second.reconciles("drift") < len(names):
        assert time.monotonic() < deadline, f"{second.reconciles('drift')} drift checks"
        time.sleep(0.25)
    assert second.neon_calls("GET", "/projects/{project_id}") >= len(names)
    drift_requests = sum(
        value
        for labels, value in second.samples("neon_operator_rate_limiter_wait_seconds_count")
        if labels.get("priority") == "drift"
    )
    assert drift_requests >= len(names)
    apps.delete_all(names)
