"""Every part restarts mid-flow, and everything converges without a hot loop (#12).

A stack of this module's own (etcd, kube-apiserver, the emulator; no controller-manager: nothing
here is garbage collected) so that stopping its parts disturbs no other test. Each test starts
an operator, puts resources in flight, takes one part down for :data:`OUTAGE` seconds, counts
what the operator sent meanwhile, brings the part back and waits for every resource to be Ready
with exactly one Neon project.

What is counted, and from where:

* Neon requests while the apiserver is down: the emulator's own request log (it stays up).
* Neon request *attempts* while the emulator is down: the operator's metrics (status ``none``,
  no response), since a server that is down cannot count them.
* Apiserver writes: the apiserver's audit log, by user agent (the operator's own client and
  kopf's both carry ``neon-operator/<identity>``), which counts kopf's annotation patches and
  Events too, unlike the operator's own request metrics. Lease renewals are left out: they are
  the election's fixed heartbeat, not work.

The bounds are counts over the outage, generous enough for a loaded machine and far below what
a loop without backoff sends (a retry a second is ~60 attempts and ~60-180 writes per resource
per outage): Neon attempts do not grow with the resources in flight (one request probes Neon
while it is down, the others are not sent), and each resource costs a few writes per outage
(its retries back off, 10 s doubling to 60 s).
"""

from __future__ import annotations

import datetime
import json
import pathlib
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from neon_operator.devstack import stack as devstack

from .conftest import Apps, Neon, OperatorProcess

pytestmark = pytest.mark.e2e

OUTAGE = 15.0
"""Seconds each part stays down."""
APPS = 4
PROBES = 12
"""Neon attempts one outage of :data:`OUTAGE` may cost beyond one per resource in flight: the
first caller's retries (6) and a probe after each doubling cool-down (1, 2, 4, 8 s)."""
WRITES_PER_RESOURCE = 12
"""Apiserver writes one resource may cost during an outage of :data:`OUTAGE` seconds (measured:
3 to 7): a new object's finalizer and first status, then per retry (at 0, 10 and 30 s) kopf's
progress annotations (2) and the status when it changed. A retry a second would cost 30-45."""
LONG_LEASE = (
    "--leader-election-lease-duration",
    "60",
    "--leader-election-renew-deadline",
    "45",
)
"""An operator that keeps its Lease through an apiserver outage of :data:`OUTAGE` seconds, so
the apiserver test sees its watches reconnect (a shorter renew deadline makes it exit, by
design, and its Deployment restart it)."""


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[devstack.Stack]:
    started = time.monotonic()
    running = devstack.up(tmp_path_factory.mktemp("restarts"), controller_manager=False)
    print(f"own stack up in {time.monotonic() - started:.1f}s")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def own_api(own_stack: devstack.Stack) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(config_file=str(own_stack.kubeconfig))
    try:
        yield api
    finally:
        api.close()


@pytest.fixture
def apps(own_api: client.ApiClient) -> Apps:
    name = "r-" + uuid.uuid4().hex[:8]
    client.CoreV1Api(own_api).create_namespace({"metadata": {"name": name}})
    apps = Apps(own_api, name)
    # After an outage a resource's next retry may be a minute away (its backoff's cap).
    apps.TIMEOUT = 180.0
    return apps


@pytest.fixture
def own_neon(own_stack: devstack.Stack) -> Iterator[Neon]:
    assert own_stack.emulator is not None
    api = Neon(own_stack.emulator)
    try:
        yield api
    finally:
        api.http.close()


