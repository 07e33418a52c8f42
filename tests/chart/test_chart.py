"""The Helm chart renders, validates its values, and its objects work on a real apiserver.

RBAC is checked the way a cluster would: the chart's roles are installed on the real apiserver and
SubjectAccessReviews ask what its ServiceAccount, and a tenant with the built-in ``edit`` role in
their own namespace, may do.
"""

from __future__ import annotations

import pathlib
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client, utils
from kubernetes.client import ApiClient

from neon_operator import admission, crds
from neon_operator.devstack import binaries

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


def test_the_chart_installs_the_operators_tier_admission_policy(helm: pathlib.Path) -> None:
    documents = template(helm, "neon-system")
    policies = [d for d in documents if d["kind"].startswith("ValidatingAdmissionPolicy")]
    assert policies == admission.manifests()
    disabled = template(helm, "neon-system", "admissionPolicy.enabled=false")
    assert not [d for d in disabled if d["kind"].startswith("ValidatingAdmissionPolicy")]


@pytest.fixture
def installed(helm: pathlib.Path, kube_api: ApiClient) -> Iterator[tuple[str, str]]:
    """The chart applied to the session's apiserver: (release namespace, operator account)."""
    namespace = "neon-system-" + uuid.uuid4().hex[:6]
    core = client.CoreV1Api(kube_api)
    core.create_namespace({"metadata": {"name": namespace}})
    documents = template(
        helm,
        namespace,
        "neonConfig.create=true",
        f"neonConfig.name=chart-{namespace}",
        "admissionPolicy.enabled=false",  # the session stack installed the same policy
        "neonConfig.organizations.free=org-sponsored-1",
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
