"""Organizations and moving projects between them: get an organization, transfer projects from
one organization to another (≤ 400 ids per call; 406 when the destination's limits would be
exceeded, 422 for projects with GitHub/Vercel integrations)."""

from __future__ import annotations

from aiohttp import web

from neon_emulator import bodies, clock, context, errors, lookups, records, views
from neon_emulator.context import Context
from neon_emulator.routes import reply

routes = web.RouteTableDef()


def _live_projects(ctx: Context, org_id: str) -> int:
    return sum(1 for p in ctx.store.projects if p.org_id == org_id and p.deleted_at is None)


def _move(ctx: Context, projects: list[records.Project], org_id: str) -> None:
    stamp = clock.now_iso()
    for project in projects:
        project.org_id = org_id
        project.updated_at = stamp
        ctx.store.projects.put(project)


@routes.get("/organizations/{org_id}")
async def get_organization(request: web.Request) -> web.Response:
    org = lookups.requested_organization(request, context.of(request).store)
    return reply(views.organization(org))


@routes.post("/organizations/{source_org_id}/projects/transfer")
async def transfer_projects(request: web.Request) -> web.Response:
    ctx = context.of(request)
    caller = lookups.principal(request)
    source = lookups.organization(ctx.store, caller, request.match_info["source_org_id"])
    spec = await bodies.parse(request, bodies.ProjectTransfer)
    destination = lookups.organization(ctx.store, caller, spec.destination_org_id)
    if caller.key.project_id is not None:
        raise errors.Forbidden("project-scoped API keys cannot transfer projects")
    wanted = list(dict.fromkeys(spec.project_ids))
    moving: list[records.Project] = []
    for project_id in wanted:
        project = ctx.store.projects.get(project_id)
        if project is None or project.org_id != source.id or project.deleted_at is not None:
            raise errors.NotFound(f"project {project_id} not found in organization {source.id}")
        moving.append(project)
    integrated = [
        {"id": p.id, "integration": integration} for p in moving for integration in p.integrations
    ]
    if integrated:
        raise errors.Unprocessable(
            "projects with GitHub or Vercel integrations cannot be transferred",
            body={"projects": integrated},
        )
    if destination.id != source.id:
        held = _live_projects(ctx, destination.id)
        if held + len(moving) > destination.projects_limit:
            raise errors.NotAcceptable(
                "destination organization limits are not satisfied",
                body={
                    "limits": [
                        {
                            "name": "projects_count",
                            "expected": str(destination.projects_limit),
                            "actual": str(held + len(moving)),
                        }
                    ]
                },
            )
    _move(ctx, moving, destination.id)
    return reply({})
