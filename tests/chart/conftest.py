"""The chart as tests install it: ``helm template`` with the session's emulator, applied to the
session's apiserver under per-test names (cluster-scoped objects get the release namespace as a
suffix), so chart tests share one apiserver without stepping on each other."""

from __future__ import annotations

import dataclasses
import pathlib
import subprocess
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client, utils
from kubernetes.client import ApiClient

from neon_operator.devstack import binaries
from neon_operator.devstack import stack as devstack

CHART = pathlib.Path(__file__).resolve().parents[2] / "helm" / "neon-operator"


@pytest.fixture(scope="session")
def helm() -> pathlib.Path:
    return binaries.ensure_helm()


def template(
    helm: pathlib.Path,
    namespace: str,
    *values: str,
    chart: pathlib.Path = CHART,
    release: str = "neon",
) -> list[dict[str, Any]]:
    flags = [f"--set={value}" for value in values]
    rendered = subprocess.run(
        [str(helm), "template", release, str(chart), "--namespace", namespace, *flags],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [document for document in yaml.safe_load_all(rendered) if document]


@dataclasses.dataclass
class Installed:
    """A release of the chart: its namespace, documents, NeonConfig and operator account."""

    namespace: str
    documents: list[dict[str, Any]]
    config_name: str

    def one(self, kind: str) -> dict[str, Any]:
        return next(d for d in self.documents if d["kind"] == kind)

    @property
    def account(self) -> str:
        return str(self.one("ServiceAccount")["metadata"]["name"])

    @property
    def user(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.account}"


@pytest.fixture
def install(
    helm: pathlib.Path, kube_api: ApiClient, local_stack: devstack.Stack
) -> Iterator[Callable[..., Installed]]:
    """Apply the chart (with extra ``--set`` values), its NeonConfig pointing at the session's
    emulator with the key in the release namespace; everything is removed afterwards."""
    emulator = local_stack.emulator
    assert emulator is not None
    core = client.CoreV1Api(kube_api)
    rbac = client.RbacAuthorizationV1Api(kube_api)
    objects = client.CustomObjectsApi(kube_api)
    releases: list[Installed] = []

    def apply(*values: str) -> Installed:
        namespace = "neon-system-" + uuid.uuid4().hex[:6]
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
            f"neonConfig.organizations.paid={emulator.organizations['paid']}",
            "admissionPolicy.enabled=false",  # the session stack installed the same policy
            f"nameOverride={namespace}",
            *values,
        )
        for document in documents:
            if document["kind"] in {"ClusterRole", "ClusterRoleBinding"}:
                document["metadata"]["name"] += "-" + namespace
            if document.get("roleRef", {}).get("kind") == "ClusterRole":
                document["roleRef"]["name"] += "-" + namespace
        release = Installed(namespace, documents, f"chart-{namespace}")
        releases.append(release)
        for document in documents:
            if document["kind"] == "NeonConfig":  # utils knows only built-in kinds
                objects.create_cluster_custom_object(
                    "neon.operator.dev", "v1alpha1", "neonconfigs", document
                )
            else:
                utils.create_from_dict(kube_api, document, namespace=namespace)
        return release

    yield apply
    for release in releases:
        for document in release.documents:
            name = document["metadata"]["name"]
            if document["kind"] == "ClusterRole":
                rbac.delete_cluster_role(name)
            elif document["kind"] == "ClusterRoleBinding":
                rbac.delete_cluster_role_binding(name)
            elif document["kind"] == "NeonConfig":
                objects.delete_cluster_custom_object(
                    "neon.operator.dev", "v1alpha1", "neonconfigs", name
                )
        core.delete_namespace(release.namespace)


@pytest.fixture
def installed(install: Callable[..., Installed]) -> Installed:
    """The chart with its default values (plus the test NeonConfig)."""
    return install()


def operator_kubeconfig(admin: pathlib.Path, token: str, path: pathlib.Path) -> pathlib.Path:
    """A kubeconfig that authenticates with a ServiceAccount token instead of the admin cert."""
    config = yaml.safe_load(admin.read_text())
    config["users"] = [{"name": "operator", "user": {"token": token}}]
    config["contexts"][0]["context"]["user"] = "operator"
    path.write_text(yaml.safe_dump(config))
    return path
