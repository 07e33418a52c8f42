"""References between the operator's objects never leave their namespace, refused at admission."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from kubernetes.client import ApiClient
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.e2e

GROUP, VERSION = "neon.operator.dev", "v1alpha1"


def create(api: ApiClient, namespace: str, plural: str, kind: str, spec: dict[str, Any]) -> None:
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": {"name": "x"}}
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, plural, {**body, "spec": spec}, dry_run="All"
    )


@pytest.mark.parametrize(
    ("plural", "kind", "spec", "field"),
    [
        (
            "neonbranches",
            "NeonBranch",
            {"appDatabaseRef": {"name": "a", "namespace": "other"}},
            "appDatabaseRef",
        ),
        (
            "neonbranches",
            "NeonBranch",
            {"appDatabaseRef": {"name": "a"}, "parentBranchRef": {"name": "b", "namespace": "o"}},
            "parentBranchRef",
        ),
        (
            "neonsnapshots",
            "NeonSnapshot",
            {"appDatabaseRef": {"name": "a", "namespace": "o"}},
            "appDatabaseRef",
        ),
        (
            "neonrestores",
            "NeonRestore",
            {"snapshotRef": {"name": "s", "namespace": "o"}},
            "snapshotRef",
        ),
    ],
)
def test_a_reference_into_another_namespace_is_refused_naming_the_field(
    kube_api: ApiClient, namespace: str, plural: str, kind: str, spec: dict[str, Any], field: str
) -> None:
    with pytest.raises(ApiException) as refused:
        create(kube_api, namespace, plural, kind, spec)

    assert refused.value.status == 422
    assert f"spec.{field}.namespace" in refused.value.body
    assert "never cross namespaces" in refused.value.body


def test_naming_the_own_namespace_or_none_is_accepted(kube_api: ApiClient, namespace: str) -> None:
    create(kube_api, namespace, "neonbranches", "NeonBranch", {"appDatabaseRef": {"name": "a"}})
    create(
        kube_api,
        namespace,
        "neonbranches",
        "NeonBranch",
        {"appDatabaseRef": {"name": "a", "namespace": namespace}},
    )
