"""NeonSnapshot: take one Neon snapshot of a NeonAppDatabase's default (root) branch.

::

    NeonAppDatabase missing / not Ready → Ready=False ParentNotFound / ParentNotReady (waiting)
    snapshot id in status → nothing to do (a snapshot never changes)
      └─ none: a snapshot of that name of the default branch exists (crash before status)
               → take it over; else create it, id to status at once, wait for its operations

The Neon snapshot name is ``spec.snapshotName`` or ``metadata.name``. Deletion deletes the Neon
snapshot (``deletionPolicy: Delete``); ``NotFound`` (expired, or the project is gone) is success.
"""

from __future__ import annotations

from typing import Any, Final

from neon_operator import kube, neon
from neon_operator.accounts import AccountProblem
from neon_operator.models import DeletionPolicy, NeonSnapshot, NeonSnapshotStatus
from neon_operator.models.snapshot import KIND
from neon_operator.reconcilers import dependents
from neon_operator.reconcilers.context import Context
from neon_operator.reconcilers.reporting import Report

__all__ = ["KIND", "PLURAL", "delete", "object_ref", "reconcile", "snapshot_name"]

PLURAL: Final = "neonsnapshots"

SnapshotReport = Report[NeonSnapshotStatus]


def object_ref(snap: NeonSnapshot) -> kube.ObjectRef:
    """The reference status patches and Events use."""
    return kube.ObjectRef(
        kind=KIND,
        plural=PLURAL,
        name=snap.metadata.name,
        namespace=snap.metadata.namespace,
        uid=snap.metadata.uid or "",
    )


def snapshot_name(snap: NeonSnapshot) -> str:
    """The Neon snapshot's name: ``spec.snapshotName`` or ``metadata.name``."""
    return snap.spec.snapshot_name or snap.metadata.name


async def reconcile(ctx: Context, body: dict[str, Any]) -> None:
    """Converge the NeonSnapshot ``body`` (see the module docstring)."""
    snap = NeonSnapshot.model_validate(body)
    report: SnapshotReport = Report(ctx, object_ref(snap), snap.metadata.generation, snap.status)
    if await report.paused(snap.metadata.annotations):
        return
    guard = dependents.failures(ctx, report, snap.status.config_name or "default")
    async with guard:
        app = await dependents.ready_app_database(
            ctx, report, snap.metadata.namespace or "default", snap.spec.app_database_ref.name
        )
        guard.config_name = app.spec.config_ref.name
        await dependents.adopt_by(ctx, report.ref, body, app)
        if snap.status.snapshot_id is not None:
            report.ready("True", "SnapshotReady", f"Neon snapshot {snap.status.snapshot_id}")
            report.synced("True", "ReconcileSucceeded", "")
            await report.flush()
            return
        client = await dependents.account_client(
            ctx, app.spec.config_ref.name, namespace=snap.metadata.namespace or "default"
        )
        project_id, branch_id = app.status.project_id, app.status.default_branch_id
        assert project_id is not None
        assert branch_id is not None
        report.update(project_id=project_id, config_name=app.spec.config_ref.name)
        name = snapshot_name(snap)
        existing = next(
            (
                s
                for s in await client.list_snapshots(project_id)
                if s.name == name and s.source_branch_id == branch_id
            ),
            None,
        )
        if existing is not None:
            _record(report, existing)
            await report.event("Normal", "SnapshotRecovered", f"took over snapshot {existing.id}")
        else:
            result = await client.create_snapshot(
                project_id, branch_id, name=name, expires_at=snap.spec.expires_at
            )
            ctx.crash_after("create_snapshot")
            _record(report, result.snapshot)
            report.ready("False", "Provisioning", f"Neon is taking snapshot {result.snapshot.id}")
            await report.flush()
            await report.event(
                "Normal", "SnapshotCreated", f"snapshot {result.snapshot.id} of {branch_id}"
            )
            await client.wait_for_operations(result.operations)
        report.ready("True", "SnapshotReady", f"Neon snapshot {report.status.snapshot_id} is ready")
        report.synced("True", "ReconcileSucceeded", "")
        await report.flush()


def _record(report: SnapshotReport, found: neon.Snapshot) -> None:
    report.update(
        snapshot_id=found.id,
        snapshot_name=found.name,
        source_branch_id=found.source_branch_id,
        lsn=found.lsn,
        timestamp=found.timestamp or found.created_at,
        expires_at=found.expires_at,
    )


async def delete(ctx: Context, body: dict[str, Any]) -> None:
    """Delete or keep the Neon snapshot as ``spec.deletionPolicy`` says."""
    snap = NeonSnapshot.model_validate(body)
    report: SnapshotReport = Report(ctx, object_ref(snap), snap.metadata.generation, snap.status)
    status = snap.status
    if status.project_id is None or status.snapshot_id is None:
        return
    if ctx.settings.is_paused(snap.metadata.annotations) or (
        snap.spec.deletion_policy == DeletionPolicy.RETAIN
    ):
        await report.event("Normal", "SnapshotRetained", f"snapshot {status.snapshot_id} kept")
        return
    config_name = status.config_name or "default"
    try:
        client = await dependents.account_client(ctx, config_name, namespace=None)
    except AccountProblem as problem:
        message = f"cannot delete Neon snapshot {status.snapshot_id}: {problem.message}"
        raise await dependents.waiting(ctx, report, problem.reason, message) from None
    async with dependents.failures(ctx, report, config_name):
        try:
            await client.delete_snapshot(status.project_id, status.snapshot_id)
        except neon.NotFound:
            return  # expired, or the project is gone with its NeonAppDatabase
        await report.event("Normal", "SnapshotDeleted", f"deleted snapshot {status.snapshot_id}")
