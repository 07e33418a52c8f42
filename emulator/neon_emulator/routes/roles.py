"""Roles of a branch: list, get, create, delete, reveal password, reset password."""

from __future__ import annotations

from aiohttp import web

from neon_emulator import bodies, clock, context, errors, ids, lookups, provisioning, records, views
from neon_emulator.operations import Step
from neon_emulator.routes import no_content, reply

routes = web.RouteTableDef()

BASE = "/projects/{project_id}/branches/{branch_id}/roles"


def _locate(request: web.Request) -> tuple[context.Context, records.Project, records.Branch]:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    branch = lookups.branch(ctx.store, project, request.match_info["branch_id"])
    return ctx, project, branch


@routes.get(BASE)
async def list_roles(request: web.Request) -> web.Response:
    ctx, _, branch = _locate(request)
    return reply({"roles": [views.role(r) for r in lookups.branch_roles(ctx.store, branch)]})


@routes.post(BASE)
async def create_role(request: web.Request) -> web.Response:
    ctx, project, branch = _locate(request)
    spec = (await bodies.parse(request, bodies.RoleCreate)).role
    provisioning.check_role_name(spec.name)
    if ctx.store.roles.get(f"{branch.id}/{spec.name}") is not None:
        raise errors.Conflict(f"role {spec.name!r} already exists")
    ctx.runner.ensure_unlocked(project.id)
    role = provisioning.add_role(ctx, branch, spec.name, no_login=bool(spec.no_login))
    provisioning.bump_lsn(ctx, branch)
    ops = ctx.runner.submit(project.id, [Step("apply_config", "apply_config", branch_id=branch.id)])
    return reply(
        {"role": views.role(role, with_password=True), "operations": views.operations(ops)},
        status=201,
    )


@routes.get(BASE + "/{role_name}")
async def get_role(request: web.Request) -> web.Response:
    ctx, _, branch = _locate(request)
    return reply(
        {"role": views.role(lookups.role(ctx.store, branch, request.match_info["role_name"]))}
    )


@routes.delete(BASE + "/{role_name}")
async def delete_role(request: web.Request) -> web.Response:
    ctx, project, branch = _locate(request)
    try:
        role = lookups.role(ctx.store, branch, request.match_info["role_name"])
    except errors.NotFound:
        return no_content()
    owned = [
        d.name for d in lookups.branch_databases(ctx.store, branch) if d.owner_name == role.name
    ]
    if owned:
        raise errors.BadRequest(
            f"role {role.name!r} owns databases ({', '.join(owned)}); "
            "delete them or change their owner first"
        )
    ctx.runner.ensure_unlocked(project.id)
    ctx.store.roles.delete(role.key)
    provisioning.bump_lsn(ctx, branch)
    ops = ctx.runner.submit(project.id, [Step("apply_config", "apply_config", branch_id=branch.id)])
    return reply({"role": views.role(role), "operations": views.operations(ops)})


@routes.get(BASE + "/{role_name}/reveal_password")
async def reveal_password(request: web.Request) -> web.Response:
    ctx, project, branch = _locate(request)
    role = lookups.role(ctx.store, branch, request.match_info["role_name"])
    if not project.store_passwords:
        raise errors.PreconditionFailed("Storing passwords is disabled")
    if role.password is None:
        raise errors.NotFound(f"role {role.name!r} has no password")
    return reply({"password": role.password})


@routes.post(BASE + "/{role_name}/reset_password")
async def reset_password(request: web.Request) -> web.Response:
    ctx, project, branch = _locate(request)
    role = lookups.role(ctx.store, branch, request.match_info["role_name"])
    if role.no_login:
        raise errors.BadRequest(f"role {role.name!r} cannot log in and has no password")
    ctx.runner.ensure_unlocked(project.id)
    role.password = ids.password()
    role.updated_at = clock.now_iso()
    ctx.store.roles.put(role)
    ops = ctx.runner.submit(project.id, [Step("apply_config", "apply_config", branch_id=branch.id)])
    return reply(
        {"role": views.role(role, with_password=True), "operations": views.operations(ops)}
    )
