"""InMemoryKube answers as KubeClient over the real kube-apiserver does: one scenario of every
Kube call the reconcilers make, run on both, must observe the same things. This is what lets the
reconciler tier (tests/operator/reconcilers) stand in for a cluster."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Iterator
from typing import Any

import pytest
from kubernetes import client
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


async def conflicts(write: Awaitable[object]) -> str:
    """``"Conflict"`` if the write raised :class:`kube.Conflict`, else ``"accepted"``."""
    try:
        await write
    except kube.Conflict:
        return "Conflict"
    return "accepted"


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
    seen.append(
        (
            "stale",
            await conflicts(
                api.patch_object(
                    ref, {"metadata": {"resourceVersion": stale, "labels": {"z": "1"}}}
                )
            ),
            await conflicts(api.patch_object(ref, {"spec": {"tier": "x"}}, resource_version=stale)),
            await conflicts(api.patch_status(ref, {"projectId": "x"}, resource_version=stale)),
        )
    )
    now = (await api.read_object(ref) or {})["metadata"]["resourceVersion"]
    written = await api.patch_status(ref, {"projectId": "p-2"}, resource_version=now)
    now = (await api.read_object(ref) or {})["metadata"]["resourceVersion"]
    chained = await api.patch_status(ref, {"projectId": "p-3"}, resource_version=written)
    seen.append(("version written", written == now, chained != written))
    now = (await api.read_object(ref) or {})["metadata"]["resourceVersion"]
    assert chained == now
    at_version = await api.patch_object(
        ref, {"metadata": {"labels": {"v": "1"}}}, resource_version=now
    )
    assert at_version is not None
    seen.append(("at version", at_version["status"], at_version["metadata"]["labels"]))

    for selector in (None, "team=x", "team!=x", "team", "!team", "team in (x,y)"):
        listed = await api.list_objects(APPS, namespace, label_selector=selector)
        seen.append(("list", selector, [body["metadata"]["name"] for body in listed]))

    other = await api.read_object(dataclasses.replace(ref, name="b", uid=""))
    assert other is not None
    other_ref = dataclasses.replace(ref, name="b", uid=other["metadata"]["uid"])
    uids = {ref.uid: "a", other_ref.uid: "b"}

    async def secret_seen(what: str) -> kube.SecretState:
        secret = await api.read_secret(namespace, "s")
        assert secret is not None
        owners = [{**owner, "uid": uids.get(owner["uid"])} for owner in secret.owner_references]
        controller = uids.get(secret.controller_uid or "")
        seen.append((what, secret.data, secret.labels, secret.annotations, controller, owners))
        return secret

    await api.write_secret(
        namespace,
        "s",
        data={"A": "1", "B": "2", "C": None},
        labels={"l": "1", "m": "2"},
        annotations={"n": "m"},
        owner=ref,
    )
    created = await secret_seen("secret created")
    seen.append(
        (
            "create again",
            await conflicts(
                api.write_secret(namespace, "s", data={}, labels={}, annotations={}, owner=ref)
            ),
        )
    )
    await api.write_secret(
        namespace,
        "s",
        data={"A": "3", "B": None},
        labels={"l": None},
        annotations={"o": "p"},
        owner=other_ref,
        current=created,
    )
    patched = await secret_seen("secret patched")
    seen.append(
        (
            "secret versions",
            patched.uid == created.uid,
            patched.resource_version != created.resource_version,
        )
    )
    seen.append(
        (
            "secret stale",
            await conflicts(
                api.write_secret(
                    namespace,
                    "s",
                    data={"A": "4"},
                    labels={},
                    annotations={},
                    owner=ref,
                    current=created,
                )
            ),
            await conflicts(api.delete_secret(namespace, "s", current=created)),
        )
    )
    await secret_seen("secret kept")
    await api.delete_secret(namespace, "s", current=patched)
    await api.delete_secret(namespace, "s", current=patched)
    await api.delete_secret(namespace, "s")
    seen.append(("secret gone", await api.read_secret(namespace, "s")))
    seen.append(
        (
            "patch vanished secret",
            await conflicts(
                api.write_secret(
                    namespace, "s", data={}, labels={}, annotations={}, owner=ref, current=patched
                )
            ),
            await api.read_secret(namespace, "s"),
        )
    )

    await api.delete_object(dataclasses.replace(other_ref, uid=str(uuid.uuid4())))
    seen.append(("namesake kept", await api.read_object(other_ref) is not None))
    await api.delete_object(other_ref)
    seen.append(("deleted by uid", await api.read_object(other_ref)))

    await api.patch_object(ref, {"metadata": {"finalizers": [HOLD]}})
    await api.delete_object(ref)
    held = await api.read_object(ref)
    assert held is not None
    seen.append(("held", bool(held["metadata"].get("deletionTimestamp"))))
    await api.patch_object(ref, {"metadata": {"finalizers": None}})
    seen.append(("released", await api.read_object(ref)))

    seen.append(("gone status", await api.patch_status(ref, {"projectId": "late"})))
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
