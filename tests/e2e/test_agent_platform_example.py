"""``examples/agent-platform/platform_flow.py`` runs its whole flow against the local stack, as
a user would run it: a subprocess with the stack's kubeconfig, the session operator serving it."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import uuid

import pytest
from kubernetes import client
from kubernetes.client import ApiClient

from neon_operator.devstack import stack as devstack

from .conftest import Neon, OperatorProcess

pytestmark = pytest.mark.e2e

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "agent-platform"


def test_the_agent_platform_example_runs_its_flow_end_to_end(
    local_stack: devstack.Stack, operator: OperatorProcess, neon: Neon, kube_api: ApiClient
) -> None:
    user = uuid.uuid4().hex[:8]
    result = subprocess.run(
        [
            sys.executable,
            str(EXAMPLE / "platform_flow.py"),
            "--kubeconfig",
            str(local_stack.kubeconfig),
            "--namespace-prefix",
            "t-user-",  # the session operator serves t-*
            "--user",
            user,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    steps = [line.split(".", 1)[0] for line in result.stdout.splitlines() if line[:1].isdigit()]
    assert steps == [str(n) for n in range(1, 9)], result.stdout
    assert result.stdout.rstrip().endswith("done")
    organizations = local_stack.emulator.organizations if local_stack.emulator else {}
    assert f"organization {organizations['sponsored']} (tier free)" in result.stdout
    assert f"project now in organization {organizations['paid']}" in result.stdout
    # Nothing is left behind: no project named for the app in either organization.
    left = [p for tier in ("sponsored", "paid") for p in neon.projects(tier)]
    assert not [p for p in left if user in p.get("name", "")]
    namespaces = client.CoreV1Api(kube_api).list_namespace().items
    assert all(
        ns.metadata.name != f"t-user-{user}" or ns.status.phase == "Terminating"
        for ns in namespaces
    )
