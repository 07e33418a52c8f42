"""Operations of a project: list (newest first, cursor pagination) and get one."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from neon_emulator import context, errors, lookups, queries, views
from neon_emulator.routes import reply

routes = web.RouteTableDef()


@routes.get("/projects/{project_id}/operations")
async def list_operations(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    limit = queries.integer(request.query, "limit", 10, 1, 1000)
    cursor = queries.text(request.query, "cursor")
    ops = list(reversed(ctx.store.operations.in_project(project.id)))
    if cursor is not None:
        position = next((i for i, op in enumerate(ops) if op.id == cursor), None)
        if position is None:
            raise errors.BadRequest(f"invalid cursor {cursor!r}")
        ops = ops[position + 1 :]
    page = ops[:limit]
    body: dict[str, Any] = {"operations": views.operations(page)}
    if page:
        body["pagination"] = {"cursor": page[-1].id}
    return reply(body)


@routes.get("/projects/{project_id}/operations/{operation_id}")
async def get_operation(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    operation_id = request.match_info["operation_id"]
    op = ctx.store.operations.get(operation_id)
    if op is None or op.project_id != project.id:
        raise errors.NotFound(f"operation {operation_id} not found")
    return reply({"operation": views.operation(op)})