@pytest.fixture
def operators(own_stack: devstack.Stack, tmp_path: pathlib.Path) -> Iterator[Any]:
    started: list[OperatorProcess] = []

    def start(namespace: str, log: str, args: tuple[str, ...] = ()) -> OperatorProcess:
        process = OperatorProcess(own_stack.kubeconfig, tmp_path / log, [namespace], args=args)
        started.append(process)
        process.wait_serving()
        return process

    yield start
    for process in started:
        process.stop()


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def operator_writes(
    audit_log: pathlib.Path, since: datetime.datetime, until: datetime.datetime
) -> Counter[str]:
    """Writes the apiserver received from any operator between ``since`` and ``until``, by
    ``verb resource[/subresource]``; Lease renewals left out."""
    found: Counter[str] = Counter()
    for line in audit_log.read_text().splitlines():
        event = json.loads(line)
        if not event.get("userAgent", "").startswith("neon-operator/"):
            continue
        received = datetime.datetime.fromisoformat(event["requestReceivedTimestamp"])
        ref = event.get("objectRef", {})
        if not since <= received <= until or ref.get("resource") == "leases":
            continue
        resource = ref.get("resource", "?") + (
            f"/{ref['subresource']}" if ref.get("subresource") else ""
        )
        found[f"{event['verb']} {resource}"] += 1
    return found


def unanswered(operator: OperatorProcess) -> Counter[str]:
    """Neon requests the operator sent that got no response, by ``METHOD route``."""
    found: Counter[str] = Counter()
    for labels, value in operator.samples("neon_operator_neon_api_requests_total"):
        if labels.get("status") == "none":
            found[f"{labels['method']} {labels['route']}"] += int(value)
    return found


def per_minute(count: float, seconds: float) -> float:
    return count * 60.0 / seconds


def in_flight(apps: Apps, names: list[str]) -> None:
    """Wait until the first of ``names`` has its project (the others are on their way)."""
    apps.wait(names[0], lambda obj: bool(obj and obj.get("status", {}).get("projectId")), "made")


def converged(apps: Apps, neon: Neon, names: list[str]) -> None:
    """Every app Ready with exactly one project of its name, the one its status names."""
    for name in names:
        status = apps.wait_condition(name, "True")["status"]
        project_name = f"{apps.namespace}-{name}"
        twins = [
            p["id"]
            for p in neon.projects("sponsored", search=project_name)
            if p["name"] == project_name
        ]
        assert twins == [status["projectId"]], f"{name}: projects {twins}"
        assert apps.secret(f"{name}-neon") is not None


def admits_apps(apps: Apps, timeout: float = 180.0) -> None:
    """Wait until the apiserver admits a NeonAppDatabase (a server-side dry run)."""
    deadline = time.monotonic() + timeout
    body = {
        "apiVersion": "neon.operator.dev/v1alpha1",
        "kind": "NeonAppDatabase",
        "metadata": {"name": "admission-probe"},
        "spec": {},
    }
    while True:
        try:
            apps.objects.create_namespaced_custom_object(
                "neon.operator.dev",
                "v1alpha1",
                apps.namespace,
                "neonappdatabases",
                body,
                dry_run="All",
            )
            return
        except ApiException as error:
            if "failed to configure policy" not in str(error.body):
                raise
            if time.monotonic() > deadline:
                raise AssertionError(f"admission still failing: {error.body}") from None
            time.sleep(1.0)


