"""NeonRestore: roll a branch back to a NeonSnapshot, exactly once.

::

    NeonSnapshot / its NeonAppDatabase / the target NeonBranch missing or not Ready → Pending
    target branch id → status (kept: the target's id changes when the restore finalizes)
    restored branch: status │ a branch restored from this snapshot for this restore (crash) │
                     POST snapshots/{id}/restore {target_branch_id, finalize_restore: Finalize}
    Staged and not yet finalize: true → AwaitingFinalize (restored branch id in status)
    Staged and finalize: true → POST branches/{restored}/finalize_restore
    finalized → oldBranchPolicy Delete: delete the "(old)" branch (kept, with a Warning, while it
                has children) → annotate the target resource with the new branch id → Completed

The target's own reconciler records the new branch id (one writer per status): the
NeonAppDatabase finds it through its compute, which Neon moved to the restored branch; a
NeonBranch checks the announced id's ``restored_as``. Their Secrets stay as they are: the
compute, its host and the role's password are unchanged.
"""

from __future__ import annotations

from typing import Any, Final

from neon_operator import errors, kube, neon
from neon_operator.models import (
    READY,
    NeonAppDatabase,
    NeonBranch,
    NeonRestore,
    NeonRestoreStatus,
    NeonSnapshot,
    OldBranchPolicy,
    RestoreMode,
    RestorePhase,
)
from neon_operator.models.restore import KIND
from neon_operator.reconcilers import appdatabase, branch, dependents, snapshot
from neon_operator.reconcilers.context import Context
from neon_operator.reconcilers.reporting import Report

__all__ = ["KIND", "PLURAL", "delete", "object_ref", "reconcile"]

PLURAL: Final = "neonrestores"

RestoreReport = Report[NeonRestoreStatus]


def object_ref(restore: NeonRestore) -> kube.ObjectRef:
    """The reference status patches and Events use."""
    return kube.ObjectRef(
        kind=KIND,
        plural=PLURAL,
        name=restore.metadata.name,
        namespace=restore.metadata.namespace,
        uid=restore.metadata.uid or "",
    )


def staged_name(restore: NeonRestore) -> str:
    """The name of the restored branch until it is finalized (then it takes the target's)."""
    return f"{restore.metadata.name}-{(restore.metadata.uid or '')[:8]}"


async def reconcile(ctx: Context, body: dict[str, Any]) -> None:
    """Move the NeonRestore ``body`` forward (see the module docstring)."""
    restore = NeonRestore.model_validate(body)
    report: RestoreReport = Report(
        ctx, object_ref(restore), restore.metadata.generation, restore.status
    )
    if restore.status.phase == RestorePhase.COMPLETED:
        return  # a restore happens once
    if ctx.settings.is_paused(restore.metadata.annotations):
        report.synced("False", "Paused", "reconciliation is paused by annotation")
        await report.flush()
        return
    if restore.status.phase is None:
        report.update(phase=RestorePhase.PENDING)
    guard = dependents.failures(
        ctx, report, restore.status.config_name or "default", on_invalid="RestoreRejected"
    )
    try:
        async with guard:
            snap = await _ready_snapshot(ctx, report, restore)
            app = await dependents.ready_app_database(
                ctx, report, _namespace(restore), snap.spec.app_database_ref.name
            )
            guard.config_name = app.spec.config_ref.name
            owners = list(body.get("metadata", {}).get("ownerReferences") or [])
            await dependents.adopt_by(ctx, report.ref, owners, app)
            await _converge(ctx, restore, snap, app, report)
    except errors.AwaitChange:
        report.update(phase=RestorePhase.FAILED)
        await report.flush()
        raise


def _namespace(restore: NeonRestore) -> str:
    return restore.metadata.namespace or "default"


