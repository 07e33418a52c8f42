"""The operator writes only Secrets it controls; another one is taken over only when its owner
says so with the annotation ``neon.operator.dev/adopt: <Kind>/<name>``.

Real apiserver, the session operator, the emulator: the Secret is the user's, and what must
survive is exactly what a user would lose (its keys, its labels, its ownership).
"""

from __future__ import annotations

import base64
import time
from typing import Any

import psycopg
import pytest
from kubernetes import client

pytestmark = pytest.mark.e2e

ADOPT = "neon.operator.dev/adopt"
RETRY_SECONDS = 2.0  # as the session operator of conftest.py runs
RESYNC_SECONDS = 1.0


def _foreign_secret(apps, name: str, annotations: dict[str, str] | None = None) -> None:
    apps.core.create_namespaced_secret(
        apps.namespace,
        {
            "metadata": {
                "name": name,
                "labels": {"team": "payments"},
                "annotations": annotations or {},
            },
            "data": {"tls.key": base64.b64encode(b"-----BEGIN PRIVATE KEY-----").decode()},
        },
    )


def _ready(obj: dict[str, Any]) -> dict[str, Any]:
    return dict(next(c for c in obj["status"]["conditions"] if c["type"] == "Ready"))


def _retries(operator, kind: str) -> tuple[float, float]:
    """Retries of ``kind`` so far: by the change handlers, and by the periodic resync."""
    prefix = "neon_operator_reconciles_total{"
    lines = [
        line
        for line in operator.metrics().splitlines()
        if line.startswith(prefix) and f'kind="{kind}"' in line and 'outcome="retry"' in line
    ]
    resync = sum(float(line.rsplit(" ", 1)[1]) for line in lines if 'trigger="resync"' in line)
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines) - resync, resync


def test_a_secret_the_operator_does_not_own_is_left_untouched_and_reported(apps, operator) -> None:
    _foreign_secret(apps, "victim")
    before = apps.secret_object("victim")

    apps.create("intruder", {"connectionSecret": {"name": "victim"}})
    refused = apps.wait_condition("intruder", "False", "SecretConflict")

    message = _ready(refused)["message"]
    assert "victim" in message
    assert f"{ADOPT}: NeonAppDatabase/intruder" in message
    changes, resyncs = _retries(operator, "NeonAppDatabase")
    time.sleep(3 * RETRY_SECONDS)
    changes_after, resyncs_after = _retries(operator, "NeonAppDatabase")
    assert changes_after - changes <= 3 + 1, "the change handler retries faster than retryDelay"
    assert resyncs_after - resyncs <= 3 * RETRY_SECONDS / RESYNC_SECONDS + 1
    after = apps.secret_object("victim")
    assert after.metadata.resource_version == before.metadata.resource_version
    assert apps.secret("victim") == {"tls.key": "-----BEGIN PRIVATE KEY-----"}
    assert not after.metadata.owner_references
    assert ("Warning", "SecretConflict") in apps.events("intruder")


def test_an_adoption_annotation_naming_another_resource_does_not_hand_the_secret_over(
    apps,
) -> None:
    _foreign_secret(apps, "promised", {ADOPT: "NeonAppDatabase/someone-else"})

    apps.create("grabber", {"connectionSecret": {"name": "promised"}})
    apps.wait_condition("grabber", "False", "SecretConflict")

    assert apps.secret("promised") == {"tls.key": "-----BEGIN PRIVATE KEY-----"}
    assert not apps.secret_object("promised").metadata.owner_references


def test_a_conflicting_secret_is_adopted_once_annotated_keeping_its_own_keys(apps) -> None:
    _foreign_secret(apps, "legacy-db")
    apps.create("heir", {"connectionSecret": {"name": "legacy-db"}})
    apps.wait_condition("heir", "False", "SecretConflict")

    apps.core.patch_namespaced_secret(
        "legacy-db", apps.namespace, {"metadata": {"annotations": {ADOPT: "NeonAppDatabase/heir"}}}
    )
    apps.wait_condition("heir", "True", "ProjectReady")

    secret = apps.secret("legacy-db")
    assert secret is not None
    assert secret["tls.key"] == "-----BEGIN PRIVATE KEY-----"
    adopted = apps.secret_object("legacy-db")
    assert adopted.metadata.labels["team"] == "payments"
    owners = adopted.metadata.owner_references
    assert [(o.kind, o.name, o.controller) for o in owners] == [("NeonAppDatabase", "heir", True)]
    with psycopg.connect(secret["DATABASE_URL"], connect_timeout=60) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert ("Normal", "SecretAdopted") in apps.events("heir")


