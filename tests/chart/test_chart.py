"""The Helm chart renders, validates its values, and its objects work on a real apiserver.

RBAC is checked the way a cluster would: the chart's roles are installed on the real apiserver and
SubjectAccessReviews ask what its ServiceAccount, and a tenant with the built-in ``edit`` role in
their own namespace, may do.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client, utils
from kubernetes.client import ApiClient
from kubernetes.client.rest import ApiException

from neon_operator import admission, crds
from neon_operator.devstack import binaries, processes
from neon_operator.devstack import stack as devstack

pytestmark = pytest.mark.e2e

CHART = pathlib.Path(__file__).resolve().parents[2] / "helm" / "neon-operator"


@pytest.fixture(scope="module")
def helm() -> pathlib.Path:
    return binaries.ensure_helm()


def template(helm: pathlib.Path, namespace: str, *values: str) -> list[dict[str, Any]]:
    flags = [f"--set={value}" for value in values]
    rendered = subprocess.run(
        [str(helm), "template", "neon", str(CHART), "--namespace", namespace, *flags],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [document for document in yaml.safe_load_all(rendered) if document]


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


@pytest.fixture
def installed(
    helm: pathlib.Path, kube_api: ApiClient, local_stack: devstack.Stack
) -> Iterator[tuple[str, str]]:
    """The chart applied to the session's apiserver, its NeonConfig pointing at the session's
    emulator with the key in the release namespace: (release namespace, operator account)."""
    emulator = local_stack.emulator
    assert emulator is not None
    namespace = "neon-system-" + uuid.uuid4().hex[:6]
    core = client.CoreV1Api(kube_api)
    core.create_namespace({"metadata": {"name": namespace}})
    core.create_namespaced_secret(
        namespace,
        {"metadata": {"name": "neon-api-key"}, "stringData": {"apiKey": emulator.api_key()}},
    )
    documents = template(
        helm,
        namespace,
        "neonConfig.create=true",
        f"neonConfig.name=chart-{namespace}",
        f"neonConfig.apiUrl={emulator.api_url}",
        f"neonConfig.organizations.free={emulator.organizations['sponsored']}",
        "admissionPolicy.enabled=false",  # the session stack installed the same policy
        f"nameOverride={namespace}",
    )
    # Cluster-scoped objects get per-test names so tests can run against one apiserver.
    for document in documents:
        if document["kind"] in {"ClusterRole", "ClusterRoleBinding"}:
            document["metadata"]["name"] += "-" + namespace
            if "roleRef" in document:
                document["roleRef"]["name"] += "-" + namespace
    for document in documents:
        if document["kind"] == "NeonConfig":  # utils knows only built-in kinds
            client.CustomObjectsApi(kube_api).create_cluster_custom_object(
                "neon.operator.dev", "v1alpha1", "neonconfigs", document
            )
        else:
            utils.create_from_dict(kube_api, document, namespace=namespace)
    account = next(d for d in documents if d["kind"] == "ServiceAccount")["metadata"]["name"]
    try:
        yield namespace, f"system:serviceaccount:{namespace}:{account}"
    finally:
        rbac = client.RbacAuthorizationV1Api(kube_api)
        for document in documents:
            name = document["metadata"]["name"]
            if document["kind"] == "ClusterRole":
                rbac.delete_cluster_role(name)
            elif document["kind"] == "ClusterRoleBinding":
                rbac.delete_cluster_role_binding(name)
            elif document["kind"] == "NeonConfig":
                client.CustomObjectsApi(kube_api).delete_cluster_custom_object(
                    "neon.operator.dev", "v1alpha1", "neonconfigs", name
                )
        core.delete_namespace(namespace)


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
    kube_api: ApiClient, installed: tuple[str, str], namespace: str
) -> None:
    release_namespace, operator = installed
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
    kube_api: ApiClient, installed: tuple[str, str], namespace: str
) -> None:
    release_namespace, _ = installed
    rbac = client.RbacAuthorizationV1Api(kube_api)
    rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": "tenant-edit"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "edit",
            },
            "subjects": [
                {"kind": "User", "name": "tenant", "apiGroup": "rbac.authorization.k8s.io"}
            ],
        },
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


def operator_kubeconfig(admin: pathlib.Path, token: str, path: pathlib.Path) -> pathlib.Path:
    """A kubeconfig that authenticates with a ServiceAccount token instead of the admin cert."""
    config = yaml.safe_load(admin.read_text())
    config["users"] = [{"name": "operator", "user": {"token": token}}]
    config["contexts"][0]["context"]["user"] = "operator"
    path.write_text(yaml.safe_dump(config))
    return path


def test_the_operator_runs_with_exactly_the_charts_permissions(
    kube_api: ApiClient,
    installed: tuple[str, str],
    local_stack: devstack.Stack,
    tmp_path: pathlib.Path,
) -> None:
    release_namespace, account = installed
    core = client.CoreV1Api(kube_api)
    objects = client.CustomObjectsApi(kube_api)
    token = core.create_namespaced_service_account_token(
        account.rsplit(":", 1)[1], release_namespace, {"spec": {"expirationSeconds": 3600}}
    ).status.token
    kubeconfig = operator_kubeconfig(local_stack.kubeconfig, token, tmp_path / "kubeconfig")
    tenant = "chart-tenant-" + uuid.uuid4().hex[:6]
    core.create_namespace({"metadata": {"name": tenant}})
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
        core.delete_namespace(tenant)
    forbidden = [
        line for line in log.read_text().splitlines() if "403" in line or "orbidden" in line
    ]
    assert forbidden == []
