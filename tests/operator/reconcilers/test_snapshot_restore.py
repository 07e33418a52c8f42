"""NeonSnapshot and NeonRestore reconcilers on the in-memory Kube and the emulator: snapshots
(waiting, paused, deletion policies, crash recovery and deletion after a crash), restores in
every mode (Finalize, Staged) with either oldBranchPolicy, onto the app or a NeonBranch, the
"(old)" naming collision, an old branch kept for its children, crash recovery, deletion."""

from __future__ import annotations

from typing import Any

import pytest

from neon_operator import errors

pytestmark = pytest.mark.integration

APPS = "neonappdatabases"
SNAPSHOTS = "neonsnapshots"
RESTORES = "neonrestores"


async def app_with_snapshot(op) -> dict[str, Any]:
    """A Ready NeonAppDatabase ``todo`` and a Ready NeonSnapshot ``cp`` of it; the app's status."""
    op.apply(APPS, "todo", {"tier": "free"})
    await op.reconcile(APPS, "todo")
    op.apply(SNAPSHOTS, "cp", {"appDatabaseRef": {"name": "todo"}})
    await op.reconcile(SNAPSHOTS, "cp")
    return op.status(APPS, "todo")


async def crash_right_after_snapshot(op) -> None:
    """A Ready app ``todo``; the operator dies right after Neon answered the create of
    NeonSnapshot ``cp``."""
    op.apply(APPS, "todo", {"tier": "free"})
    await op.reconcile(APPS, "todo")
    op.apply(SNAPSHOTS, "cp", {"appDatabaseRef": {"name": "todo"}})
    op.crash_after("create_snapshot")
    with pytest.raises(op.Crash):
        await op.reconcile(SNAPSHOTS, "cp")


async def crash_right_after_restore(op, mode: str) -> dict[str, Any]:
    """:func:`app_with_snapshot`, then the operator dies right after Neon answered the restore
    of NeonRestore ``undo``; the app's status."""
    app = await app_with_snapshot(op)
    op.apply(RESTORES, "undo", {"snapshotRef": {"name": "cp"}, "mode": mode})
    op.crash_after("restore_snapshot")
    with pytest.raises(op.Crash):
        await op.reconcile(RESTORES, "undo")
    return app


async def snapshots_of(neon_api, project_id: str) -> list[dict[str, Any]]:
    return list((await neon_api.get(f"/projects/{project_id}/snapshots"))["snapshots"])


async def branch_names(neon_api, project_id: str) -> list[str]:
    return sorted(b["name"] for b in await neon_api.branches(project_id))


async def test_a_snapshot_is_taken_once_and_a_crash_after_create_makes_no_twin(
    op, neon_api
) -> None:
    await crash_right_after_snapshot(op)

    await op.reconcile(SNAPSHOTS, "cp")
    await op.reconcile(SNAPSHOTS, "cp")

    project_id = op.status(APPS, "todo")["projectId"]
    snapshots = await snapshots_of(neon_api, project_id)
    assert [s["id"] for s in snapshots] == [op.status(SNAPSHOTS, "cp")["snapshotId"]]
    assert "SnapshotRecovered" in op.reasons("cp")
    assert op.condition(SNAPSHOTS, "cp")["status"] == "True"


async def test_a_crash_after_create_makes_no_twin_when_a_restore_replaced_the_branch_meanwhile(
    op, neon_api
) -> None:
    """Found while building the crash loop (#12): the snapshot made before the crash is of the
    default branch of then; a restore swapped in another one before the snapshot was reconciled
    again."""
    app = await app_with_snapshot(op)
    op.apply(SNAPSHOTS, "later", {"appDatabaseRef": {"name": "todo"}})
    op.crash_after("create_snapshot")
    with pytest.raises(op.Crash):
        await op.reconcile(SNAPSHOTS, "later")
    op.apply(RESTORES, "undo", {"snapshotRef": {"name": "cp"}, "oldBranchPolicy": "Delete"})
    await op.reconcile(RESTORES, "undo")
    await op.reconcile(APPS, "todo")
    assert op.status(APPS, "todo")["defaultBranchId"] != app["defaultBranchId"]

    await op.reconcile(SNAPSHOTS, "later")

    later = [s for s in await snapshots_of(neon_api, app["projectId"]) if s["name"] == "later"]
    assert [s["id"] for s in later] == [op.status(SNAPSHOTS, "later")["snapshotId"]]
    assert later[0]["source_branch_id"] == app["defaultBranchId"]
    assert "SnapshotRecovered" in op.reasons("later")


