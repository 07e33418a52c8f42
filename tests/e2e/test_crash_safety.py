"""Creation is idempotent across a crash between "Neon created the project" and "status written".

The operator runs with the test hook ``NEON_OPERATOR_TEST_CRASH_AFTER=create_project``: it
SIGKILLs itself right after ``POST /projects`` returned, before anything reaches Kubernetes.
A normal operator started afterwards must find that project (by the uid stamped on its default
branch) and never create a second one.
"""

from __future__ import annotations

import signal

import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture
def crash_namespace(make_namespace) -> str:
    """A namespace outside the session operator's ``t-*``, for this test's own operators."""
    return str(make_namespace("crash-"))


def killed_after_create(neon, start_operator, apps, fast_lease) -> dict:
    """Create app ``phoenix`` under an operator that SIGKILLs itself right after ``POST
    /projects``; the project it left behind (in the free tier's organization)."""
    name = f"{apps.namespace}-phoenix"
    crashing = start_operator(
        [apps.namespace],
        "crashing.log",
        {"NEON_OPERATOR_TEST_CRASH_AFTER": "create_project"},
        args=fast_lease,
    )
    apps.create("phoenix", {})
    assert crashing.popen.wait(timeout=120) == -signal.SIGKILL
    orphans = [p for p in neon.projects("sponsored", search=name) if p["name"] == name]
    assert len(orphans) == 1
    assert "projectId" not in (apps.get("phoenix") or {}).get("status", {})
    return orphans[0]


def test_operator_killed_right_after_create_leaves_exactly_one_project(
    neon, start_operator, apps_in, fast_lease, crash_namespace
) -> None:
    apps = apps_in(crash_namespace)
    name = f"{crash_namespace}-phoenix"
    orphan = killed_after_create(neon, start_operator, apps, fast_lease)

    # The killed operator never released its Lease: the next one leads once it expires.
    restarted = start_operator([crash_namespace], "restarted.log", args=fast_lease)
    status = apps.wait_condition("phoenix", "True")["status"]

    projects = [p for p in neon.projects("sponsored", search=name) if p["name"] == name]
    assert [p["id"] for p in projects] == [orphan["id"]] == [status["projectId"]]
    assert ("Normal", "ProjectRecovered") in apps.events("phoenix")
    assert apps.secret("phoenix-neon") is not None

    apps.delete("phoenix")
    apps.wait("phoenix", lambda obj: obj is None, "deleted")
    assert restarted.popen.poll() is None


def test_a_tier_changed_after_a_crash_finds_the_project_in_the_old_tier(
    neon, start_operator, apps_in, fast_lease, crash_namespace
) -> None:
    """Found while building the crash loop (#12): the project made before the crash sits in
    the free tier's organization; the tier changed to paid before the next operator looked."""
    apps = apps_in(crash_namespace)
    name = f"{crash_namespace}-phoenix"
    orphan = killed_after_create(neon, start_operator, apps, fast_lease)
    apps.patch("phoenix", {"spec": {"tier": "paid"}})

    start_operator([crash_namespace], "restarted.log", args=fast_lease)
    status = apps.wait_condition("phoenix", "True")["status"]

    assert status["tier"] == "paid"
    assert [p for p in neon.projects("sponsored", search=name) if p["name"] == name] == []
    projects = [p for p in neon.projects("paid", search=name) if p["name"] == name]
    assert [p["id"] for p in projects] == [orphan["id"]] == [status["projectId"]]
    assert ("Normal", "ProjectRecovered") in apps.events("phoenix")
    assert ("Normal", "ProjectTransferred") in apps.events("phoenix")