async def _ready_snapshot(
    ctx: Context, report: RestoreReport, restore: NeonRestore
) -> NeonSnapshot:
    name = restore.spec.snapshot_ref.name
    ref = kube.ObjectRef(
        kind=snapshot.KIND, plural=snapshot.PLURAL, name=name, namespace=_namespace(restore), uid=""
    )
    body = await ctx.kube.read_object(ref)
    if body is None:
        raise await dependents.waiting(
            ctx,
            report,
            "ParentNotFound",
            f"NeonSnapshot {name!r} does not exist in namespace {_namespace(restore)!r}; waiting",
        )
    snap = NeonSnapshot.model_validate(body)
    ready = snap.status.condition(READY)
    if snap.status.snapshot_id is None or ready is None or ready.status != "True":
        raise await dependents.waiting(
            ctx, report, "ParentNotReady", f"NeonSnapshot {name!r} is not Ready yet; waiting"
        )
    return snap


async def _target(
    ctx: Context, report: RestoreReport, restore: NeonRestore, app: NeonAppDatabase
) -> tuple[kube.ObjectRef, str]:
    """The resource to roll back and its current branch id."""
    ref = restore.spec.target_branch_ref
    namespace = _namespace(restore)
    if ref is None:
        assert app.status.default_branch_id is not None
        return appdatabase.object_ref(app), app.status.default_branch_id
    target_ref = kube.ObjectRef(
        kind=branch.KIND, plural=branch.PLURAL, name=ref.name, namespace=namespace, uid=""
    )
    body = await ctx.kube.read_object(target_ref)
    if body is None:
        raise await dependents.waiting(
            ctx, report, "ParentNotFound", f"NeonBranch {ref.name!r} does not exist; waiting"
        )
    target = NeonBranch.model_validate(body)
    if target.spec.app_database_ref.name != app.metadata.name:
        raise errors.AwaitChange(
            "TargetMismatch",
            f"NeonBranch {ref.name!r} belongs to NeonAppDatabase "
            f"{target.spec.app_database_ref.name!r} but the snapshot to NeonAppDatabase "
            f"{app.metadata.name!r}: a snapshot restores within its own project",
        )
    ready = target.status.condition(READY)
    if target.status.branch_id is None or ready is None or ready.status != "True":
        raise await dependents.waiting(
            ctx, report, "ParentNotReady", f"NeonBranch {ref.name!r} is not Ready yet; waiting"
        )
    return branch.object_ref(target), target.status.branch_id


async def _converge(
    ctx: Context,
    restore: NeonRestore,
    snap: NeonSnapshot,
    app: NeonAppDatabase,
    report: RestoreReport,
) -> None:
    client = await dependents.account_client(ctx, app.spec.config_ref.name)
    project_id = app.status.project_id
    snapshot_id = snap.status.snapshot_id
    assert project_id is not None
    assert snapshot_id is not None
    target_ref, current_id = await _target(ctx, report, restore, app)
    status = report.status
    target_id = status.target_branch_id or current_id
    report.update(
        project_id=project_id,
        config_name=app.spec.config_ref.name,
        snapshot_id=snapshot_id,
        target_branch_id=target_id,
        target=f"{target_ref.kind}/{target_ref.name}",
    )
    restored_id = status.restored_branch_id
    if restored_id is None:
        restored_id = await _restore(ctx, client, restore, report, project_id, target_id)
    restored = await client.get_branch(project_id, restored_id)
    if restored.restore_status == "restored":  # not yet finalized
        if restore.spec.mode == RestoreMode.STAGED and not restore.spec.finalize:
            report.update(phase=RestorePhase.AWAITING_FINALIZE)
            report.ready(
                "False",
                "AwaitingFinalize",
                f"branch {restored_id} holds snapshot {snapshot_id}'s data; inspect it, then set "
                "spec.finalize: true to swap it in for the target",
            )
            report.synced("True", "ReconcileSucceeded", "")
            await report.flush()
            return
        operations = await client.finalize_restore(project_id, restored_id)
        await client.wait_for_operations(operations)
        await report.event("Normal", "RestoreFinalized", f"branch {restored_id} swapped in")
    await _finish(ctx, client, restore, report, project_id, target_ref, target_id, restored_id)