@pytest.mark.parametrize(("policy", "kept"), [("Delete", False), ("Retain", True)])
async def test_deleting_a_snapshot_follows_its_deletion_policy(
    op, neon_api, policy: str, kept: bool
) -> None:
    op.apply(APPS, "todo", {"tier": "free"})
    await op.reconcile(APPS, "todo")
    op.apply(SNAPSHOTS, "cp", {"appDatabaseRef": {"name": "todo"}, "deletionPolicy": policy})
    await op.reconcile(SNAPSHOTS, "cp")
    project_id = op.status(APPS, "todo")["projectId"]

    await op.delete(SNAPSHOTS, "cp")

    snapshots = await snapshots_of(neon_api, project_id)
    assert bool(snapshots) is kept
    assert not op.exists(SNAPSHOTS, "cp")


async def test_a_finalize_restore_swaps_the_default_branch_keeps_the_secret_drops_the_old(
    op, neon_api
) -> None:
    app = await app_with_snapshot(op)
    secret = await op.secret("todo-neon")
    spec = {"snapshotRef": {"name": "cp"}, "mode": "Finalize", "oldBranchPolicy": "Delete"}
    op.apply(RESTORES, "undo", spec)

    await op.reconcile(RESTORES, "undo")
    await op.reconcile(APPS, "todo")  # the app follows the announced replacement

    restore = op.status(RESTORES, "undo")
    assert restore["phase"] == "Completed"
    assert restore["oldBranchDeleted"] is True
    assert await branch_names(neon_api, app["projectId"]) == ["main"]
    assert op.status(APPS, "todo")["defaultBranchId"] == restore["restoredBranchId"]
    assert op.status(APPS, "todo")["defaultBranchId"] != app["defaultBranchId"]
    assert "DefaultBranchReplaced" in op.reasons("todo")
    assert await op.secret("todo-neon") == secret


async def test_a_completed_restore_never_runs_again(op, neon_api) -> None:
    app = await app_with_snapshot(op)
    op.apply(RESTORES, "undo", {"snapshotRef": {"name": "cp"}, "mode": "Finalize"})
    await op.reconcile(RESTORES, "undo")
    branches = await neon_api.branches(app["projectId"])

    await op.reconcile(RESTORES, "undo")

    assert await neon_api.branches(app["projectId"]) == branches


async def test_a_staged_restore_is_inspectable_until_finalized(op, neon_api) -> None:
    app = await app_with_snapshot(op)
    spec = {"snapshotRef": {"name": "cp"}, "mode": "Staged", "oldBranchPolicy": "Retain"}
    op.apply(RESTORES, "undo", spec)

    await op.reconcile(RESTORES, "undo")
    staged = op.status(RESTORES, "undo")
    inspect = await op.secret(staged["inspectSecretName"])
    before = op.status(APPS, "todo")["defaultBranchId"]
    op.edit(RESTORES, "undo", {"spec": {"finalize": True}})
    await op.reconcile(RESTORES, "undo")

    assert staged["phase"] == "AwaitingFinalize"
    assert op.condition(RESTORES, "undo")["reason"] == "Restored"
    assert before == app["defaultBranchId"]  # nothing swapped while staged
    assert inspect["PGHOST_UNPOOLED"] == staged["inspectHost"]
    assert await op.kube.read_secret("apps", staged["inspectSecretName"]) is None
    assert await branch_names(neon_api, app["projectId"]) == ["main", "main (old)"]
    endpoints = (await neon_api.get(f"/projects/{app['projectId']}/endpoints"))["endpoints"]
    assert [e["type"] for e in endpoints] == ["read_write"]  # the inspect compute is gone


async def test_deleting_an_unfinalized_staged_restore_drops_its_branch(op, neon_api) -> None:
    app = await app_with_snapshot(op)
    op.apply(RESTORES, "undo", {"snapshotRef": {"name": "cp"}, "mode": "Staged"})
    await op.reconcile(RESTORES, "undo")
    staged = await branch_names(neon_api, app["projectId"])

    await op.delete(RESTORES, "undo")

    assert len(staged) == 2
    assert await branch_names(neon_api, app["projectId"]) == ["main"]
    assert "RestoreAbandoned" in op.reasons("undo")


@pytest.mark.parametrize("mode", ["Finalize", "Staged"])
async def test_a_second_restore_names_its_old_branch_after_itself(op, neon_api, mode: str) -> None:
    app = await app_with_snapshot(op)
    spec = {"snapshotRef": {"name": "cp"}, "mode": "Finalize", "oldBranchPolicy": "Retain"}
    op.apply(RESTORES, "first", spec)
    await op.reconcile(RESTORES, "first")
    await op.reconcile(APPS, "todo")

    op.apply(RESTORES, "second", {"snapshotRef": {"name": "cp"}, "mode": mode})
    await op.reconcile(RESTORES, "second")
    if mode == "Staged":  # Neon's finalize answers 409: the name is taken
        op.edit(RESTORES, "second", {"spec": {"finalize": True}})
        await op.reconcile(RESTORES, "second")

    assert op.status(RESTORES, "first")["oldBranchName"] == "main (old)"
    assert op.status(RESTORES, "second")["phase"] == "Completed"
    assert op.status(RESTORES, "second")["oldBranchName"] == "main (old second)"
    assert await branch_names(neon_api, app["projectId"]) == [
        "main",
        "main (old second)",
        "main (old)",
    ]


