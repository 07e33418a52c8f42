"""Branches: create (from a parent, optionally at ``parent_lsn``/``parent_timestamp``, with
endpoints), list (sorted, cursor pagination), count, get, rename/protect, delete (recoverable
for 7 days unless ``hard_delete``), recover, set as default, restore (from another branch or the
branch's own history), list a branch's endpoints."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aiohttp import web

from neon_emulator import bodies, clock, context, errors, lookups, provisioning, queries, views
from neon_emulator.actions import branches
from neon_emulator.routes import no_content, reply

routes = web.RouteTableDef()

_SORTS = ("name", "created_at", "updated_at")


@routes.post("/projects/{project_id}/branches")
async def create_branch(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    body = await bodies.parse(request, bodies.BranchCreate, optional=True)
    created = await branches.create(ctx, project, body)
    branch, endpoints = created.branch, created.endpoints
    result: dict[str, Any] = {
        "branch": views.branch(ctx, branch),
        "endpoints": [views.endpoint(ctx, e) for e in endpoints],
        "operations": views.operations(created.operations),
        "roles": [views.role(r) for r in lookups.branch_roles(ctx.store, branch)],
        "databases": [views.database(d) for d in lookups.branch_databases(ctx.store, branch)],
    }
    read_write = next((e for e in endpoints if e.type == "read_write"), None)
    chosen = read_write or (endpoints[0] if endpoints else None)
    uris = provisioning.connection_uris(ctx, branch, chosen)
    if uris is not None:
        result["connection_uris"] = uris
    return reply(result, status=201)


def _encode_cursor(branch: dict[str, Any], sort_by: str, sort_order: str) -> str:
    token = {
        "branch_id": branch["id"],
        "sort_by": sort_by,
        "sort_by_value": branch[sort_by],
        "sort_order": sort_order.upper(),
    }
    return base64.urlsafe_b64encode(json.dumps(token).encode()).decode()


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        token = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return str(token["sort_by_value"]), str(token["branch_id"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise errors.BadRequest(f"invalid cursor {cursor!r}") from None


@routes.get("/projects/{project_id}/branches")
async def list_branches(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    query = request.query
    sort_by = queries.text(query, "sort_by") or "updated_at"
    if sort_by not in _SORTS:
        raise errors.BadRequest(f"sort_by: must be one of {', '.join(_SORTS)}")
    sort_order = (queries.text(query, "sort_order") or "desc").lower()
    if sort_order not in ("asc", "desc"):
        raise errors.BadRequest("sort_order: must be asc or desc")
    limit = queries.integer(query, "limit", 0, 1, 10_000) if "limit" in query else None
    listed = lookups.live_branches(ctx.store, project.id)
    if queries.boolean(query, "include_deleted"):
        listed += [b for b in ctx.store.branches.in_project(project.id) if branches.recoverable(b)]
    search = (queries.text(query, "search") or "").lower()
    rendered = [
        views.branch(ctx, b)
        for b in listed
        if not search or search in b.name.lower() or search in b.id
    ]
    descending = sort_order == "desc"
    rendered.sort(key=lambda b: (str(b[sort_by]), b["id"]), reverse=descending)
    cursor = queries.text(query, "cursor")
    if cursor is not None:
        anchor = _decode_cursor(cursor)
        rendered = [
            b
            for b in rendered
            if (
                (str(b[sort_by]), b["id"]) < anchor
                if descending
                else (str(b[sort_by]), b["id"]) > anchor
            )
        ]
    body: dict[str, Any] = {}
    if limit is not None and len(rendered) > limit:
        rendered = rendered[:limit]
        body["pagination"] = {
            "next": _encode_cursor(rendered[-1], sort_by, sort_order),
            "sort_by": sort_by,
            "sort_order": sort_order.upper(),
        }
    annotations = {
        b.id: views.annotation(b)
        for b in lookups.live_branches(ctx.store, project.id)
        if b.annotations
    }
    return reply({"branches": rendered, "annotations": annotations, **body})


@routes.get("/projects/{project_id}/branches/count")
async def count_branches(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    search = (queries.text(request.query, "search") or "").lower()
    count = sum(
        1
        for b in lookups.live_branches(ctx.store, project.id)
        if not search or search in b.name.lower() or search in b.id
    )
    return reply({"count": count})


@routes.get("/projects/{project_id}/branches/{branch_id}")
async def get_branch(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    branch = lookups.branch(ctx.store, project, request.match_info["branch_id"])
    return reply({"branch": views.branch(ctx, branch), "annotation": views.annotation(branch)})


@routes.patch("/projects/{project_id}/branches/{branch_id}")
async def update_branch(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    branch = lookups.branch(ctx.store, project, request.match_info["branch_id"])
    patch = (await bodies.parse(request, bodies.BranchUpdate)).branch
    if patch.name is not None and patch.name != branch.name:
        provisioning.ensure_branch_name_free(ctx, project.id, patch.name)
    expires_at = branches.expiry(patch.expires_at, "branch.expires_at")
    if patch.name is not None:
        branch.name = patch.name
    if patch.protected is not None:
        branch.protected = patch.protected
    if "expires_at" in patch.model_fields_set:
        branch.expires_at = expires_at
    branch.updated_at = clock.now_iso()
    ctx.store.branches.put(branch)
    return reply({"branch": views.branch(ctx, branch), "operations": []})


@routes.delete("/projects/{project_id}/branches/{branch_id}")
async def delete_branch(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    hard = queries.boolean(request.query, "hard_delete")
    try:
        branch = lookups.branch(ctx.store, project, request.match_info["branch_id"])
    except errors.NotFound:
        return no_content()
    deleted = branches.delete(ctx, project, branch, hard=hard)
    return reply(
        {
            "branch": views.branch(ctx, deleted.branch),
            "operations": views.operations(deleted.operations),
        }
    )


@routes.post("/projects/{project_id}/branches/{branch_id}/recover")
async def recover_branch(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    branch, endpoints = branches.recover(ctx, project, request.match_info["branch_id"])
    return reply(
        {
            "branch": views.branch(ctx, branch),
            "endpoints": [views.endpoint(ctx, e) for e in endpoints],
        }
    )


@routes.post("/projects/{project_id}/branches/{branch_id}/set_as_default")
async def set_default(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    branch = lookups.branch(ctx.store, project, request.match_info["branch_id"])
    stamp = clock.now_iso()
    for other in lookups.live_branches(ctx.store, project.id):
        if other.default and other.id != branch.id:
            other.default = False
            other.updated_at = stamp
            ctx.store.branches.put(other)
    branch.default = True
    branch.updated_at = stamp
    ctx.store.branches.put(branch)
    return reply({"branch": views.branch(ctx, branch), "operations": []})


@routes.post("/projects/{project_id}/branches/{branch_id}/restore")
async def restore_branch(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    target = lookups.branch(ctx.store, project, request.match_info["branch_id"])
    spec = await bodies.parse(request, bodies.BranchRestore)
    ops = await branches.restore(ctx, project, target, spec)
    return reply({"branch": views.branch(ctx, target), "operations": views.operations(ops)})


@routes.get("/projects/{project_id}/branches/{branch_id}/endpoints")
async def list_branch_endpoints(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    branch = lookups.branch(ctx.store, project, request.match_info["branch_id"])
    endpoints = lookups.branch_endpoints(ctx.store, branch)
    return reply({"endpoints": [views.endpoint(ctx, e) for e in endpoints]})