def test_apiserver_and_etcd_restart_mid_flow(own_stack, apps, own_neon, operators) -> None:
    operator = operators(apps.namespace, "operator.log", LONG_LEASE)
    names = [f"app-{i}" for i in range(APPS)]
    for name in names:
        apps.create(name, {})
    in_flight(apps, names)

    own_stack.control_plane.stop_storage_and_apiserver()
    down_at = time.monotonic()
    before, _ = own_neon.requests_after(0)
    time.sleep(OUTAGE)
    _, sent = own_neon.requests_after(before)
    outage = time.monotonic() - down_at
    own_stack.control_plane.start_storage_and_apiserver()
    back = time.monotonic()

    converged(apps, own_neon, names)
    by_route = Counter(f"{r['method']} {r['route']}" for r in sent)
    print(
        f"apiserver down {outage:.1f}s: {per_minute(len(sent), outage):.1f} Neon calls/min "
        f"{dict(by_route)}; converged {time.monotonic() - back:.1f}s after"
    )
    # The same process converged: it kept its Lease and its watches came back.
    assert operator.popen.poll() is None, f"the operator exited; see {operator.log}"
    # The apiserver converges too: its admission policies resolve their NeonConfig params
    # again (right after a restart they deny every NeonAppDatabase for a while).
    admitting = time.monotonic()
    admits_apps(apps)
    print(
        f"admission policies working again {time.monotonic() - back:.1f}s after the restart "
        f"(waited {time.monotonic() - admitting:.1f}s)"
    )
    # What it could not record it did not do: no creates while status could not be written,
    # and no loop of reads either (at most one step per resource was already on its way).
    assert by_route["POST /projects"] <= 1
    assert len(sent) <= APPS, dict(by_route)


def test_emulator_restart_mid_flow_keeps_state(own_stack, apps, own_neon, operators) -> None:
    operator = operators(apps.namespace, "operator.log")
    names = [f"app-{i}" for i in range(APPS)]
    for name in names:
        apps.create(name, {})
    in_flight(apps, names)

    own_stack.stop_emulator()
    down_at, since, before = time.monotonic(), now(), unanswered(operator)
    time.sleep(OUTAGE)
    attempts = unanswered(operator) - before
    outage = time.monotonic() - down_at
    writes = operator_writes(own_stack.control_plane.audit_log, since, now())
    own_stack.start_emulator()
    back = time.monotonic()

    converged(apps, own_neon, names)
    print(
        f"emulator down {outage:.1f}s: {per_minute(attempts.total(), outage):.1f} Neon "
        f"attempts/min {dict(attempts)}; {per_minute(writes.total(), outage):.1f} apiserver "
        f"writes/min {dict(writes)}; converged {time.monotonic() - back:.1f}s after"
    )
    assert attempts.total() <= APPS + PROBES, dict(attempts)
    assert writes.total() <= APPS * WRITES_PER_RESOURCE, dict(writes)


def test_operator_restart_while_emulator_is_down(own_stack, apps, own_neon, operators) -> None:
    first = operators(apps.namespace, "first.log")
    ready = ["ready-0", "ready-1"]
    for name in ready:
        apps.create(name, {})
    converged(apps, own_neon, ready)
    first.stop()

    own_stack.stop_emulator()
    waiting = [f"new-{i}" for i in range(APPS)]
    for name in waiting:
        apps.create(name, {})
    apps.patch("ready-0", {"spec": {"compute": {"maxCu": 2}}})
    second = operators(apps.namespace, "second.log")
    started, since = time.monotonic(), now()
    time.sleep(OUTAGE)
    attempts = unanswered(second)
    outage = time.monotonic() - started
    writes = operator_writes(own_stack.control_plane.audit_log, since, now())
    assert second.popen.poll() is None, f"the operator exited; see {second.log}"
    own_stack.start_emulator()
    back = time.monotonic()

    converged(apps, own_neon, ready + waiting)
    endpoint = own_neon.endpoint(
        apps.get("ready-0")["status"]["projectId"], apps.get("ready-0")["status"]["endpointId"]
    )
    assert endpoint["autoscaling_limit_max_cu"] == 2
    print(
        f"operator up without Neon {outage:.1f}s: {per_minute(attempts.total(), outage):.1f} "
        f"Neon attempts/min {dict(attempts)}; {per_minute(writes.total(), outage):.1f} "
        f"apiserver writes/min {dict(writes)}; converged {time.monotonic() - back:.1f}s after"
    )
    in_flight_count = len(waiting) + 2  # the patched app and the NeonConfig
    assert attempts.total() <= in_flight_count + PROBES, dict(attempts)
    assert writes.total() <= in_flight_count * WRITES_PER_RESOURCE, dict(writes)