async def test_a_paused_restore_does_nothing(op, neon_api) -> None:
    app = await app_with_snapshot(op)
    paused = {op.settings.paused_annotation: "true"}
    op.apply(RESTORES, "undo", {"snapshotRef": {"name": "cp"}}, annotations=paused)

    await op.reconcile(RESTORES, "undo")

    assert await branch_names(neon_api, app["projectId"]) == ["main"]
    assert op.condition(RESTORES, "undo", "Synced")["reason"] == "Paused"


async def test_a_restore_onto_a_neon_branch_swaps_that_branch_only(op) -> None:
    app = await app_with_snapshot(op)
    op.apply("neonbranches", "dev", {"appDatabaseRef": {"name": "todo"}})
    await op.reconcile("neonbranches", "dev")
    before = op.status("neonbranches", "dev")
    spec = {"snapshotRef": {"name": "cp"}, "targetBranchRef": {"name": "dev"}, "mode": "Finalize"}
    op.apply(RESTORES, "undo", spec)

    await op.reconcile(RESTORES, "undo")
    await op.reconcile("neonbranches", "dev")  # the branch follows the announced replacement

    after = op.status("neonbranches", "dev")
    assert after["branchId"] == op.status(RESTORES, "undo")["restoredBranchId"]
    assert after["branchId"] != before["branchId"]
    assert after["endpointId"] == before["endpointId"]  # same compute, same Secret
    assert op.status(APPS, "todo")["defaultBranchId"] == app["defaultBranchId"]
    assert "BranchRestored" in op.reasons("dev")


async def test_a_snapshot_waits_for_its_app_then_is_taken(op, neon_api) -> None:
    op.apply(SNAPSHOTS, "cp", {"appDatabaseRef": {"name": "todo"}})
    with pytest.raises(errors.RetryLater) as waiting:
        await op.reconcile(SNAPSHOTS, "cp")
    op.apply(APPS, "todo", {"tier": "free"})
    await op.reconcile(APPS, "todo")

    await op.reconcile(SNAPSHOTS, "cp")

    assert waiting.value.reason == "ParentNotFound"
    project_id = op.status(APPS, "todo")["projectId"]
    snapshots = await snapshots_of(neon_api, project_id)
    assert [s["id"] for s in snapshots] == [op.status(SNAPSHOTS, "cp")["snapshotId"]]
    assert op.condition(SNAPSHOTS, "cp")["reason"] == "SnapshotReady"


async def test_a_paused_snapshot_is_neither_taken_nor_deleted(op, neon_api) -> None:
    app = await app_with_snapshot(op)
    paused = {op.settings.paused_annotation: "true"}
    op.edit(SNAPSHOTS, "cp", {"metadata": {"annotations": paused}})
    op.apply(SNAPSHOTS, "later", {"appDatabaseRef": {"name": "todo"}}, annotations=paused)

    await op.reconcile(SNAPSHOTS, "later")
    await op.delete(SNAPSHOTS, "cp")

    snapshots = await snapshots_of(neon_api, app["projectId"])
    assert [s["name"] for s in snapshots] == ["cp"]
    assert op.condition(SNAPSHOTS, "later", "Synced")["reason"] == "Paused"
    assert "SnapshotRetained" in op.reasons("cp")
    assert not op.exists(SNAPSHOTS, "cp")


async def test_deleting_after_a_crash_before_status_deletes_the_snapshot_it_made(
    op, neon_api
) -> None:
    await crash_right_after_snapshot(op)
    crashed = op.status(SNAPSHOTS, "cp")
    project_id = op.status(APPS, "todo")["projectId"]
    made = await snapshots_of(neon_api, project_id)

    await op.delete(SNAPSHOTS, "cp")

    assert crashed.get("creationRequested")
    assert "snapshotId" not in crashed
    assert len(made) == 1
    assert await snapshots_of(neon_api, project_id) == []
    assert "SnapshotDeleted" in op.reasons("cp")


async def test_a_restore_waits_for_its_snapshot(op) -> None:
    op.apply(APPS, "todo", {"tier": "free"})
    await op.reconcile(APPS, "todo")
    op.apply(RESTORES, "undo", {"snapshotRef": {"name": "cp"}})

    with pytest.raises(errors.RetryLater) as waiting:
        await op.reconcile(RESTORES, "undo")

    assert waiting.value.reason == op.condition(RESTORES, "undo")["reason"] == "ParentNotFound"
    assert op.status(RESTORES, "undo")["phase"] == "Pending"