def test_a_secret_of_another_resource_is_not_taken_by_a_second_one(apps) -> None:
    apps.create("first", {"connectionSecret": {"name": "shared-db"}})
    apps.wait_condition("first", "True")
    owned = apps.secret("shared-db")

    apps.create("second", {"connectionSecret": {"name": "shared-db"}})
    apps.wait_condition("second", "False", "SecretConflict")

    assert apps.secret("shared-db") == owned
    owners = apps.secret_object("shared-db").metadata.owner_references
    assert [o.name for o in owners] == ["first"]


def _create(apps, kind: str, plural: str, name: str, spec: dict[str, Any]) -> None:
    body = {"apiVersion": "neon.operator.dev/v1alpha1", "kind": kind, "metadata": {"name": name}}
    apps.objects.create_namespaced_custom_object(
        "neon.operator.dev", "v1alpha1", apps.namespace, plural, {**body, "spec": spec}
    )


def _wait_reason(apps, plural: str, name: str, reason: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        obj = apps.objects.get_namespaced_custom_object(
            "neon.operator.dev", "v1alpha1", apps.namespace, plural, name
        )
        conditions = obj.get("status", {}).get("conditions", [])
        if any(c["type"] == "Ready" and c["reason"] == reason for c in conditions):
            return
        assert time.monotonic() < deadline, f"{plural}/{name} never became {reason}: {obj}"
        time.sleep(0.25)


def test_branches_and_staged_restores_refuse_a_foreign_secret_too(apps) -> None:
    apps.create("trunk", {})
    apps.wait_condition("trunk", "True")
    _foreign_secret(apps, "taken-branch")
    _foreign_secret(apps, "taken-inspect")

    _create(
        apps,
        "NeonBranch",
        "neonbranches",
        "feature",
        {"appDatabaseRef": {"name": "trunk"}, "connectionSecret": {"name": "taken-branch"}},
    )
    _create(apps, "NeonSnapshot", "neonsnapshots", "cp", {"appDatabaseRef": {"name": "trunk"}})
    _wait_reason(apps, "neonsnapshots", "cp", "SnapshotReady")
    _create(
        apps,
        "NeonRestore",
        "neonrestores",
        "peek",
        {
            "snapshotRef": {"name": "cp"},
            "mode": "Staged",
            "inspectSecret": {"name": "taken-inspect"},
        },
    )

    _wait_reason(apps, "neonbranches", "feature", "SecretConflict")
    _wait_reason(apps, "neonrestores", "peek", "SecretConflict")
    for name in ("taken-branch", "taken-inspect"):
        assert apps.secret(name) == {"tls.key": "-----BEGIN PRIVATE KEY-----"}
        assert not apps.secret_object(name).metadata.owner_references


def test_renaming_the_secret_deletes_only_the_old_one_it_still_controls(apps) -> None:
    apps.create("mover", {"connectionSecret": {"name": "mover-a"}})
    apps.wait_condition("mover", "True")
    # The user takes the old Secret over: it is no longer the operator's to delete.
    apps.core.patch_namespaced_secret(
        "mover-a", apps.namespace, {"metadata": {"ownerReferences": None}}
    )

    apps.patch("mover", {"spec": {"connectionSecret": {"name": "mover-b"}}})
    apps.wait(
        "mover",
        lambda obj: bool(obj and obj.get("status", {}).get("secretName") == "mover-b"),
        "moved to mover-b",
    )
    apps.wait_condition("mover", "True")

    assert apps.secret("mover-a") is not None
    assert apps.secret("mover-b") is not None


def test_a_users_labels_survive_the_operator_rewriting_its_secret(apps) -> None:
    """A real concurrent writer: the user labels the Secret while the operator keeps repairing
    it; every label the user added is still there at the end."""
    apps.create("busy", {})
    apps.wait_condition("busy", "True")
    original = apps.secret("busy-neon")
    assert original is not None

    added = []
    for round_ in range(8):
        # Tamper, so the resync rewrites the Secret …
        apps.core.patch_namespaced_secret(
            "busy-neon", apps.namespace, {"stringData": {"PGPASSWORD": f"tampered-{round_}"}}
        )
        # … while the user adds a label.
        label = f"user-{round_}"
        apps.core.patch_namespaced_secret(
            "busy-neon", apps.namespace, {"metadata": {"labels": {label: "kept"}}}
        )
        added.append(label)
        deadline = time.monotonic() + 30
        while apps.secret("busy-neon") != original:
            assert time.monotonic() < deadline, "the Secret was never repaired"
            time.sleep(0.1)

    labels = apps.secret_object("busy-neon").metadata.labels
    assert {label: labels.get(label) for label in added} == dict.fromkeys(added, "kept")


def test_a_write_from_a_stale_read_is_refused_not_applied(kube_api, kubeconfig, namespace) -> None:
    """Optimistic concurrency of the operator's own Secret writes, on the real apiserver."""
    import asyncio

    from neon_operator import kube

    core = client.CoreV1Api(kube_api)
    holder = core.create_namespaced_config_map(namespace, {"metadata": {"name": "holder"}})
    owner = kube.ObjectRef(  # an owner that exists, or the garbage collector takes the Secret
        kind="ConfigMap",
        plural="configmaps",
        name="holder",
        namespace=namespace,
        uid=holder.metadata.uid,
        api_version="v1",
    )

    async def scenario() -> None:
        api = await kube.KubeClient.connect(str(kubeconfig))
        try:
            await api.write_secret(
                namespace, "db", data={"A": "1"}, labels={}, annotations={}, owner=owner
            )
            stale = await api.read_secret(namespace, "db")
            assert stale is not None
            core.patch_namespaced_secret("db", namespace, {"metadata": {"labels": {"x": "y"}}})
            with pytest.raises(kube.Conflict):
                await api.write_secret(
                    namespace,
                    "db",
                    data={"A": "2"},
                    labels={},
                    annotations={},
                    owner=owner,
                    current=stale,
                )
            with pytest.raises(kube.Conflict):  # it exists: creating never overwrites
                await api.write_secret(
                    namespace, "db", data={"A": "3"}, labels={}, annotations={}, owner=owner
                )
        finally:
            await api.close()

    asyncio.run(scenario())
    data = core.read_namespaced_secret("db", namespace).data
    assert base64.b64decode(data["A"]) == b"1"


def test_an_owner_list_patch_from_a_stale_read_is_refused(kube_api, kubeconfig) -> None:
    """``ownerReferences`` is replaced whole: a patch computed from a stale read must fail, or it
    would drop an owner someone added meanwhile."""
    import asyncio
    import uuid

    from neon_operator import kube

    namespace = "unserved-" + uuid.uuid4().hex[:8]  # no operator reconciles here
    core = client.CoreV1Api(kube_api)
    objects = client.CustomObjectsApi(kube_api)
    core.create_namespace({"metadata": {"name": namespace}})
    try:
        body = objects.create_namespaced_custom_object(
            "neon.operator.dev",
            "v1alpha1",
            namespace,
            "neonsnapshots",
            {
                "apiVersion": "neon.operator.dev/v1alpha1",
                "kind": "NeonSnapshot",
                "metadata": {"name": "cp"},
                "spec": {"appDatabaseRef": {"name": "app"}},
            },
        )
        ref = kube.ObjectRef(
            kind="NeonSnapshot",
            plural="neonsnapshots",
            name="cp",
            namespace=namespace,
            uid=body["metadata"]["uid"],
        )
        objects.patch_namespaced_custom_object(
            "neon.operator.dev",
            "v1alpha1",
            namespace,
            "neonsnapshots",
            "cp",
            {"metadata": {"labels": {"someone": "else"}}},
        )

        async def scenario() -> None:
            api = await kube.KubeClient.connect(str(kubeconfig))
            try:
                with pytest.raises(kube.Conflict):
                    await api.patch_object(
                        ref,
                        {"metadata": {"ownerReferences": []}},
                        resource_version=body["metadata"]["resourceVersion"],
                    )
            finally:
                await api.close()

        asyncio.run(scenario())
    finally:
        core.delete_namespace(namespace)
