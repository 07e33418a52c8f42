"""NeonRestore: roll a branch back to a NeonSnapshot, exactly once.

::

    NeonSnapshot / its NeonAppDatabase / the target NeonBranch missing or not Ready → Pending
    target branch id → status (kept: the target's id changes when the restore finalizes)
    restored branch: status │ claim the creation (claims: one operator instance); after an
                     earlier claim, a branch restored from this snapshot for this restore
                     (crash) │ POST snapshots/{id}/restore {target_branch_id, finalize_restore}
    Staged and not yet finalize: true → the restored branch gets a read-only compute (found on
        the branch after a crash, else created) and the inspect Secret → AwaitingFinalize
    Staged and finalize: true → delete the read-only compute(s) of the restored branch →
        POST branches/{restored}/finalize_restore (naming the replaced branch
        "<name> (old <restore name>)" when "<name> (old)" is taken by an earlier restore's)
    finalized → delete the inspect Secret → oldBranchPolicy Delete: delete the "(old)" branch
                (kept, with a Warning, while it has children) → annotate the target resource
                with the new branch id → Completed

The target's own reconciler records the new branch id (one writer per status): the
NeonAppDatabase finds it through its compute, which Neon moved to the restored branch; a
NeonBranch checks the announced id's ``restored_as``. Their Secrets stay as they are: the
compute, its host and the role's password are unchanged.

The inspect compute is removed *before* finalizing: Neon moves the target's read-write compute
onto the restored branch, and a read-only compute left there would outlive the inspection. The
inspect Secret's password is the role's password on the restored branch (revealed once; the
app's own Secret is the fallback where Neon stores no passwords): resetting it there would
change the password the app's Secret carries once the branch is swapped in.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

from neon_operator import errors, kube, neon
from neon_operator.models import (
    NeonAppDatabase,
    NeonBranch,
    NeonRestore,
    NeonRestoreStatus,
    NeonSnapshot,
    OldBranchPolicy,
    RestoreMode,
    RestorePhase,
)
from neon_operator.models import branch as branch_model
from neon_operator.models import snapshot as snapshot_model
from neon_operator.models.restore import KIND
from neon_operator.neon import inputs
from neon_operator.reconcilers import (
    claims,
    connection_secret,
    dependents,
    passwords,
    references,
)
from neon_operator.reconcilers.context import Context
from neon_operator.reconcilers.outcomes import Outcomes
from neon_operator.reconcilers.references import PLURALS, namespace_of, object_ref
from neon_operator.reconcilers.reporting import Report

__all__ = ["KIND", "PLURAL", "delete", "reconcile"]

PLURAL: Final = PLURALS[KIND]
READ_ONLY: Final = "read_only"

RestoreReport = Report[NeonRestoreStatus]


@dataclasses.dataclass(frozen=True)
class _Restoring:
    """One pass over a NeonRestore: what every step works on."""

    ctx: Context
    client: neon.NeonClient
    restore: NeonRestore
    report: RestoreReport
    project_id: str
    snapshot_id: str
    target_ref: kube.ObjectRef
    """The resource rolled back: the NeonAppDatabase or a NeonBranch."""
    target_id: str
    """The branch replaced (kept in status: the target's id changes when the restore
    finalizes)."""


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
    if await report.paused(restore.metadata.annotations):
        return
    if restore.status.phase is None:
        report.update(phase=RestorePhase.PENDING)
    guard = Outcomes(
        ctx, report, references.config_name(restore.status), on_invalid="RestoreRejected"
    )
    try:
        async with guard:
            snap = await _ready_snapshot(ctx, report, restore)
            app = await dependents.owning_app(ctx, guard, body, snap.spec.app_database_ref.name)
            await _converge(ctx, restore, snap, app, report)
    except errors.AwaitChange:
        report.update(phase=RestorePhase.FAILED)
        await report.flush()
        raise


async def _ready_snapshot(
    ctx: Context, report: RestoreReport, restore: NeonRestore
) -> NeonSnapshot:
    return await references.read_ready(
        ctx,
        report,
        references.reference(
            snapshot_model.KIND, restore.spec.snapshot_ref.name, namespace_of(restore)
        ),
        parse=NeonSnapshot.model_validate,
        label="NeonSnapshot",
        made=lambda snap: snap.status.snapshot_id,
    )


async def _target(
    ctx: Context, report: RestoreReport, restore: NeonRestore, app: NeonAppDatabase
) -> tuple[kube.ObjectRef, str]:
    """The resource to roll back and its current branch id."""
    ref = restore.spec.target_branch_ref
    if ref is None:
        assert app.status.default_branch_id is not None
        return object_ref(app), app.status.default_branch_id

    async def same_project(target: NeonBranch) -> None:
        if target.spec.app_database_ref.name != app.metadata.name:
            raise errors.AwaitChange(
                "TargetMismatch",
                f"NeonBranch {ref.name!r} belongs to NeonAppDatabase "
                f"{target.spec.app_database_ref.name!r} but the snapshot to NeonAppDatabase "
                f"{app.metadata.name!r}: a snapshot restores within its own project",
            )

    target = await references.read_ready(
        ctx,
        report,
        references.reference(branch_model.KIND, ref.name, namespace_of(restore)),
        parse=NeonBranch.model_validate,
        label="NeonBranch",
        made=lambda target: target.status.branch_id,
        check=same_project,
    )
    assert target.status.branch_id is not None
    return object_ref(target), target.status.branch_id


async def _converge(
    ctx: Context,
    restore: NeonRestore,
    snap: NeonSnapshot,
    app: NeonAppDatabase,
    report: RestoreReport,
) -> None:
    client = await dependents.account_client(
        ctx, app.spec.config_ref.name, namespace=namespace_of(restore)
    )
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
    run = _Restoring(ctx, client, restore, report, project_id, snapshot_id, target_ref, target_id)
    restored_id = status.restored_branch_id
    if restored_id is None:
        restored_id = await _restore_and_swap_if_finalize(run)
    restored = await client.get_branch(project_id, restored_id)
    staged = restore.spec.mode == RestoreMode.STAGED
    if restored.restore_status == "restored":  # not yet finalized
        if staged and not restore.spec.finalize:
            secret_name = await _inspectable(run, app, restored_id)
            report.update(phase=RestorePhase.AWAITING_FINALIZE)
            report.ready(
                "False",
                "AwaitingFinalize",
                f"branch {restored_id} holds snapshot {snapshot_id}'s data; query it read-only "
                f"through Secret {secret_name}, then set spec.finalize: true to swap it in for "
                "the target",
            )
            report.synced("True", "ReconcileSucceeded", "")
            await report.flush()
            return
        if staged:
            await _remove_inspect_computes(run, restored_id)
        await _finalize(run, restored_id)
        await report.event("Normal", "RestoreFinalized", f"branch {restored_id} swapped in")
    if staged:
        await _remove_inspect_secret(run)
    await _finish(run, restored_id)


async def _finalize(run: _Restoring, restored_id: str) -> None:
    """Swap the restored branch in. Neon renames the target ``<name> (old)``; when an earlier
    restore left a branch of that name (``oldBranchPolicy: Retain``, or one Neon would not
    delete), the target is renamed ``<name> (old <restore name>)`` instead."""
    client, project_id = run.client, run.project_id
    try:
        operations = await client.finalize_restore(project_id, restored_id)
    except neon.Conflict as error:
        if "exists" not in error.message.lower():
            raise
        target = await client.get_branch(project_id, run.target_id)
        name = f"{target.name} (old {run.restore.metadata.name})"
        operations = await client.finalize_restore(project_id, restored_id, name=name)
    await client.wait_for_operations(operations)


async def _inspectable(run: _Restoring, app: NeonAppDatabase, restored_id: str) -> str:
    """Give the restored branch a read-only compute and write the inspect Secret; its name."""
    ctx, client, restore, report = run.ctx, run.client, run.restore, run.report
    project_id = run.project_id
    role, database = app.spec.branch.role_name, app.spec.branch.database_name
    endpoint_id, host = report.status.inspect_endpoint_id, report.status.inspect_host
    if endpoint_id is None or host is None:
        endpoint = await _inspect_compute(run, restored_id)
        endpoint_id = endpoint.id
        host = await connection_secret.address(
            client, project_id, endpoint, role=role, database=database, known=None
        )
        report.update(inspect_endpoint_id=endpoint_id, inspect_host=host)
        await report.flush()
    settings = restore.spec.inspect_secret
    desired = connection_secret.desired(
        settings,
        owner=object_ref(restore),
        host=host,
        endpoint_id=endpoint_id,
        user=role,
        database=database,
        field="spec.inspectSecret.name",
    )
    current = await ctx.kube.read_secret(desired.namespace, desired.name)
    password = connection_secret.known_password(current) or await _restored_password(
        run, app, restored_id
    )
    outcome = await connection_secret.write(ctx, report, desired, password, current, record=False)
    previous = report.status.inspect_secret_name
    if previous is not None and previous != desired.name:
        await connection_secret.delete_owned(
            ctx.kube, desired.namespace, previous, restore.metadata.uid or ""
        )
    report.update(inspect_secret_name=desired.name)
    if outcome.action != "unchanged":
        await report.event(
            "Normal",
            "InspectSecretWritten",
            f"Secret {desired.name} reaches restored branch {restored_id} (read-only)",
        )
    return desired.name


async def _inspect_compute(run: _Restoring, restored_id: str) -> neon.Endpoint:
    """The restored branch's read-only compute: found (after a crash) or made now."""
    client, report, project_id = run.client, run.report, run.project_id
    for endpoint in await client.list_endpoints(project_id, branch_id=restored_id):
        if endpoint.type == READ_ONLY:
            return endpoint
    result = await client.create_endpoint(
        project_id, inputs.EndpointCreate(branch_id=restored_id, type=READ_ONLY)
    )
    report.update(inspect_endpoint_id=result.endpoint.id)
    await report.created(
        "InspectComputeCreated",
        f"read-only compute {result.endpoint.id} on restored branch {restored_id}",
    )
    await client.wait_for_operations(result.operations)
    return result.endpoint


