"""InMemoryKube answers as KubeClient over the real kube-apiserver does: one scenario of every
Kube call the reconcilers make, run on both, must observe the same things. This is what lets the
reconciler tier (tests/operator/reconcilers) stand in for a cluster."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.aio.client.exceptions import ApiException
from kubernetes.client import ApiClient

from neon_operator import kube
from neon_operator.testing import InMemoryKube

pytestmark = pytest.mark.e2e

APPS = "neonappdatabases"
HOLD = "parity.test/hold"


@pytest.fixture
def own_namespace(kube_api: ApiClient) -> Iterator[str]:
    """A namespace outside the session operator's ``t-*``, so nothing else reconciles here."""
    name = "parity-" + uuid.uuid4().hex[:8]
    core = client.CoreV1Api(kube_api)
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)


def app(name: str, **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "neon.operator.dev/v1alpha1",
        "kind": "NeonAppDatabase",
        "metadata": {"name": name, **metadata},
        "spec": {"tier": "free"},
        "status": {"projectId": "forged-at-create"},
    }


async def scenario(api: kube.Kube, namespace: str) -> list[Any]:
    """Every call the reconcilers make, with what each one observed (ids left out)."""
    seen: list[Any] = []
    created = await api.create_object(APPS, namespace, app("a", labels={"team": "x"}))
    again = await api.create_object(APPS, namespace, app("a"))
    await api.create_object(APPS, namespace, app("b", labels={"team": "y"}))
    seen.append(("create", created, again))

    ref = kube.ObjectRef(kind="NeonAppDatabase", plural=APPS, name="a", namespace=namespace, uid="")
    first = await api.read_object(ref)
    assert first is not None
    seen.append(("read", first["metadata"]["generation"], "status" in first))
    ref = kube.ObjectRef(
        kind="NeonAppDatabase",
        plural=APPS,
        name="a",
        namespace=namespace,
        uid=first["metadata"]["uid"],
    )

    annotated = await api.patch_object(ref, {"metadata": {"annotations": {"k": "v"}}})
    assert annotated is not None
    seen.append(
        (
            "annotate",
            annotated["metadata"]["generation"],
            annotated["metadata"]["resourceVersion"] != first["metadata"]["resourceVersion"],
        )
    )
    respecced = await api.patch_object(ref, {"spec": {"compute": {"maxCu": 2}}})
    assert respecced is not None
    seen.append(("spec", respecced["metadata"]["generation"], respecced["spec"]["compute"]))

    await api.patch_status(ref, {"projectId": "p-1", "tier": "free"})
    await api.patch_status(ref, {"tier": None})
    forged = await api.patch_object(ref, {"status": {"projectId": "forged"}})
    after = await api.read_object(ref)
    assert forged is not None
    assert after is not None
    seen.append(("status", after["status"], after["metadata"]["generation"]))

    stale = first["metadata"]["resourceVersion"]
    try:
        await api.patch_object(ref, {"metadata": {"resourceVersion": stale, "labels": {"z": "1"}}})
        seen.append(("stale", "accepted"))
    except ApiException as error:
        seen.append(("stale", error.status))

    for selector in (None, "team=x", "team!=x", "team", "!team", "team in (x,y)"):
        listed = await api.list_objects(APPS, namespace, label_selector=selector)
        seen.append(("list", selector, [body["metadata"]["name"] for body in listed]))

    owner = ref
    for data in ({"A": "1", "B": "2"}, {"A": "3"}):
        await api.write_secret(
            namespace, "s", data=data, labels={"l": data["A"]}, annotations={"n": "m"}, owner=owner
        )
        secret = await api.read_secret(namespace, "s")
        assert secret is not None
        seen.append(
            (
                "secret",
                secret.data,
                secret.labels,
                secret.annotations,
                secret.controller_uid == owner.uid,
            )
        )
    await api.delete_secret(namespace, "s")
    await api.delete_secret(namespace, "s")
    seen.append(("secret gone", await api.read_secret(namespace, "s")))

    await api.patch_object(ref, {"metadata": {"finalizers": [HOLD]}})
    await api.delete_object(ref)
    held = await api.read_object(ref)
    assert held is not None
    seen.append(("held", bool(held["metadata"].get("deletionTimestamp"))))
    await api.patch_object(ref, {"metadata": {"finalizers": None}})
    seen.append(("released", await api.read_object(ref)))

    await api.patch_status(ref, {"projectId": "late"})
    seen.append(("gone", await api.patch_object(ref, {"spec": {"tier": "paid"}})))
    await api.delete_object(ref)
    seen.append(("no config", await api.read_cluster_object("neonconfigs", "no-such-config")))
    seen.append(("labels", await api.read_namespace_labels(namespace)))
    seen.append(("no namespace", await api.read_namespace_labels("no-such-namespace")))
    return seen


async def test_the_in_memory_kube_observes_what_the_real_apiserver_does(
    kubeconfig: Any, own_namespace: str
) -> None:
    real = await kube.KubeClient.connect(str(kubeconfig))
    try:
        on_the_apiserver = await scenario(real, own_namespace)
    finally:
        await real.close()

    memory = InMemoryKube()
    # The apiserver labels every Namespace with its name; the in-memory one is told so.
    memory.namespaces[own_namespace] = {"kubernetes.io/metadata.name": own_namespace}
    in_memory = await scenario(memory, own_namespace)

    assert in_memory == on_the_apiserver
