"""Branch creation, restore, deletion and recovery: the records, the branch point ("now" pinned
with the data plane before answering, or the LSN / timestamp the client named) and the
operations.

A deleted branch can be recovered for 7 days, as on Neon (``hard_delete`` skips that): its files
stay, its endpoints are kept on its record and come back idle, with the same ids, so connection
strings handed out before still work. Files of branches past the window go at the next start.
"""

from __future__ import annotations

from dataclasses import dataclass

from neon_emulator import bodies, clock, errors, ids, lookups, provisioning, records, views
from neon_emulator.context import Context
from neon_emulator.operations import Step


@dataclass(frozen=True)
class CreatedBranch:
    branch: records.Branch
    endpoints: list[records.Endpoint]
    operations: list[records.Operation]


def expiry(text: str | None, field: str) -> str | None:
    if text is None:
        return None
    try:
        moment = clock.parse(text)
    except ValueError:
        raise errors.BadRequest(f"{field}: {text!r} is not an RFC 3339 timestamp") from None
    if moment <= clock.now():
        raise errors.BadRequest(f"{field} {text} must be in the future")
    return clock.iso(moment)


async def create(
    ctx: Context, project: records.Project, body: bodies.BranchCreate
) -> CreatedBranch:
    """``POST /projects/{id}/branches``: a child of ``branch.parent_id`` (default: the default
    branch) with its endpoints."""
    spec = body.branch or bodies.BranchSpec()
    parent = (
        lookups.branch(ctx.store, project, spec.parent_id)
        if spec.parent_id
        else lookups.default_branch(ctx.store, project)
    )
    ctx.runner.ensure_unlocked(project.id)
    pin = await ctx.dataplane.pin(parent)
    lsn, timestamp = provisioning.point_in_time(
        project,
        parent,
        spec.parent_lsn,
        spec.parent_timestamp,
        "branch.parent_lsn",
        "branch.parent_timestamp",
    )
    if spec.name:
        provisioning.ensure_branch_name_free(ctx, project.id, spec.name)
    expires_at = expiry(spec.expires_at, "branch.expires_at")
    endpoint_specs = body.endpoints or []
    if sum(1 for e in endpoint_specs if e.type == "read_write") > 1:
        raise errors.BadRequest("endpoints: a branch can have only one read_write endpoint")
    limits = [
        provisioning.resolve_limits(
            e.autoscaling_limit_min_cu,
            e.autoscaling_limit_max_cu,
            e.suspend_timeout_seconds,
            project.default_endpoint_settings,
            f"endpoints[{i}].",
        )
        for i, e in enumerate(endpoint_specs)
    ]
    ctx.runner.ensure_unlocked(project.id)
    point, subject = provisioning.branch_point(lsn, timestamp, pin, parent.head_lsn)

    branch = provisioning.add_branch(
        ctx,
        project,
        name=spec.name,
        parent=parent,
        parent_lsn=point,
        parent_timestamp=timestamp,
        protected=bool(spec.protected),
        init_source=spec.init_source,
        expires_at=expires_at,
        annotations=body.annotation_value,
    )
    steps = [
        Step(
            "create_branch",
            "create_branch",
            branch_id=branch.id,
            subject={
                "source": "branch",
                "source_branch_id": parent.id,
                "schema_only": spec.init_source == "schema-only",
                **subject,
            },
        )
    ]
    endpoints = []
    for endpoint_spec, (min_cu, max_cu, suspend) in zip(endpoint_specs, limits, strict=True):
        endpoint = provisioning.add_endpoint(
            ctx,
            project,
            branch,
            type=endpoint_spec.type,
            min_cu=min_cu,
            max_cu=max_cu,
            suspend=suspend,
            provisioner=endpoint_spec.provisioner,
            settings=(
                endpoint_spec.settings.model_dump(exclude_none=True)
                if endpoint_spec.settings
                else None
            ),
        )
        endpoints.append(endpoint)
        steps.append(
            Step("start_compute", "start_compute", branch_id=branch.id, endpoint_id=endpoint.id)
        )
    ops = ctx.runner.submit(project.id, steps)
    return CreatedBranch(branch, endpoints, ops)