async def _restore(
    ctx: Context,
    client: neon.NeonClient,
    restore: NeonRestore,
    report: RestoreReport,
    project_id: str,
    target_id: str,
) -> str:
    """The restored branch: found (after a crash) or made now."""
    snapshot_id = report.status.snapshot_id
    name = staged_name(restore)
    for candidate in await client.list_branches(project_id):
        if candidate.restored_from == snapshot_id and (
            candidate.name == name or candidate.restored_as == target_id
        ):
            return candidate.id
    assert snapshot_id is not None
    report.update(phase=RestorePhase.RESTORING)
    report.ready("False", "Provisioning", f"restoring snapshot {snapshot_id} onto {target_id}")
    await report.flush()
    result = await client.restore_snapshot(
        project_id,
        snapshot_id,
        name=name,
        target_branch_id=target_id,
        finalize_restore=restore.spec.mode == RestoreMode.FINALIZE,
    )
    ctx.crash_after("restore_snapshot")
    report.update(restored_branch_id=result.branch.id)
    await report.flush()
    await report.event(
        "Normal",
        "RestoreStarted",
        f"snapshot {snapshot_id} restored into branch {result.branch.id} for {target_id}",
    )
    await client.wait_for_operations(result.operations)
    return result.branch.id


async def _finish(
    ctx: Context,
    client: neon.NeonClient,
    restore: NeonRestore,
    report: RestoreReport,
    project_id: str,
    target_ref: kube.ObjectRef,
    old_id: str,
    restored_id: str,
) -> None:
    try:
        old = await client.get_branch(project_id, old_id)
        report.update(old_branch_name=old.name)
        present = True
    except neon.NotFound:
        present = False
    deleted = not present
    if present and restore.spec.old_branch_policy == OldBranchPolicy.DELETE:
        try:
            await client.delete_branch(project_id, old_id)
            deleted = True
            await report.event("Normal", "OldBranchDeleted", f"deleted replaced branch {old_id}")
        except neon.InvalidRequestError as error:
            await report.event(
                "Warning",
                "OldBranchRetained",
                f"replaced branch {old_id} kept: Neon refused to delete it ({error.message})",
            )
    report.update(old_branch_deleted=deleted)
    await dependents.nudge(ctx, target_ref, restored_id)
    report.update(phase=RestorePhase.COMPLETED, completion_time=ctx.clock())
    kept = "deleted" if deleted else f"kept as {report.status.old_branch_name!r}"
    report.ready(
        "True",
        "Restored",
        f"{target_ref.kind} {target_ref.name} now runs on branch {restored_id} (snapshot "
        f"{report.status.snapshot_id}); connection strings unchanged; old branch {old_id} {kept}",
    )
    report.synced("True", "ReconcileSucceeded", "")
    await report.flush()


async def delete(ctx: Context, body: dict[str, Any]) -> None:
    """A completed restore leaves nothing to clean up; a staged one never finalized deletes the
    restored branch it made (the target was never touched)."""
    restore = NeonRestore.model_validate(body)
    status = restore.status
    if (
        status.phase != RestorePhase.AWAITING_FINALIZE
        or status.project_id is None
        or status.restored_branch_id is None
    ):
        return
    report: RestoreReport = Report(ctx, object_ref(restore), restore.metadata.generation, status)
    config_name = status.config_name or "default"
    async with dependents.failures(ctx, report, config_name):
        client = await dependents.account_client(ctx, config_name)
        try:
            await client.delete_branch(status.project_id, status.restored_branch_id)
        except neon.NotFound:
            return
        await report.event(
            "Normal", "RestoreAbandoned", f"deleted unfinalized branch {status.restored_branch_id}"
        )
