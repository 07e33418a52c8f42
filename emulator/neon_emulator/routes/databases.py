"""Databases of a branch: list, get, create, rename / change owner, delete."""

from __future__ import annotations

from aiohttp import web

from neon_emulator import bodies, clock, context, errors, lookups, provisioning, records, views
from neon_emulator.operations import Step
from neon_emulator.routes import no_content, reply

routes = web.RouteTableDef()

BASE = "/projects/{project_id}/branches/{branch_id}/databases"


def _locate(request: web.Request) -> tuple[context.Context, records.Project, records.Branch]:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    branch = lookups.branch(ctx.store, project, request.match_info["branch_id"])
    return ctx, project, branch


def _ensure_owner(ctx: context.Context, branch: records.Branch, owner: str, field: str) -> None:
    if ctx.store.roles.get(f"{branch.id}/{owner}") is None:
        raise errors.BadRequest(f"{field}: role {owner!r} does not exist on branch {branch.id}")


@routes.get(BASE)
async def list_databases(request: web.Request) -> web.Response:
    ctx, _, branch = _locate(request)
    found = lookups.branch_databases(ctx.store, branch)
    return reply({"databases": [views.database(d) for d in found]})


@routes.post(BASE)
async def create_database(request: web.Request) -> web.Response:
    ctx, project, branch = _locate(request)
    spec = (await bodies.parse(request, bodies.DatabaseCreate)).database
    if ctx.store.databases.get(f"{branch.id}/{spec.name}") is not None:
        raise errors.Conflict(f"database {spec.name!r} already exists")
    _ensure_owner(ctx, branch, spec.owner_name, "database.owner_name")
    ctx.runner.ensure_unlocked(project.id)
    database = provisioning.add_database(ctx, branch, spec.name, spec.owner_name)
    provisioning.bump_lsn(ctx, branch)
    ops = ctx.runner.submit(project.id, [Step("apply_config", "apply_config", branch_id=branch.id)])
    return reply(
        {"database": views.database(database), "operations": views.operations(ops)}, status=201
    )


@routes.get(BASE + "/{database_name}")
async def get_database(request: web.Request) -> web.Response:
    ctx, _, branch = _locate(request)
    database = lookups.database(ctx.store, branch, request.match_info["database_name"])
    return reply({"database": views.database(database)})


@routes.patch(BASE + "/{database_name}")
async def update_database(request: web.Request) -> web.Response:
    ctx, project, branch = _locate(request)
    database = lookups.database(ctx.store, branch, request.match_info["database_name"])
    patch = (await bodies.parse(request, bodies.DatabaseUpdate)).database
    renamed = patch.name is not None and patch.name != database.name
    if renamed and ctx.store.databases.get(f"{branch.id}/{patch.name}") is not None:
        raise errors.Conflict(f"database {patch.name!r} already exists")
    if patch.owner_name is not None:
        _ensure_owner(ctx, branch, patch.owner_name, "database.owner_name")
    ctx.runner.ensure_unlocked(project.id)
    if patch.name is not None and patch.name != database.name:
        ctx.store.databases.delete(database.key)
        database.name = patch.name
    if patch.owner_name is not None:
        database.owner_name = patch.owner_name
    database.updated_at = clock.now_iso()
    ctx.store.databases.put(database)
    provisioning.bump_lsn(ctx, branch)
    ops = ctx.runner.submit(project.id, [Step("apply_config", "apply_config", branch_id=branch.id)])
    return reply({"database": views.database(database), "operations": views.operations(ops)})


@routes.delete(BASE + "/{database_name}")
async def delete_database(request: web.Request) -> web.Response:
    ctx, project, branch = _locate(request)
    try:
        database = lookups.database(ctx.store, branch, request.match_info["database_name"])
    except errors.NotFound:
        return no_content()
    ctx.runner.ensure_unlocked(project.id)
    ctx.store.databases.delete(database.key)
    provisioning.bump_lsn(ctx, branch)
    ops = ctx.runner.submit(project.id, [Step("apply_config", "apply_config", branch_id=branch.id)])
    return reply({"database": views.database(database), "operations": views.operations(ops)})