async def _restored_password(run: _Restoring, app: NeonAppDatabase, restored_id: str) -> str:
    """The role's password on the restored branch (never reset: see the module docstring)."""
    role = app.spec.branch.role_name
    revealed = await passwords.reveal(run.client, run.project_id, restored_id, role)
    if revealed is not None:
        return revealed
    if app.status.secret_name is not None:
        secret = await run.ctx.kube.read_secret(namespace_of(app), app.status.secret_name)
        known = connection_secret.known_password(secret)
        if known is not None:
            return known
    raise errors.AwaitChange(
        "PasswordUnavailable",
        f"Neon does not reveal role {role!r}'s password (the project stores no passwords) and "
        f"the Secret of NeonAppDatabase {app.metadata.name!r} does not carry it unedited: the "
        "inspect Secret cannot be written; set spec.finalize: true to finalize without it",
    )


async def _remove_inspect_computes(run: _Restoring, restored_id: str) -> None:
    """Delete the restored branch's read-only computes before it is swapped in."""
    client, report, project_id = run.client, run.report, run.project_id
    for endpoint in await client.list_endpoints(project_id, branch_id=restored_id):
        if endpoint.type != READ_ONLY:
            continue
        result = await client.delete_endpoint(project_id, endpoint.id)
        if result is not None:
            await client.wait_for_operations(result.operations)
        await report.event(
            "Normal", "InspectComputeDeleted", f"deleted read-only compute {endpoint.id}"
        )
    report.update(inspect_endpoint_id=None, inspect_host=None)


