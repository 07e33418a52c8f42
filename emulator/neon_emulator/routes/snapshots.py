"""Snapshots: create (root branches only; parameters in the query as the spec says, or a JSON
body as Neon's docs show), list, rename, delete (202), restore to a new branch, and finalize.

Restore without ``finalize_restore`` makes a new branch holding the snapshot
(``restore_status: restored``, ``restored_from: <snapshot id>``) and leaves the target alone.
Finalizing -- at once or later through ``POST …/branches/{id}/finalize_restore`` -- moves the
target's computes to the restored branch (connection strings stay valid), gives it the target's
name, default flag and protection, records the target's id in ``restored_as``, renames the target
to ``<name> (old)`` (or the given name) and sets ``restore_status: finalized``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from neon_emulator import (
    bodies,
    context,
    lookups,
    queries,
    views,
)
from neon_emulator.actions import snapshots
from neon_emulator.operations import Step
from neon_emulator.routes import reply

routes = web.RouteTableDef()


async def _snapshot_parameters(request: web.Request) -> bodies.SnapshotCreate:
    data = await bodies.read_json(request)
    merged: dict[str, Any] = dict(data) if isinstance(data, dict) else {}
    for name in ("lsn", "timestamp", "name", "expires_at"):
        value = queries.text(request.query, name)
        if value is not None:
            merged[name] = value
    return bodies.validate(bodies.SnapshotCreate, merged)


@routes.post("/projects/{project_id}/branches/{branch_id}/snapshot")
async def create_snapshot(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    branch = lookups.branch(ctx.store, project, request.match_info["branch_id"])
    spec = await _snapshot_parameters(request)
    snapshot, ops = await snapshots.create(ctx, project, branch, spec)
    return reply({"snapshot": views.snapshot(snapshot), "operations": views.operations(ops)})


@routes.get("/projects/{project_id}/snapshots")
async def list_snapshots(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    found = ctx.store.snapshots.in_project(project.id)
    return reply({"snapshots": [views.snapshot(s) for s in found]})


@routes.patch("/projects/{project_id}/snapshots/{snapshot_id}")
async def update_snapshot(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    snapshot = lookups.snapshot(ctx.store, project, request.match_info["snapshot_id"])
    patch = (await bodies.parse(request, bodies.SnapshotUpdate)).snapshot
    if patch.name is not None:
        snapshot.name = patch.name
        ctx.store.snapshots.put(snapshot)
    return reply({"snapshot": views.snapshot(snapshot)})


@routes.delete("/projects/{project_id}/snapshots/{snapshot_id}")
async def delete_snapshot(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    snapshot = lookups.snapshot(ctx.store, project, request.match_info["snapshot_id"])
    ctx.runner.ensure_unlocked(project.id)
    ctx.store.snapshots.delete(snapshot.id)
    ops = ctx.runner.submit(
        project.id,
        [Step("delete_timeline", "delete_snapshot", subject={"snapshot_id": snapshot.id})],
    )
    return reply({"operations": views.operations(ops)}, status=202)


@routes.post("/projects/{project_id}/snapshots/{snapshot_id}/restore")
async def restore_snapshot(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    snapshot = lookups.snapshot(ctx.store, project, request.match_info["snapshot_id"])
    spec = await bodies.parse(request, bodies.SnapshotRestore, optional=True)
    name = spec.name or queries.text(request.query, "name")
    restored = snapshots.restore(ctx, project, snapshot, spec, name)
    return reply(
        {
            "branch": views.branch(ctx, restored.branch),
            "endpoints": [views.endpoint(ctx, e) for e in restored.moved],
            "operations": views.operations(restored.operations),
        }
    )


@routes.post("/projects/{project_id}/branches/{branch_id}/finalize_restore")
async def finalize_restore(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    branch = lookups.branch(ctx.store, project, request.match_info["branch_id"])
    spec = await bodies.parse(request, bodies.FinalizeRestore, optional=True)
    ops = snapshots.finalize(ctx, project, branch, spec.name)
    return reply({"operations": views.operations(ops)})