async def test_a_staged_restore_with_policy_delete_drops_the_replaced_branch(op, neon_api) -> None:
    app = await app_with_snapshot(op)
    spec = {"snapshotRef": {"name": "cp"}, "mode": "Staged", "oldBranchPolicy": "Delete"}
    op.apply(RESTORES, "undo", spec)
    await op.reconcile(RESTORES, "undo")
    staged = await branch_names(neon_api, app["projectId"])

    op.edit(RESTORES, "undo", {"spec": {"finalize": True}})
    await op.reconcile(RESTORES, "undo")
    await op.reconcile(APPS, "todo")

    restore = op.status(RESTORES, "undo")
    assert len(staged) == 2
    assert (restore["phase"], restore["oldBranchDeleted"]) == ("Completed", True)
    assert restore["inspectRemoved"] is True
    assert await branch_names(neon_api, app["projectId"]) == ["main"]
    assert op.status(APPS, "todo")["defaultBranchId"] == restore["restoredBranchId"]
    assert {"RestoreFinalized", "OldBranchDeleted"} <= set(op.reasons("undo"))


async def test_an_old_branch_with_children_is_kept_despite_policy_delete(op, neon_api) -> None:
    app = await app_with_snapshot(op)
    op.apply("neonbranches", "dev", {"appDatabaseRef": {"name": "todo"}})
    await op.reconcile("neonbranches", "dev")
    spec = {"snapshotRef": {"name": "cp"}, "mode": "Finalize", "oldBranchPolicy": "Delete"}
    op.apply(RESTORES, "undo", spec)

    await op.reconcile(RESTORES, "undo")

    restore = op.status(RESTORES, "undo")
    assert (restore["phase"], restore["oldBranchDeleted"]) == ("Completed", False)
    assert restore["oldBranchName"] == "main (old)"
    assert "OldBranchRetained" in op.reasons("undo")
    assert await branch_names(neon_api, app["projectId"]) == ["dev", "main", "main (old)"]
    assert op.condition(RESTORES, "undo")["status"] == "True"


@pytest.mark.parametrize(
    ("mode", "phase"), [("Staged", "AwaitingFinalize"), ("Finalize", "Completed")]
)
async def test_a_crash_after_the_restore_call_finds_the_restored_branch(
    op, neon_api, mode: str, phase: str
) -> None:
    app = await crash_right_after_restore(op, mode)

    await op.reconcile(RESTORES, "undo")
    await op.reconcile(APPS, "todo")

    restore = op.status(RESTORES, "undo")
    branches = await neon_api.branches(app["projectId"])
    assert len(branches) == 2  # one restored branch, no second restore
    assert restore["phase"] == phase
    assert restore["restoredBranchId"] in [b["id"] for b in branches]
    finalized = op.status(APPS, "todo")["defaultBranchId"] == restore["restoredBranchId"]
    assert finalized is (mode == "Finalize")


async def test_deleting_after_a_crash_before_status_drops_the_branch_it_restored(
    op, neon_api
) -> None:
    app = await crash_right_after_restore(op, "Staged")
    crashed = op.status(RESTORES, "undo")
    made = await branch_names(neon_api, app["projectId"])

    await op.delete(RESTORES, "undo")

    assert crashed.get("creationRequested")
    assert "restoredBranchId" not in crashed
    assert len(made) == 2
    assert await branch_names(neon_api, app["projectId"]) == ["main"]
    assert "RestoreAbandoned" in op.reasons("undo")


async def test_deleting_a_completed_restore_leaves_neon_as_it_is(op, neon_api) -> None:
    app = await app_with_snapshot(op)
    op.apply(RESTORES, "undo", {"snapshotRef": {"name": "cp"}, "mode": "Finalize"})
    await op.reconcile(RESTORES, "undo")
    branches = await neon_api.branches(app["projectId"])

    await op.delete(RESTORES, "undo")

    assert not op.exists(RESTORES, "undo")
    assert await neon_api.branches(app["projectId"]) == branches
    assert "RestoreAbandoned" not in op.reasons("undo")


async def test_deleting_the_app_collects_its_snapshots_and_restores(op) -> None:
    await app_with_snapshot(op)
    op.apply(RESTORES, "undo", {"snapshotRef": {"name": "cp"}, "mode": "Staged"})
    await op.reconcile(RESTORES, "undo")

    await op.delete(APPS, "todo")

    # The garbage collector deletes them (their ownerReferences name the app); their
    # finalizers then run, and Neon's NotFound (the project is gone) counts as done.
    for plural, name in ((SNAPSHOTS, "cp"), (RESTORES, "undo")):
        assert op.body(plural, name)["metadata"]["deletionTimestamp"]
        await op.delete(plural, name)
        assert not op.exists(plural, name)
