"""Creation is idempotent across a crash between "Neon created the project" and "status written".

The operator runs with the test hook ``NEON_OPERATOR_TEST_CRASH_AFTER=create_project``: it
SIGKILLs itself right after ``POST /projects`` returned, before anything reaches Kubernetes.
A normal operator started afterwards must find that project (by the uid stamped on its default
branch) and never create a second one.
"""

from __future__ import annotations

import signal
import uuid

import pytest
from kubernetes import client

pytestmark = pytest.mark.e2e


def test_operator_killed_right_after_create_leaves_exactly_one_project(
    kube_api, neon, start_operator, apps_in, fast_lease
) -> None:
    namespace = "crash-" + uuid.uuid4().hex[:8]
    core = client.CoreV1Api(kube_api)
    core.create_namespace({"metadata": {"name": namespace}})
    apps = apps_in(namespace)
    name = f"{namespace}-phoenix"
    try:
        crashing = start_operator(
            [namespace],
            "crashing.log",
            {"NEON_OPERATOR_TEST_CRASH_AFTER": "create_project"},
            args=fast_lease,
        )
        apps.create("phoenix", {})
        assert crashing.popen.wait(timeout=120) == -signal.SIGKILL
        orphans = [p for p in neon.projects("sponsored", search=name) if p["name"] == name]
        assert len(orphans) == 1
        assert "projectId" not in (apps.get("phoenix") or {}).get("status", {})

        # The killed operator never released its Lease: the next one leads once it expires.
        restarted = start_operator([namespace], "restarted.log", args=fast_lease)
        status = apps.wait_condition("phoenix", "True")["status"]

        projects = [p for p in neon.projects("sponsored", search=name) if p["name"] == name]
        assert [p["id"] for p in projects] == [orphans[0]["id"]] == [status["projectId"]]
        assert ("Normal", "ProjectRecovered") in apps.events("phoenix")
        assert apps.secret("phoenix-neon") is not None

        apps.delete("phoenix")
        apps.wait("phoenix", lambda obj: obj is None, "deleted")
        assert restarted.popen.poll() is None
    finally:
        core.delete_namespace(namespace)
