"""Snapshots: take one (of a root branch, at the moment the API answers unless a point is
named), restore one into a new branch, and finalize a restore (the restored branch takes the
target's place, computes and name; the target becomes ``"<name> (old)"``)."""

from __future__ import annotations

from dataclasses import dataclass

from neon_emulator import bodies, clock, errors, ids, lookups, provisioning, records, views
from neon_emulator.context import Context
from neon_emulator.operations import Step


@dataclass(frozen=True)
class Restored:
    branch: records.Branch
    moved: list[records.Endpoint]
    """Endpoints that now serve the restored branch (finalized at once)."""
    operations: list[records.Operation]


async def create(
    ctx: Context,
    project: records.Project,
    branch: records.Branch,
    spec: bodies.SnapshotCreate,
) -> tuple[records.Snapshot, list[records.Operation]]:
    """``POST …/branches/{id}/snapshot``: a snapshot of a root branch, as of ``spec``'s point
    or (none named) of the moment this returns."""
    if branch.parent_id is not None:
        raise errors.BadRequest(
            f"snapshots can only be taken of root branches; branch {branch.id} has a parent"
        )
    ctx.runner.ensure_unlocked(project.id)
    pin = await ctx.dataplane.pin(branch)
    lsn, timestamp = provisioning.point_in_time(
        project, branch, spec.lsn, spec.timestamp, "lsn", "timestamp"
    )
    point, subject = provisioning.branch_point(lsn, timestamp, pin, branch.head_lsn)
    expires_at = None
    if spec.expires_at is not None:
        try:
            expires_at = clock.iso(clock.parse(spec.expires_at))
        except ValueError:
            raise errors.BadRequest(
                f"expires_at: {spec.expires_at!r} is not an RFC 3339 timestamp"
            ) from None
    org = ctx.store.organizations.get(project.org_id)
    limit = org.snapshots_per_project if org else 100
    manual = [s for s in ctx.store.snapshots.in_project(project.id) if s.manual]
    if len(manual) >= limit:
        raise errors.Unprocessable(
            f"snapshots limit of {limit} per project exceeded, got {len(manual)}"
        )
    ctx.runner.ensure_unlocked(project.id)
    stamp = clock.now_iso()
    snapshot = records.Snapshot(
        id=ids.unique(
            lambda: ids.snapshot_id(project.region_id), lambda c: c in ctx.store.snapshots
        ),
        project_id=project.id,
        name=spec.name or f"{branch.name} snapshot {stamp}",
        lsn=ids.format_lsn(point),
        timestamp=timestamp or stamp,
        source_branch_id=branch.id,
        created_at=stamp,
        expires_at=expires_at,
        manual=True,
        full_size=views.LOGICAL_SIZE_BYTES,
        roles=[views.role(r, with_password=True) for r in lookups.branch_roles(ctx.store, branch)],
        databases=[views.database(d) for d in lookups.branch_databases(ctx.store, branch)],
    )
    ctx.store.snapshots.put(snapshot)
    ops = ctx.runner.submit(
        project.id,
        [
            Step(
                "create_branch",
                "create_snapshot",
                branch_id=branch.id,
                subject={"snapshot_id": snapshot.id, **subject},
            )
        ],
    )
    return snapshot, ops


def _swap(
    ctx: Context, project: records.Project, restored: records.Branch, old_name: str | None
) -> tuple[list[records.Endpoint], list[Step]]:
    """Swap ``restored`` in for its target branch; returns the moved endpoints and steps."""
    target_id = restored.restore_target_id
    target = ctx.store.branches.get(target_id) if target_id else None
    if target is None or target.deleted:
        raise errors.BadRequest(f"the branch that {restored.id} should replace no longer exists")
    new_old_name = old_name or f"{target.name} (old)"
    if any(
        b.name == new_old_name and b.id != target.id
        for b in lookups.live_branches(ctx.store, project.id)
    ):
        raise errors.Conflict(f"branch with name {new_old_name!r} already exists")
    stamp = clock.now_iso()
    moved = lookups.branch_endpoints(ctx.store, target)
    steps: list[Step] = []
    for endpoint in moved:
        endpoint.branch_id = restored.id
        endpoint.updated_at = stamp
        if endpoint.current_state == "active":
            endpoint.pending_state = "active"
            steps.append(Step("suspend_compute", "suspend_compute", restored.id, endpoint.id))
            steps.append(Step("start_compute", "start_compute", restored.id, endpoint.id))
        ctx.store.endpoints.put(endpoint)
    restored.name, target.name = target.name, new_old_name
    restored.default, target.default = target.default, False
    restored.protected, target.protected = target.protected, False
    restored.restored_as = target.id
    restored.restore_status = "finalized"
    restored.restore_target_id = None
    restored.updated_at = target.updated_at = stamp
    ctx.store.branches.put(target)
    ctx.store.branches.put(restored)
    return moved, steps


def restore(
    ctx: Context,
    project: records.Project,
    snapshot: records.Snapshot,
    spec: bodies.SnapshotRestore,
    name: str | None,
) -> Restored:
    """``POST …/snapshots/{id}/restore``: a new root branch holding the snapshot, staged, or
    (``finalize_restore``) swapped in for the target at once."""
    target_id = spec.target_branch_id or snapshot.source_branch_id
    if not target_id:
        raise errors.BadRequest("target_branch_id is required: the snapshot has no source branch")
    target = lookups.branch(ctx.store, project, target_id)
    if name:
        provisioning.ensure_branch_name_free(ctx, project.id, name)
    ctx.runner.ensure_unlocked(project.id)

    stamp = clock.now_iso()
    branch = provisioning.add_branch(
        ctx,
        project,
        name=name or f"{target.name} restored from {snapshot.name}",
        parent=None,
        parent_lsn=ids.parse_lsn(snapshot.lsn) if snapshot.lsn else None,
    )
    provisioning.copy_roles_and_databases(ctx, branch, snapshot.roles, snapshot.databases)
    branch.restore_status = "restored"
    branch.restored_from = snapshot.id
    branch.restore_target_id = target.id
    branch.updated_at = stamp
    ctx.store.branches.put(branch)
    steps = [
        Step(
            "create_branch",
            "create_branch",
            branch_id=branch.id,
            subject={"source": "snapshot", "snapshot_id": snapshot.id},
        )
    ]
    moved: list[records.Endpoint] = []
    if spec.finalize_restore:
        moved, more = _swap(ctx, project, branch, None)
        steps.extend(more)
    return Restored(branch, moved, ctx.runner.submit(project.id, steps))


def finalize(
    ctx: Context, project: records.Project, branch: records.Branch, old_name: str | None
) -> list[records.Operation]:
    """``POST …/branches/{id}/finalize_restore``: swap a staged restore in for its target."""
    if branch.restore_status != "restored":
        raise errors.BadRequest(
            f"branch {branch.id} is not a restored snapshot awaiting finalization"
        )
    ctx.runner.ensure_unlocked(project.id)
    _, steps = _swap(ctx, project, branch, old_name)
    if not steps:
        steps = [Step("apply_config", "apply_config", branch_id=branch.id)]
    return ctx.runner.submit(project.id, steps)
