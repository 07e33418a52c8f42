"""GitOps health from the tools' own evaluators, on our objects as the apiserver serves them.

Objects are driven into each state on the real apiserver with the session operator, recorded as
read back, and judged by kstatus (``sigs.k8s.io/cli-utils``, what Flux and ``kstatus``-based
waits use) and by Argo CD's Lua VM running the health checks we ship in
``deploy/argocd/argocd-cm.yaml``. The verdicts must match the table below.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from kubernetes import client, watch
from kubernetes.client import ApiClient

from neon_operator import argocd
from neon_operator.devstack import binaries

from .conftest import OperatorProcess

pytestmark = pytest.mark.e2e

ROOT = pathlib.Path(__file__).resolve().parents[2]
GROUP, VERSION = "neon.operator.dev", "v1alpha1"

# state: (kstatus, Argo CD)
EXPECTED = {
    "app not yet seen by the operator": ("InProgress", "Progressing"),
    "app provisioning": ("InProgress", "Progressing"),
    "app ready": ("Current", "Healthy"),
    "app paused": ("Current", "Suspended"),
    "app naming a missing NeonConfig (retried)": ("InProgress", "Degraded"),
    "app adopting a project that does not exist (needs a change)": ("Failed", "Degraded"),
    "app being deleted": ("Terminating", "Progressing"),
    "branch waiting for its app": ("InProgress", "Progressing"),
    "snapshot ready": ("Current", "Healthy"),
    "staged restore awaiting finalize": ("InProgress", "Suspended"),
    "suspended schedule": ("Current", "Suspended"),
    "schedule with an invalid cron (needs a change)": ("Failed", "Degraded"),
    "NeonConfig ready": ("Current", "Healthy"),
}


class Objects:
    def __init__(self, api: ApiClient, namespace: str) -> None:
        self.api = client.CustomObjectsApi(api)
        self.namespace = namespace

    def create(self, plural: str, kind: str, name: str, spec: dict[str, Any], **meta: Any) -> None:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": kind,
            "metadata": {"name": name, **meta},
            "spec": spec,
        }
        self.api.create_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, body)

    def get(self, plural: str, name: str) -> dict[str, Any]:
        return dict(
            self.api.get_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, name)
        )

    def wait(
        self, plural: str, name: str, check: Callable[[dict[str, Any]], bool], timeout: float = 90
    ) -> dict[str, Any]:
        return wait_for(lambda: self.get(plural, name), check, f"{plural}/{name}", timeout)


def wait_for(
    get: Callable[[], dict[str, Any]],
    check: Callable[[dict[str, Any]], bool],
    what: str,
    timeout: float = 90,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = get()
        if check(body):
            return body
        assert time.monotonic() < deadline, f"{what} never got there: {body}"
        time.sleep(0.2)


def condition(body: dict[str, Any], kind: str = "Ready") -> dict[str, Any]:
    found = [c for c in body.get("status", {}).get("conditions", []) if c["type"] == kind]
    return found[0] if found else {}


def reason(expected: str, kind: str = "Ready") -> Callable[[dict[str, Any]], bool]:
    def check(body: dict[str, Any]) -> bool:
        found = condition(body, kind)
        generation = body["metadata"]["generation"]
        return found.get("reason") == expected and found.get("observedGeneration") == generation

    return check


def kstatus(tool: pathlib.Path, objects: list[dict[str, Any]]) -> list[str]:
    result = subprocess.run(
        [str(tool)], input=json.dumps(objects), capture_output=True, text=True, check=True
    )
    return [verdict["status"] for verdict in json.loads(result.stdout)]


def argo(tool: pathlib.Path, objects: list[dict[str, Any]], tmp: pathlib.Path) -> list[str]:
    """Each object judged by the script argocd-cm.yaml holds for its kind."""
    shipped = yaml.safe_load((ROOT / argocd.CONFIG_MAP).read_text())["data"]
    verdicts = []
    for obj in objects:
        script = tmp / f"{obj['kind']}.lua"
        script.write_text(shipped[argocd.config_map_key(obj["kind"])])
        result = subprocess.run(
            [str(tool), str(script)],
            input=json.dumps([obj]),
            capture_output=True,
            text=True,
            check=True,
        )
        verdicts.append(json.loads(result.stdout)[0]["status"])
    return verdicts


def test_kstatus_and_argo_cd_judge_every_state_of_our_objects(
    kube_api: ApiClient,
    namespace: str,
    operator: OperatorProcess,
    tmp_path: pathlib.Path,
) -> None:
    tools = binaries.ensure_gitops_tools()
    core = client.CoreV1Api(kube_api)
    ours = Objects(kube_api, namespace)
    recorded: dict[str, dict[str, Any]] = {}

    # Outside the operator's namespaces: what the apiserver serves before the operator acts,
    # and an object held in deletion by a finalizer.
    unwatched = "gitops-" + uuid.uuid4().hex[:6]
    core.create_namespace({"metadata": {"name": unwatched}})
    try:
        quiet = Objects(kube_api, unwatched)
        quiet.create("neonappdatabases", "NeonAppDatabase", "unseen", {})
        recorded["app not yet seen by the operator"] = quiet.get("neonappdatabases", "unseen")
        quiet.create("neonappdatabases", "NeonAppDatabase", "held", {}, finalizers=["test/hold"])
        quiet.api.delete_namespaced_custom_object(
            GROUP, VERSION, unwatched, "neonappdatabases", "held"
        )
        recorded["app being deleted"] = quiet.get("neonappdatabases", "held")
        quiet.api.patch_namespaced_custom_object(
            GROUP, VERSION, unwatched, "neonappdatabases", "held", {"metadata": {"finalizers": []}}
        )
    finally:
        core.delete_namespace(unwatched)

    # The app's versions as a watch sees them, from creation to Ready: one says Provisioning.
    stream = watch.Watch()
    versions: list[dict[str, Any]] = []
    ours.create("neonappdatabases", "NeonAppDatabase", "app", {})
    for event in stream.stream(
        ours.api.list_namespaced_custom_object,
        GROUP,
        VERSION,
        namespace,
        "neonappdatabases",
        field_selector="metadata.name=app",
        timeout_seconds=90,
    ):
        versions.append(event["object"])
        if condition(event["object"]).get("status") == "True":
            stream.stop()
    provisioning = [v for v in versions if condition(v).get("reason") == "Provisioning"]
    assert provisioning, [condition(v) for v in versions]
    recorded["app provisioning"] = provisioning[-1]
    recorded["app ready"] = versions[-1]

    ours.create("neonsnapshots", "NeonSnapshot", "checkpoint", {"appDatabaseRef": {"name": "app"}})
    recorded["snapshot ready"] = ours.wait("neonsnapshots", "checkpoint", reason("SnapshotReady"))
    ours.create(
        "neonrestores",
        "NeonRestore",
        "staged",
        {"snapshotRef": {"name": "checkpoint"}, "mode": "Staged"},
    )
    recorded["staged restore awaiting finalize"] = ours.wait(
        "neonrestores", "staged", reason("AwaitingFinalize"), timeout=120
    )
    ours.create(
        "neonsnapshotschedules",
        "NeonSnapshotSchedule",
        "off",
        {"appDatabaseRef": {"name": "app"}, "schedule": "0 * * * *", "keep": 3, "suspend": True},
    )
    recorded["suspended schedule"] = ours.wait("neonsnapshotschedules", "off", reason("Suspended"))
    ours.create(
        "neonsnapshotschedules",
        "NeonSnapshotSchedule",
        "bad-cron",
        {"appDatabaseRef": {"name": "app"}, "schedule": "0 0 31 2 *", "keep": 3},
    )
    recorded["schedule with an invalid cron (needs a change)"] = ours.wait(
        "neonsnapshotschedules", "bad-cron", reason("InvalidSchedule")
    )

    ours.create("neonbranches", "NeonBranch", "orphan", {"appDatabaseRef": {"name": "nowhere"}})
    recorded["branch waiting for its app"] = ours.wait(
        "neonbranches", "orphan", reason("ParentNotFound")
    )
    ours.create(
        "neonappdatabases", "NeonAppDatabase", "no-config", {"configRef": {"name": "absent"}}
    )
    recorded["app naming a missing NeonConfig (retried)"] = ours.wait(
        "neonappdatabases", "no-config", lambda body: condition(body).get("status") == "False"
    )
    ours.create(
        "neonappdatabases",
        "NeonAppDatabase",
        "adopt-ghost",
        {"adoptProjectId": "ghost-project-123456"},
    )
    recorded["app adopting a project that does not exist (needs a change)"] = ours.wait(
        "neonappdatabases", "adopt-ghost", reason("AdoptedProjectNotFound")
    )
    ours.api.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        "neonappdatabases",
        "app",
        {"metadata": {"annotations": {"neon.operator.dev/paused": "true"}}},
    )
    recorded["app paused"] = ours.wait("neonappdatabases", "app", reason("Paused", "Synced"))
    # The session's NeonConfig: early in a session the operator may not have written its status.
    recorded["NeonConfig ready"] = wait_for(
        lambda: dict(
            client.CustomObjectsApi(kube_api).get_cluster_custom_object(
                GROUP, VERSION, "neonconfigs", "default"
            )
        ),
        lambda body: (
            condition(body).get("status") == "True"
            and condition(body).get("observedGeneration") == body["metadata"]["generation"]
        ),
        "neonconfigs/default",
    )

    states = list(EXPECTED)
    objects = [recorded[state] for state in states]
    (tmp_path / "recorded.json").write_text(json.dumps(recorded, indent=2))
    health = zip(
        kstatus(tools.kstatus, objects),
        argo(tools.argocd_health, objects, tmp_path),
        strict=True,
    )
    verdicts = dict(zip(states, health, strict=True))
    assert verdicts == EXPECTED
