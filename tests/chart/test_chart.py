"""The Helm chart renders, validates its values, and its objects work on a real apiserver.

RBAC is checked the way a cluster would: the chart's roles are installed on the real apiserver and
SubjectAccessReviews ask what its ServiceAccount, and a tenant with the built-in ``edit`` role in
their own namespace, may do.
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client import ApiClient
from kubernetes.client.rest import ApiException

from neon_operator import admission, crds
from neon_operator.devstack import processes
from neon_operator.devstack import stack as devstack

from .conftest import CHART, Installed, operator_kubeconfig, template

pytestmark = pytest.mark.e2e


def kinds(documents: list[dict[str, Any]]) -> list[str]:
    return sorted(f"{d['kind']}/{d['metadata']['name']}" for d in documents)


def test_the_chart_lints_clean(helm: pathlib.Path) -> None:
    result = subprocess.run(
        [str(helm), "lint", "--strict", str(CHART)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_chart_ships_exactly_the_generated_crds() -> None:
    assert sorted(path.name for path in (CHART / "crds").glob("*.yaml")) == sorted(crds.render())


def test_a_bad_value_is_refused_naming_the_key(helm: pathlib.Path) -> None:
    result = subprocess.run(
        [str(helm), "template", "neon", str(CHART), "--set", "logLevel=loud"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "logLevel" in result.stderr


def test_the_charts_neonconfig_grants_every_namespace_unless_narrowed(
    helm: pathlib.Path,
) -> None:
    def neon_config(*values: str) -> dict[str, Any]:
        documents = template(helm, "neon-system", "neonConfig.create=true", *values)
        return next(d for d in documents if d["kind"] == "NeonConfig")

    assert neon_config()["spec"]["allowedNamespaces"] == ["*"]
    assert "namespaceSelector" not in neon_config()["spec"]
    narrowed = neon_config(
        "neonConfig.allowedNamespaces=null", "neonConfig.namespaceSelector.matchLabels.team=a"
    )
    assert "allowedNamespaces" not in narrowed["spec"]
    assert narrowed["spec"]["namespaceSelector"] == {"matchLabels": {"team": "a"}}
    result = subprocess.run(
        [
            str(helm),
            "template",
            "neon",
            str(CHART),
            "--set",
            "neonConfig.allowedNamespaces={Team_A}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "allowedNamespaces" in result.stderr


def test_watching_listed_namespaces_binds_the_tenant_role_only_there(helm: pathlib.Path) -> None:
    documents = template(helm, "neon-system", "watchNamespaces={team-a,team-b}")
    bindings = [
        d
        for d in documents
        if d["kind"] == "RoleBinding" and d["metadata"]["name"] == "neon-neon-operator-tenant"
    ]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["team-a", "team-b"]
    assert "ClusterRoleBinding/neon-neon-operator-tenant" not in kinds(documents)
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--namespace=team-a" in args
    assert "--namespace=team-b" in args


def test_two_replicas_share_one_leadership_lease_and_more_than_three_are_refused(
    helm: pathlib.Path,
) -> None:
    documents = template(helm, "neon-system", "replicaCount=2")
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 2
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--leader-election-namespace=neon-system" in args
    for refused in ("replicaCount=0", "replicaCount=4"):
        result = subprocess.run(
            [str(helm), "template", "neon", str(CHART), "--set", refused],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode != 0
        assert "replicaCount" in result.stderr


def test_the_chart_installs_the_operators_tier_admission_policy(helm: pathlib.Path) -> None:
    documents = template(helm, "neon-system")
    policies = [d for d in documents if d["kind"].startswith("ValidatingAdmissionPolicy")]

    def key(document: dict[str, Any]) -> tuple[str, str]:
        return document["kind"], document["metadata"]["name"]

    assert sorted(policies, key=key) == sorted(admission.manifests(), key=key)
    disabled = template(helm, "neon-system", "admissionPolicy.enabled=false")
    assert not [d for d in disabled if d["kind"].startswith("ValidatingAdmissionPolicy")]


def allowed(
    kube_api: ApiClient, user: str, verb: str, resource: str, namespace: str = "", group: str = ""
) -> bool:
    subresource = ""
    if "/" in resource:
        resource, subresource = resource.split("/", 1)
    attributes = {"verb": verb, "resource": resource, "group": group, "namespace": namespace}
    if subresource:
        attributes["subresource"] = subresource
    review = client.AuthorizationV1Api(kube_api).create_subject_access_review(
        {
            "spec": {
                "user": user,
                "groups": ["system:authenticated"],
                "resourceAttributes": attributes,
            }
        }
    )
    return bool(review.status.allowed)


def test_the_operator_account_may_do_its_job_and_no_more(
    kube_api: ApiClient, installed: Installed, namespace: str
) -> None:
    release_namespace, operator = installed.namespace, installed.user
    group = "neon.operator.dev"
    assert allowed(kube_api, operator, "watch", "neonappdatabases", "", group)
    assert allowed(kube_api, operator, "patch", "neonappdatabases/status", namespace, group)
    assert allowed(kube_api, operator, "create", "secrets", namespace)
    assert allowed(kube_api, operator, "get", "secrets", release_namespace)
    assert allowed(kube_api, operator, "create", "events", namespace)
    assert allowed(kube_api, operator, "watch", "neonconfigs", "", group)
    assert allowed(kube_api, operator, "update", "leases", release_namespace, "coordination.k8s.io")
    assert not allowed(kube_api, operator, "update", "leases", namespace, "coordination.k8s.io")
    assert not allowed(kube_api, operator, "create", "neonappdatabases", namespace, group)
    assert not allowed(kube_api, operator, "delete", "neonconfigs", "", group)
    assert not allowed(
        kube_api, operator, "create", "customresourcedefinitions", "", "apiextensions.k8s.io"
    )
    assert not allowed(kube_api, operator, "create", "pods", namespace)


def test_a_tenant_with_edit_manages_databases_but_never_sees_the_api_key(
    kube_api: ApiClient,
    installed: Installed,
    namespace: str,
    bind_edit: Callable[[str, dict[str, str]], None],
) -> None:
    release_namespace = installed.namespace
    bind_edit(
        namespace, {"kind": "User", "name": "tenant", "apiGroup": "rbac.authorization.k8s.io"}
    )
    group = "neon.operator.dev"

    def tenant_may(verb: str, resource: str, where: str = namespace, api_group: str = "") -> bool:
        return allowed(kube_api, "tenant", verb, resource, where, api_group)

    # Aggregation into `edit` is asynchronous (the clusterrole-aggregation controller).
    deadline = time.monotonic() + 30
    while not tenant_may("create", "neonappdatabases", api_group=group):
        assert time.monotonic() < deadline, "edit never gained neonappdatabases"
        time.sleep(0.2)
    assert tenant_may("delete", "neonappdatabases", api_group=group)
    assert not tenant_may("get", "neonconfigs", "", group)
    assert not tenant_may("get", "secrets", release_namespace)


def test_the_operator_runs_with_exactly_the_charts_permissions(
    kube_api: ApiClient,
    installed: Installed,
    local_stack: devstack.Stack,
    tmp_path: pathlib.Path,
    make_namespace: Callable[..., str],
) -> None:
    release_namespace, account = installed.namespace, installed.user
    core = client.CoreV1Api(kube_api)
    objects = client.CustomObjectsApi(kube_api)
    token = core.create_namespaced_service_account_token(
        account.rsplit(":", 1)[1], release_namespace, {"spec": {"expirationSeconds": 3600}}
    ).status.token
    kubeconfig = operator_kubeconfig(local_stack.kubeconfig, token, tmp_path / "kubeconfig")
    tenant = make_namespace("chart-tenant-")
    log = tmp_path / "operator.log"
    operator = processes.spawn(
        "operator",
        [
            sys.executable,
            "-m",
            "neon_operator.cli",
            "run",
            "--namespace",
            tenant,
            "--leader-election-namespace",  # as the chart's Deployment passes it
            release_namespace,
        ],
        log,
        env={"KUBECONFIG": str(kubeconfig)},
    )
    args = ("neon.operator.dev", "v1alpha1", tenant, "neonappdatabases")
    try:
        objects.create_namespaced_custom_object(
            *args,
            {
                "apiVersion": "neon.operator.dev/v1alpha1",
                "kind": "NeonAppDatabase",
                "metadata": {"name": "app"},
                "spec": {"configRef": {"name": f"chart-{release_namespace}"}},
            },
        )

        def ready() -> bool:
            body = objects.get_namespaced_custom_object(*args, "app")
            conditions = body.get("status", {}).get("conditions", [])
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

        processes.wait_until(operator, ready, timeout=120, what="serving a Ready resource")
        assert core.read_namespaced_secret("app-neon", tenant).data["DATABASE_URL"]

        objects.delete_namespaced_custom_object(*args, "app")

        def gone() -> bool:
            try:
                objects.get_namespaced_custom_object(*args, "app")
            except ApiException as error:
                return bool(error.status == 404)
            return False

        processes.wait_until(operator, gone, timeout=60, what="done deleting")
    finally:
        processes.stop(operator.pid, operator.popen)
    # The apiserver's refusal as the clients print it ("(403)", "... is forbidden: ..."), not any
    # "403": the Lease holder's identity is a UUID and a log line's milliseconds may read 403.
    refused = re.compile(r"\(403\)|forbidden", re.IGNORECASE)
    forbidden = [line for line in log.read_text().splitlines() if refused.search(line)]
    assert forbidden == []
