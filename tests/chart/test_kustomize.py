"""``deploy/base``: a kustomize base equivalent to the chart's defaults, built by the real
kustomize and server-side applied with the real kubectl, as its README instructions say."""

from __future__ import annotations

import pathlib
import subprocess
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client import ApiClient

from neon_operator.devstack import binaries
from neon_operator.devstack import stack as devstack

from .conftest import CHART, template

pytestmark = pytest.mark.e2e

BASE = pathlib.Path(__file__).resolve().parents[2] / "deploy" / "base"
NAMESPACE = "neon-operator-system"
HELM_ONLY_LABELS = ("helm.sh/chart", "app.kubernetes.io/managed-by")


def built() -> list[dict[str, Any]]:
    kustomize = binaries.ensure_kustomize()
    rendered = subprocess.run(
        [str(kustomize), "build", str(BASE)], capture_output=True, text=True, check=True
    ).stdout
    return [document for document in yaml.safe_load_all(rendered) if document]


def comparable(documents: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Objects by (kind, name), without the labels only Helm sets."""
    result = {}
    for document in documents:
        for metadata in (
            document["metadata"],
            document.get("spec", {}).get("template", {}).get("metadata", {}),
        ):
            for label in HELM_ONLY_LABELS:
                metadata.get("labels", {}).pop(label, None)
        result[document["kind"], document["metadata"]["name"]] = document
    return result


def test_the_kustomize_base_is_the_chart_with_its_default_values(helm: pathlib.Path) -> None:
    chart = template(helm, NAMESPACE, release="neon-operator")
    chart += [yaml.safe_load(path.read_text()) for path in sorted((CHART / "crds").glob("*.yaml"))]
    base = comparable(built())
    namespace = base.pop(("Namespace", NAMESPACE))  # the base also makes its namespace
    assert namespace["apiVersion"] == "v1"
    assert base == comparable(chart), (
        "deploy/base differs from `helm template neon-operator helm/neon-operator "
        "-n neon-operator-system`: update deploy/base/operator.yaml"
    )


def test_the_base_applies_server_side_and_the_operator_account_gets_its_rights(
    kube_api: ApiClient, local_stack: devstack.Stack
) -> None:
    kubectl = binaries.ensure_kubectl()
    manifests = yaml.safe_dump_all(built())
    applied = subprocess.run(
        [
            str(kubectl),
            f"--kubeconfig={local_stack.kubeconfig}",
            "apply",
            "--server-side",
            "--field-manager=kustomize-base-test",
            # The session stack created the same CRDs and policies with another field manager
            # (its atomic matchConstraints then conflict); on a fresh cluster this is not needed.
            "--force-conflicts",
            "-f",
            "-",
        ],
        input=manifests,
        capture_output=True,
        text=True,
        check=False,
    )
    rbac = client.RbacAuthorizationV1Api(kube_api)
    try:
        assert applied.returncode == 0, applied.stderr
        assert "deployment.apps/neon-operator serverside-applied" in applied.stdout
        deployment = client.AppsV1Api(kube_api).read_namespaced_deployment(
            "neon-operator", NAMESPACE
        )
        assert deployment.spec.template.spec.service_account_name == "neon-operator"
        review = client.AuthorizationV1Api(kube_api).create_subject_access_review(
            {
                "spec": {
                    "user": f"system:serviceaccount:{NAMESPACE}:neon-operator",
                    "resourceAttributes": {
                        "verb": "patch",
                        "group": "neon.operator.dev",
                        "resource": "neonappdatabases",
                        "subresource": "status",
                        "namespace": "anywhere",
                    },
                }
            }
        )
        assert review.status.allowed
    finally:  # the CRDs, policies and namespace are the session's: leave them
        for name in ("neon-operator-cluster", "neon-operator-tenant"):
            rbac.delete_cluster_role_binding(name)
        for name in (
            "neon-operator-cluster",
            "neon-operator-tenant",
            "neon-operator-edit",
            "neon-operator-view",
        ):
            rbac.delete_cluster_role(name)
        rbac.delete_namespaced_role_binding("neon-operator-api-key", NAMESPACE)
        rbac.delete_namespaced_role("neon-operator-api-key", NAMESPACE)
        core = client.CoreV1Api(kube_api)
        core.delete_namespaced_service("neon-operator-metrics", NAMESPACE)
        core.delete_namespaced_service_account("neon-operator", NAMESPACE)
        client.AppsV1Api(kube_api).delete_namespaced_deployment("neon-operator", NAMESPACE)
