"""NeonSnapshot: take one Neon snapshot of a NeonAppDatabase's default (root) branch.

::

    NeonAppDatabase missing / not Ready → Ready=False ParentNotFound / ParentNotReady (waiting)
    snapshot id in status → nothing to do (a snapshot never changes)
    _recover   none: claim the creation (claims: one operator instance, at the version read);
               after an earlier claim, a snapshot of that name of the default branch (made
               before a crash) → take it over
    _create    else create it, id to status at once, wait for it

The Neon snapshot name is ``spec.snapshotName`` or ``metadata.name``. Neon's snapshots carry no
annotations, so the name and source branch are what identify one made before a crash; they are
looked up only when this resource claimed a creation before. Deletion deletes the Neon snapshot
(``deletionPolicy: Delete``), also one created and never recorded (the claim says to look);
``NotFound`` (expired, or the project is gone) is success.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Final

from neon_operator import neon
from neon_operator.models import DeletionPolicy, NeonSnapshot, NeonSnapshotStatus
from neon_operator.models.snapshot import KIND
from neon_operator.reconcilers import claims, dependents, references, steady
from neon_operator.reconcilers.context import Context
from neon_operator.reconcilers.outcomes import Outcomes
from neon_operator.reconcilers.references import PLURALS, namespace_of, object_ref
from neon_operator.reconcilers.reporting import Report

__all__ = ["KIND", "PLURAL", "delete", "reconcile", "settled", "snapshot_name"]

PLURAL: Final = PLURALS[KIND]

SnapshotReport = Report[NeonSnapshotStatus]


def snapshot_name(snap: NeonSnapshot) -> str:
    """The Neon snapshot's name: ``spec.snapshotName`` or ``metadata.name``."""
    return snap.spec.snapshot_name or snap.metadata.name


async def reconcile(ctx: Context, body: dict[str, Any]) -> None:
    """Converge the NeonSnapshot ``body`` (see the module docstring)."""
    snap = NeonSnapshot.model_validate(body)
    report: SnapshotReport = Report(ctx, object_ref(snap), snap.metadata.generation, snap.status)
    if await report.paused(snap.metadata.annotations):
        return
    async with Outcomes(ctx, report, references.config_name(snap.status)) as guard:
        app = await dependents.owning_app(ctx, guard, body, snap.spec.app_database_ref.name)
        if snap.status.snapshot_id is not None:  # observe: a snapshot never changes
            await report.succeeded("SnapshotReady", f"Neon snapshot {snap.status.snapshot_id}")
            return
        client = await dependents.account_client(
            ctx, app.spec.config_ref.name, namespace=namespace_of(snap)
        )
        project_id, branch_id = app.status.project_id, app.status.default_branch_id
        assert project_id is not None
        assert branch_id is not None
        report.update(
            project_id=project_id, config_name=app.spec.config_ref.name, source_branch_id=branch_id
        )
        await report.flush()  # a deletion after a crash looks for the snapshot here
        # An earlier claim's snapshot is of the default branch of then (snap.status, recorded
        # before that claim): a restore may have swapped in another one since.
        sources = {b for b in (branch_id, snap.status.source_branch_id) if b}
        if not await _recover(ctx, client, report, snapshot_name(snap), sources):
            await _create(ctx, client, snap, report, project_id, branch_id)
        await report.succeeded(
            "SnapshotReady", f"Neon snapshot {report.status.snapshot_id} is ready"
        )


async def _recover(
    ctx: Context,
    client: neon.NeonClient,
    report: SnapshotReport,
    name: str,
    branch_ids: Collection[str],
) -> bool:
    """Claim the creation (:mod:`.claims`); whether a snapshot an earlier claim made (``name``,
    of one of ``branch_ids``: a crash before the status write) was taken over."""
    project_id = report.status.project_id
    assert project_id is not None
    existing = await claims.claim(
        ctx, report, made="snapshotId", find=lambda: _created(client, project_id, name, branch_ids)
    )
    if existing is None:
        return False
    _record(report, existing)
    await report.event("Normal", "SnapshotRecovered", f"took over snapshot {existing.id}")
    return True


async def _create(
    ctx: Context,
    client: neon.NeonClient,
    snap: NeonSnapshot,
    report: SnapshotReport,
    project_id: str,
    branch_id: str,
) -> None:
    """Take the snapshot, its id to status at once, then wait for it."""
    result = await client.create_snapshot(
        project_id, branch_id, name=snapshot_name(snap), expires_at=snap.spec.expires_at
    )
    ctx.crash_after("create_snapshot")
    _record(report, result.snapshot)
    await report.created(
        "SnapshotCreated",
        f"snapshot {result.snapshot.id} of {branch_id}",
        provisioning=f"Neon is taking snapshot {result.snapshot.id}",
    )
    await client.wait_for_operations(result.operations)


def settled(ctx: Context, body: dict[str, Any]) -> bool:
    """Whether ``body`` was fully reconciled as it is (see :mod:`.steady`): a snapshot never
    changes once taken, so a resumed one needs nothing."""
    snap = NeonSnapshot.model_validate(body)
    return (
        snap.status.snapshot_id is not None
        and snap.metadata.deletion_timestamp is None
        and not ctx.settings.is_paused(snap.metadata.annotations)
        and steady.observed(snap.status, snap.metadata.generation)
    )


async def _created(
    client: neon.NeonClient, project_id: str, name: str, branch_ids: Collection[str]
) -> neon.Snapshot | None:
    """The snapshot named ``name`` of one of ``branch_ids``, if one exists."""
    if not branch_ids:
        return None
    for found in await client.list_snapshots(project_id):
        if found.name == name and found.source_branch_id in branch_ids:
            return found
    return None


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
    if status.project_id is None or (
        status.snapshot_id is None and status.creation_requested is None
    ):
        return  # never asked Neon for a snapshot
    if ctx.settings.is_paused(snap.metadata.annotations) or (
        snap.spec.deletion_policy == DeletionPolicy.RETAIN
    ):
        kept = status.snapshot_id or f"{snapshot_name(snap)!r}"
        await report.event("Normal", "SnapshotRetained", f"snapshot {kept} kept")
        return
    config_name = references.config_name(status)
    client = await dependents.deleting_client(
        ctx, report, config_name, f"Neon snapshot {status.snapshot_id}"
    )
    async with Outcomes(ctx, report, config_name):
        project_id, source_id = status.project_id, status.source_branch_id
        try:
            snapshot_id = await claims.created_id(
                status.snapshot_id,
                status,
                lambda: _created(
                    client, project_id, snapshot_name(snap), {source_id} if source_id else set()
                ),
            )
            if snapshot_id is None:
                return
            await client.delete_snapshot(project_id, snapshot_id)
        except neon.NotFound:
            return  # expired, or the project is gone with its NeonAppDatabase
        await report.event("Normal", "SnapshotDeleted", f"deleted snapshot {snapshot_id}")