async def _remove_inspect_secret(run: _Restoring) -> None:
    """Delete the inspect Secret (only one this NeonRestore owns) and record that inspection
    ended."""
    restore, report = run.restore, run.report
    if report.status.inspect_removed:
        return
    namespace = namespace_of(restore)
    names = {restore.spec.inspect_secret.secret_name(restore.metadata.name)}
    if report.status.inspect_secret_name is not None:
        names.add(report.status.inspect_secret_name)
    for name in sorted(names):
        await connection_secret.delete_owned(
            run.ctx.kube, namespace, name, restore.metadata.uid or ""
        )
    report.update(
        inspect_endpoint_id=None, inspect_host=None, inspect_secret_name=None, inspect_removed=True
    )


async def _restore_and_swap_if_finalize(run: _Restoring) -> str:
    """The restored branch: found (after a crash) or made now by ``POST snapshots/{id}/restore``.
    In ``mode: Finalize`` that same call swaps it in for the target (``finalize_restore``),
    unless ``<target> (old)`` is taken: then :func:`_finalize` swaps it, naming the old one."""
    ctx, client, restore, report = run.ctx, run.client, run.restore, run.report
    project_id, snapshot_id, target_id = run.project_id, run.snapshot_id, run.target_id
    await report.flush()  # a deletion after a crash looks for the branch in this project
    found = await claims.claim(
        ctx,
        report,
        made="restoredBranchId",
        find=lambda: _restored_branch(client, restore, project_id, snapshot_id, target_id),
    )
    if found is not None:
        report.update(restored_branch_id=found.id)
        return found.id
    name = staged_name(restore)
    branches = await client.list_branches(project_id)
    target_name = next((b.name for b in branches if b.id == target_id), None)
    old_name_taken = any(b.name == f"{target_name} (old)" for b in branches)
    swap_now = restore.spec.mode == RestoreMode.FINALIZE and not old_name_taken
    report.update(phase=RestorePhase.RESTORING)
    report.ready("False", "Provisioning", f"restoring snapshot {snapshot_id} onto {target_id}")
    await report.flush()
    result = await client.restore_snapshot(
        project_id, snapshot_id, name=name, target_branch_id=target_id, finalize_restore=swap_now
    )
    ctx.crash_after("restore_snapshot")
    report.update(restored_branch_id=result.branch.id)
    await report.created(
        "RestoreStarted",
        f"snapshot {snapshot_id} restored into branch {result.branch.id} for {target_id}",
    )
    await client.wait_for_operations(result.operations)
    return result.branch.id


