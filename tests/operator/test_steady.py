"""Which resumed resources need nothing from Neon: complete status, observed generation, nothing
pending in the annotations the operator acts on."""

from __future__ import annotations

import copy
from typing import Any, cast

import pytest

from neon_operator.reconcilers import appdatabase, branch, snapshot
from neon_operator.reconcilers.context import Context

pytestmark = pytest.mark.unit

CTX = Context(kube=cast(Any, None), accounts=cast(Any, None))


def conditions(generation: int, status: str = "True") -> list[dict[str, Any]]:
    return [
        {
            "type": type_,
            "status": status,
            "reason": "Done",
            "lastTransitionTime": "2026-01-01T00:00:00Z",
            "observedGeneration": generation,
        }
        for type_ in ("Ready", "Synced")
    ]


def body(kind: str, spec: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "neon.operator.dev/v1alpha1",
        "kind": kind,
        "metadata": {"name": "todo", "namespace": "team-a", "uid": "u-1", "generation": 3},
        "spec": spec,
        "status": {"observedGeneration": 3, "conditions": conditions(3), **status},
    }


APP = body(
    "NeonAppDatabase",
    {},
    {
        "projectId": "p-1",
        "defaultBranchId": "br-1",
        "endpointId": "ep-1",
        "host": "ep-1.neon.tech",
        "secretName": "todo-neon",
        "lastSyncTime": "2026-01-01T00:00:00Z",
    },
)
BRANCH = body(
    "NeonBranch",
    {"appDatabaseRef": {"name": "shop"}},
    {
        "projectId": "p-1",
        "configName": "default",
        "branchId": "br-2",
        "endpointId": "ep-2",
        "host": "ep-2.neon.tech",
        "secretName": "todo-neon",
    },
)
SNAPSHOT = body("NeonSnapshot", {"appDatabaseRef": {"name": "shop"}}, {"snapshotId": "snap-1"})


def changed(original: dict[str, Any], **paths: Any) -> dict[str, Any]:
    """A copy of ``original`` with ``section__field`` (``status__host``) set (``None``: removed)."""
    result = copy.deepcopy(original)
    for path, value in paths.items():
        section, field = path.split("__")
        if value is None:
            result[section].pop(field, None)
        else:
            result[section][field] = value
    return result


def test_a_complete_observed_resource_of_each_kind_is_settled() -> None:
    assert appdatabase.settled(CTX, APP)
    assert branch.settled(CTX, BRANCH)
    assert snapshot.settled(CTX, SNAPSHOT)


@pytest.mark.parametrize(
    "variant",
    [
        changed(APP, metadata__generation=4),  # spec changed while the operator was down
        changed(APP, status__conditions=conditions(3, "False")),  # last reconcile failed
        changed(APP, status__conditions=conditions(2)),  # conditions of an older generation
        changed(APP, status__observedGeneration=None),
        changed(APP, status__endpointId=None),  # incomplete: created, never finished
        changed(APP, status__secretName=None),
        changed(APP, spec__connectionSecret={"name": "renamed"}),
        changed(APP, spec__passwordRotation="2026-02"),  # a rotation not yet applied
        changed(APP, metadata__annotations={"neon.operator.dev/paused": "true"}),
        changed(APP, metadata__deletionTimestamp="2026-01-01T00:00:00Z"),
    ],
)
def test_an_app_database_with_anything_pending_is_not_settled(variant: dict[str, Any]) -> None:
    assert not appdatabase.settled(CTX, variant)


def test_an_applied_password_rotation_leaves_the_app_database_settled() -> None:
    rotated = changed(APP, spec__passwordRotation="2026-02")
    rotated["status"]["passwordRotation"] = "2026-02"
    assert appdatabase.settled(CTX, rotated)


@pytest.mark.parametrize(
    "variant",
    [
        changed(BRANCH, status__branchId=None),
        changed(BRANCH, status__host=None),
        changed(BRANCH, metadata__annotations={"neon.operator.dev/restored-branch-id": "br-9"}),
        changed(BRANCH, metadata__generation=5),
    ],
)
def test_a_branch_with_anything_pending_is_not_settled(variant: dict[str, Any]) -> None:
    assert not branch.settled(CTX, variant)


def test_a_branch_without_compute_needs_no_endpoint_or_secret() -> None:
    bare = changed(
        BRANCH,
        spec__compute={"type": "None"},
        status__endpointId=None,
        status__host=None,
        status__secretName=None,
    )
    assert branch.settled(CTX, bare)
    assert branch.target(bare).secret is None


def test_a_snapshot_not_yet_taken_is_not_settled() -> None:
    assert not snapshot.settled(CTX, changed(SNAPSHOT, status__snapshotId=None))


def test_the_scheduler_keeps_each_resources_neonconfig_and_secret() -> None:
    app = appdatabase.target(changed(APP, spec__configRef={"name": "paid-key"}))
    assert (app.kind, app.namespace, app.name, app.uid) == (
        "NeonAppDatabase",
        "team-a",
        "todo",
        "u-1",
    )
    assert (app.lane, app.secret) == ("paid-key", "todo-neon")
    dev = branch.target(BRANCH)
    assert (dev.lane, dev.secret) == ("default", "todo-neon")


def test_a_drift_check_costs_more_with_neon_auth_and_the_data_api() -> None:
    assert appdatabase.target(APP).calls == 2
    assert appdatabase.target(changed(APP, spec__auth={})).calls == 2 + 3
    assert appdatabase.target(changed(APP, spec__dataApi={})).calls == 2 + 1
    both = changed(BRANCH, spec__auth={}, spec__dataApi={})
    assert branch.target(both).calls == 2 + 3 + 1
    off = changed(APP, spec__auth={"enabled": False}, spec__dataApi={"enabled": False})
    assert appdatabase.target(off).calls == 2