async def restore(
    ctx: Context, project: records.Project, target: records.Branch, spec: bodies.BranchRestore
) -> list[records.Operation]:
    """``POST …/branches/{id}/restore``: the target's data becomes ``source_branch_id``'s at a
    point (its own history needs one), optionally keeping the old data under a new name."""
    source = lookups.branch(ctx.store, project, spec.source_branch_id)
    own_history = source.id == target.id
    if own_history and not (spec.source_lsn or spec.source_timestamp):
        raise errors.BadRequest(
            "source_lsn or source_timestamp is required to restore a branch to its own history"
        )
    if own_history and not spec.preserve_under_name:
        raise errors.BadRequest(
            "preserve_under_name is required to restore a branch to its own history"
        )
    children = [b for b in lookups.live_branches(ctx.store, project.id) if b.parent_id == target.id]
    if children and not spec.preserve_under_name:
        raise errors.BadRequest(
            f"preserve_under_name is required: branch {target.id} has child branches"
        )
    if target.restore_status == "restored":
        raise errors.BadRequest("restore from snapshot on target branch is still ongoing")
    ctx.runner.ensure_unlocked(project.id)
    pin = await ctx.dataplane.pin(source)
    kept = await ctx.dataplane.pin(target) if spec.preserve_under_name else None
    lsn, timestamp = provisioning.point_in_time(
        project, source, spec.source_lsn, spec.source_timestamp, "source_lsn", "source_timestamp"
    )
    point, subject = provisioning.branch_point(lsn, timestamp, pin, source.head_lsn)
    if spec.preserve_under_name:
        provisioning.ensure_branch_name_free(ctx, project.id, spec.preserve_under_name)
    ctx.runner.ensure_unlocked(project.id)

    steps = []
    parent = ctx.store.branches.get(target.parent_id) if target.parent_id else None
    if spec.preserve_under_name:
        preserved = provisioning.add_branch(
            ctx,
            project,
            name=spec.preserve_under_name,
            parent=parent,
            copy_from=target,
        )
        preserved.parent_lsn = target.parent_lsn
        preserved.head_lsn = target.head_lsn
        ctx.store.branches.put(preserved)
        for child in children:
            child.parent_id = preserved.id
            ctx.store.branches.put(child)
        steps.append(
            Step(
                "create_branch",
                "create_branch",
                branch_id=preserved.id,
                subject={
                    "source": "branch",
                    "source_branch_id": target.id,
                    "copy": True,
                    **provisioning.branch_point(None, None, kept, target.head_lsn)[1],
                },
            )
        )
    if not own_history:
        provisioning.clear_branch_contents(ctx, target)
        provisioning.copy_branch_contents(ctx, source, target)
        target.parent_id = source.id
    stamp = clock.now_iso()
    target.parent_lsn = ids.format_lsn(point)
    target.parent_timestamp = timestamp or stamp
    target.last_reset_at = stamp
    target.current_state = "resetting"
    target.pending_state = "ready"
    target.state_changed_at = stamp
    target.updated_at = stamp
    ctx.store.branches.put(target)
    steps.append(
        Step(
            "create_timeline",
            "restore_branch",
            branch_id=target.id,
            subject={"source_branch_id": source.id, **subject},
        )
    )
    for endpoint in lookups.branch_endpoints(ctx.store, target):
        if endpoint.current_state == "active":
            steps.append(
                Step("start_compute", "start_compute", branch_id=target.id, endpoint_id=endpoint.id)
            )
    return ctx.runner.submit(project.id, steps)


@dataclass(frozen=True)
class DeletedBranch:
    branch: records.Branch
    operations: list[records.Operation]


def delete(
    ctx: Context, project: records.Project, branch: records.Branch, *, hard: bool
) -> DeletedBranch:
    """``DELETE …/branches/{id}``: its endpoints stop and go, its data stays for recovery
    unless ``hard``."""
    if branch.default:
        raise errors.BadRequest(
            f"branch {branch.id} is the project's default branch and cannot be deleted"
        )
    if branch.protected:
        raise errors.BadRequest(f"branch {branch.id} is protected and cannot be deleted")
    children = [b for b in lookups.live_branches(ctx.store, project.id) if b.parent_id == branch.id]
    if children:
        raise errors.BadRequest(
            f"branch {branch.id} has child branches ({', '.join(c.id for c in children)}); "
            "delete them first"
        )
    ctx.runner.ensure_unlocked(project.id)
    steps = []
    kept: list[dict[str, object]] = []
    for endpoint in lookups.branch_endpoints(ctx.store, branch):
        steps.append(
            Step("suspend_compute", "delete_endpoint", branch_id=branch.id, endpoint_id=endpoint.id)
        )
        kept.append(endpoint.model_dump())
        ctx.store.endpoints.delete(endpoint.id)
    steps.append(
        Step("delete_timeline", "delete_branch", branch_id=branch.id, subject={"keep": not hard})
    )
    branch.deleted = True
    branch.updated_at = clock.now_iso()
    branch.deleted_at = None if hard else branch.updated_at
    branch.deleted_endpoints = [] if hard else kept
    ctx.store.branches.put(branch)
    return DeletedBranch(branch, ctx.runner.submit(project.id, steps))


def recoverable(branch: records.Branch) -> bool:
    """A deleted branch still inside its recovery window."""
    if not branch.deleted or branch.deleted_at is None:
        return False
    return clock.parse(branch.deleted_at) + views.RECOVERY_WINDOW >= clock.now()


def recover(
    ctx: Context, project: records.Project, branch_id: str
) -> tuple[records.Branch, list[records.Endpoint]]:
    """``POST …/branches/{id}/recover``: the branch and its endpoints (idle) are back."""
    branch = ctx.store.branches.get(branch_id)
    if branch is None or branch.project_id != project.id:
        raise errors.NotFound(f"branch {branch_id} not found")
    if not branch.deleted:
        raise errors.BadRequest(f"branch {branch_id} is not deleted")
    if not recoverable(branch):
        raise errors.NotFound(
            f"branch {branch_id} was deleted permanently (hard_delete, or its 7-day recovery "
            "window has passed)"
        )
    parent = ctx.store.branches.get(branch.parent_id) if branch.parent_id else None
    if parent is not None and parent.deleted:
        raise errors.BadRequest(
            f"branch {branch_id}'s parent {parent.id} is deleted; recover the parent first"
        )
    ctx.runner.ensure_unlocked(project.id)
    stamp = clock.now_iso()
    endpoints = []
    for kept in branch.deleted_endpoints:
        endpoint = records.Endpoint.model_validate(
            {**kept, "current_state": "idle", "pending_state": None, "updated_at": stamp}
        )
        ctx.store.endpoints.put(endpoint)
        endpoints.append(endpoint)
    branch.deleted, branch.deleted_at, branch.deleted_endpoints = False, None, []
    branch.expires_at = None  # a TTL branch comes back without its TTL, as on Neon
    branch.updated_at = stamp
    ctx.store.branches.put(branch)
    return branch, endpoints
