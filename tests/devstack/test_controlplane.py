"""The local control plane is a real Kubernetes: CRDs, CEL, RBAC and garbage collection work."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client import ApiClient
from kubernetes.client.rest import ApiException

from neon_operator import crds
from neon_operator.devstack import binaries
from neon_operator.devstack import stack as devstack

pytestmark = pytest.mark.e2e

GROUP, VERSION = "neon.operator.dev", "v1alpha1"


def eventually(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        time.sleep(0.1)


def app_database(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "NeonAppDatabase",
        "metadata": {"name": name},
        "spec": spec,
    }


def test_the_apiserver_is_the_kubernetes_release_we_built(local_stack: devstack.Stack) -> None:
    assert local_stack.kubernetes_version == binaries.KUBERNETES_VERSION


def test_every_generated_crd_is_established(kube_api: ApiClient) -> None:
    extensions = client.ApiextensionsV1Api(kube_api)
    expected = {name.removesuffix(".yaml") for name in crds.render()}
    served = {
        crd.metadata.name: {c.type: c.status for c in crd.status.conditions or []}
        for crd in extensions.list_custom_resource_definition().items
    }
    assert expected <= served.keys()
    for name in expected:
        assert served[name].get("Established") == "True", name


def test_a_custom_resource_breaking_a_cel_rule_is_refused_with_its_message(
    kube_api: ApiClient, namespace: str
) -> None:
    objects = client.CustomObjectsApi(kube_api)
    bad = app_database("bad-compute", compute={"minCu": 4, "maxCu": 2})
    with pytest.raises(ApiException) as refused:
        objects.create_namespaced_custom_object(GROUP, VERSION, namespace, "neonappdatabases", bad)
    assert refused.value.status == 422
    assert "minCu" in refused.value.body


def test_an_immutable_field_cannot_change_after_creation(
    kube_api: ApiClient, namespace: str
) -> None:
    objects = client.CustomObjectsApi(kube_api)
    objects.create_namespaced_custom_object(
        GROUP, VERSION, namespace, "neonappdatabases", app_database("app", pgVersion=16)
    )
    with pytest.raises(ApiException) as refused:
        objects.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, "neonappdatabases", "app", {"spec": {"pgVersion": 17}}
        )
    assert refused.value.status == 422
    assert "pgVersion" in refused.value.body


def test_a_secret_owned_by_a_custom_resource_is_garbage_collected_with_it(
    kube_api: ApiClient, namespace: str
) -> None:
    objects = client.CustomObjectsApi(kube_api)
    core = client.CoreV1Api(kube_api)
    owner = objects.create_namespaced_custom_object(
        GROUP, VERSION, namespace, "neonappdatabases", app_database("owner")
    )
    core.create_namespaced_secret(
        namespace,
        {
            "metadata": {
                "name": "owned",
                "ownerReferences": [
                    {
                        "apiVersion": f"{GROUP}/{VERSION}",
                        "kind": "NeonAppDatabase",
                        "name": "owner",
                        "uid": owner["metadata"]["uid"],
                    }
                ],
            },
            "stringData": {"k": "v"},
        },
    )
    objects.delete_namespaced_custom_object(GROUP, VERSION, namespace, "neonappdatabases", "owner")

    def secret_gone() -> bool:
        try:
            core.read_namespaced_secret("owned", namespace)
        except ApiException as error:
            return bool(error.status == 404)
        return False

    eventually(secret_gone)


def test_rbac_is_enforced_for_a_service_account_without_roles(
    kube_api: ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(kube_api)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "nobody"}})
    review = client.AuthorizationV1Api(kube_api).create_subject_access_review(
        {
            "spec": {
                "user": f"system:serviceaccount:{namespace}:nobody",
                "resourceAttributes": {
                    "namespace": namespace,
                    "verb": "list",
                    "resource": "secrets",
                },
            }
        }
    )
    assert review.status.allowed is False


def test_deleting_a_namespace_completes(kube_api: ApiClient) -> None:
    core = client.CoreV1Api(kube_api)
    core.create_namespace({"metadata": {"name": "doomed"}})
    core.create_namespaced_config_map("doomed", {"metadata": {"name": "c"}, "data": {"a": "b"}})
    core.delete_namespace("doomed")

    def gone() -> bool:
        try:
            core.read_namespace("doomed")
        except ApiException as error:
            return bool(error.status == 404)
        return False

    eventually(gone, timeout=60)
