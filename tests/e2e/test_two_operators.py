"""Two operators on the same namespaces: exactly one of them acts, and never twice.

Both run as real ``neon-operator run`` processes against the session's apiserver and emulator,
started at the same moment, as a node partition, a laptop run or ``replicas: 2`` would start
them.
"""

from __future__ import annotations

import collections
import datetime
import json
import signal
import time

import psycopg
import pytest

pytestmark = pytest.mark.e2e

APPS = 15


@pytest.fixture
def shared_namespace(make_namespace):
    """A namespace outside the session operator's ``t-*``, for this test's own operators."""
    return make_namespace("pair-")


def until(check, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"never {what}"
        time.sleep(0.2)


def running(operator) -> bool:
    """Leading with its watches started (it checked the NeonConfig's key: one GET /projects
    per tier), or standing by for the Lease."""
    if operator.leading():
        return operator.neon_calls("GET", "/projects") >= 2
    return "waiting to lead" in operator.log.read_text()


def projects_of(neon, namespace: str) -> list[dict]:
    """The Neon projects of the apps in ``namespace`` (named ``<namespace>-<app>``)."""
    prefix = f"{namespace}-"
    return [p for p in neon.projects("sponsored", search=prefix) if p["name"].startswith(prefix)]


def test_two_operators_started_at_once_create_exactly_one_project_per_app(
    neon, start_operator, apps_in, shared_namespace
) -> None:
    apps = apps_in(shared_namespace)
    first = start_operator([shared_namespace], "first.log")
    second = start_operator([shared_namespace], "second.log")
    first.wait_serving()
    second.wait_serving()
    until(lambda: running(first) and running(second), "both running")

    names = [f"app-{i}" for i in range(APPS)]
    for name in names:
        apps.create(name, {})
    statuses = {name: apps.wait_condition(name, "True")["status"] for name in names}

    projects = projects_of(neon, shared_namespace)
    per_app = collections.Counter(p["name"] for p in projects)
    twins = {name: count for name, count in per_app.items() if count > 1}
    assert not twins, f"{len(projects)} projects for {APPS} apps: {twins}"
    assert sorted(p["id"] for p in projects) == sorted(s["projectId"] for s in statuses.values())
    for name in names:
        created = [reason for _, reason in apps.events(name) if reason == "ProjectCreated"]
        assert created == ["ProjectCreated"], f"{name}: {created}"
        secret = apps.secret(f"{name}-neon")
        assert secret is not None
        assert secret["PGOPTIONS"] == f"endpoint={statuses[name]['endpointId']}"
        with psycopg.connect(secret["DATABASE_URL"], connect_timeout=60) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    posts = [op.neon_calls("POST", "/projects") for op in (first, second)]
    assert sorted(posts) == [0, APPS], f"POST /projects by each operator: {posts}"

    apps.delete_all(names)
    assert projects_of(neon, shared_namespace) == []
    assert first.popen.poll() is None
    assert second.popen.poll() is None


def test_two_leaders_by_mistake_still_create_one_project_per_app(
    neon, start_operator, apps_in, shared_namespace
) -> None:
    """Defence in depth: two operators given different Leases both lead and both reconcile
    every app; the creation claim (written at the resourceVersion read) lets one create."""
    apps = apps_in(shared_namespace)
    first = start_operator([shared_namespace], "first.log", args=("--leader-election-id", "a"))
    second = start_operator([shared_namespace], "second.log", args=("--leader-election-id", "b"))
    for operator in (first, second):
        operator.wait_serving()
        until(lambda op=operator: op.leading() and running(op), "leading")

    names = [f"both-{i}" for i in range(8)]
    for name in names:
        apps.create(name, {})
    statuses = {name: apps.wait_condition(name, "True")["status"] for name in names}

    projects = projects_of(neon, shared_namespace)
    assert sorted(p["id"] for p in projects) == sorted(s["projectId"] for s in statuses.values())
    posts = sum(op.neon_calls("POST", "/projects") for op in (first, second))
    assert posts == len(names)
    apps.delete_all(names)
    assert projects_of(neon, shared_namespace) == []


def identity_of(operator) -> str:
    """The operator's identity in the election, as its log announces it."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for line in operator.log.read_text().splitlines():
            if "waiting to lead: Lease" in line:
                return line.rsplit(" as ", 1)[1].strip()
        time.sleep(0.2)
    raise AssertionError(f"no identity in {operator.log}")


def writes_by(audit_log, identity: str, since: datetime.datetime) -> list[str]:
    """Writes the apiserver received from the process ``identity`` after ``since``."""
    found = []
    for line in audit_log.read_text().splitlines():
        event = json.loads(line)
        if not event.get("userAgent", "").startswith(f"neon-operator/{identity}"):
            continue
        received = datetime.datetime.fromisoformat(event["requestReceivedTimestamp"])
        if received > since:
            found.append(f"{event['verb']} {event['requestURI']} at {received}")
    return found


def neon_writes_logged(operator, since: datetime.datetime) -> list[str]:
    """Neon requests that may change something, as the operator's DEBUG log records them."""
    found = []
    for line in operator.log.read_text().splitlines():
        if " neon_operator.neon " not in line or " -> " not in line:
            continue
        stamp = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").astimezone()
        method = line.split(" neon_operator.neon ", 1)[1].split(" ", 1)[0]
        if stamp > since and method != "GET":
            found.append(line)
    return found


def test_a_leader_frozen_past_its_lease_writes_nothing_when_it_wakes_up(
    neon, start_operator, apps_in, shared_namespace, local_stack, fast_lease
) -> None:
    apps = apps_in(shared_namespace)
    stale = start_operator([shared_namespace], "stale.log", args=fast_lease)
    stale.wait_serving()
    until(lambda: stale.leading() and running(stale), "leading")
    successor = start_operator([shared_namespace], "successor.log", args=fast_lease)
    successor.wait_serving()
    until(lambda: running(successor), "standing by")
    assert not successor.leading()
    stale_identity = identity_of(stale)

    stale.popen.send_signal(signal.SIGSTOP)  # a frozen process, a partitioned node
    frozen = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=0.5)
    names = [f"late-{i}" for i in range(5)]
    for name in names:
        apps.create(name, {})
    statuses = {name: apps.wait_condition(name, "True")["status"] for name in names}
    assert successor.leading()

    stale.popen.send_signal(signal.SIGCONT)
    assert stale.popen.wait(timeout=30) == 1  # lost the Lease: exits to restart as a standby

    assert writes_by(local_stack.control_plane.audit_log, stale_identity, frozen) == []
    assert neon_writes_logged(stale, frozen) == []
    assert "lost the Lease" in stale.log.read_text()
    projects = projects_of(neon, shared_namespace)
    assert sorted(p["id"] for p in projects) == sorted(s["projectId"] for s in statuses.values())
    apps.delete_all(names)