async def _restored_branch(
    client: neon.NeonClient,
    restore: NeonRestore,
    project_id: str,
    snapshot_id: str,
    target_id: str | None,
) -> neon.Branch | None:
    """The branch this NeonRestore restored from its snapshot, if Neon has it: named after the
    restore (its uid in the name) or, once finalized, in the target's place."""
    name = staged_name(restore)
    for candidate in await client.list_branches(project_id):
        if candidate.restored_from == snapshot_id and (
            candidate.name == name or (target_id is not None and candidate.restored_as == target_id)
        ):
            return candidate
    return None


async def _finish(run: _Restoring, restored_id: str) -> None:
    """After the swap: the replaced branch deleted or kept (``oldBranchPolicy``), the target
    told its new branch id, ``Completed``."""
    client, report, project_id = run.client, run.report, run.project_id
    old_id, target_ref = run.target_id, run.target_ref
    try:
        old = await client.get_branch(project_id, old_id)
        report.update(old_branch_name=old.name)
        present = True
    except neon.NotFound:
        present = False
    deleted = not present
    if present and run.restore.spec.old_branch_policy == OldBranchPolicy.DELETE:
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
    await dependents.nudge(run.ctx, target_ref, restored_id)
    report.update(phase=RestorePhase.COMPLETED, completion_time=run.ctx.clock())
    kept = "deleted" if deleted else f"kept as {report.status.old_branch_name!r}"
    await report.succeeded(
        "Restored",
        f"{target_ref.kind} {target_ref.name} now runs on branch {restored_id} (snapshot "
        f"{run.snapshot_id}); connection strings unchanged; old branch {old_id} {kept}",
    )


async def delete(ctx: Context, body: dict[str, Any]) -> None:
    """A completed restore leaves nothing to clean up; one never finalized deletes the restored
    branch it made (the target was never touched), also one made and never recorded before a
    crash (the creation claim says to look)."""
    restore = NeonRestore.model_validate(body)
    status = restore.status
    if (
        status.phase == RestorePhase.COMPLETED
        or status.project_id is None
        or status.snapshot_id is None
        or (status.restored_branch_id is None and status.creation_requested is None)
    ):
        return
    report: RestoreReport = Report(ctx, object_ref(restore), restore.metadata.generation, status)
    config_name = references.config_name(status)
    async with Outcomes(ctx, report, config_name):
        client = await dependents.account_client(ctx, config_name, namespace=None)
        try:
            if status.restored_branch_id is not None:
                restored = await client.get_branch(status.project_id, status.restored_branch_id)
            else:
                made = await _restored_branch(
                    client, restore, status.project_id, status.snapshot_id, None
                )
                if made is None:
                    return
                restored = made
            if restored.restore_status != "restored":
                return  # finalized: it took the target's place and is the target now
            await client.delete_branch(status.project_id, restored.id)
        except neon.NotFound:
            return
        await report.event(
            "Normal", "RestoreAbandoned", f"deleted unfinalized branch {restored.id}"
        )
