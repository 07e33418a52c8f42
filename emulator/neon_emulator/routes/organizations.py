"""Organizations and moving projects between them: get an organization, transfer projects from
one organization to another (≤ 400 ids per call; 406 when the destination's limits would be
exceeded, 422 for projects with GitHub/Vercel integrations), and transfer requests -- a claim
ticket any other account can accept into an organization it acts in (204; 404 once used or
expired; 406 when the destination cannot own another project)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from aiohttp import web

from neon_emulator import bodies, clock, context, errors, lookups, records, views
from neon_emulator.context import Context
from neon_emulator.routes import no_content, reply

routes = web.RouteTableDef()

DEFAULT_TRANSFER_TTL = 86_400
"""Seconds a transfer request stays valid when ``ttl_seconds`` is not given (Neon: 24 hours)."""


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


@routes.post("/projects/{project_id}/transfer_requests")
async def create_transfer_request(request: web.Request) -> web.Response:
    ctx = context.of(request)
    caller = lookups.principal(request)
    project = lookups.requested_project(request, ctx.store)
    caller.require_org(project.org_id)
    spec = await bodies.parse(request, bodies.TransferRequestCreate, optional=True)
    ttl = DEFAULT_TRANSFER_TTL if spec.ttl_seconds is None else spec.ttl_seconds
    now = clock.now()
    ticket = ctx.store.transfer_requests.put(
        records.TransferRequest(
            id=str(uuid.uuid4()),
            project_id=project.id,
            created_at=clock.iso(now),
            expires_at=clock.iso(now + timedelta(seconds=ttl)),
        )
    )
    return reply(views.transfer_request(ticket), status=201)


@routes.put("/projects/{project_id}/transfer_requests/{request_id}")
async def accept_transfer_request(request: web.Request) -> web.Response:
    ctx = context.of(request)
    caller = lookups.principal(request)
    project_id, request_id = request.match_info["project_id"], request.match_info["request_id"]
    spec = await bodies.parse(request, bodies.TransferRequestAccept, optional=True)
    if caller.key.project_id is not None:
        raise errors.Forbidden("project-scoped API keys cannot accept transfer requests")
    destination = lookups.organization(ctx.store, caller, caller.resolve_org(spec.org_id))
    ticket = ctx.store.transfer_requests.get(request_id)
    project = ctx.store.projects.get(project_id)
    if ticket is None or ticket.project_id != project_id or project is None:
        raise errors.NotFound(f"transfer request {request_id} not found")
    if project.deleted_at is not None or clock.parse(ticket.expires_at) <= clock.now():
        raise errors.NotFound(f"transfer request {request_id} has expired")
    if project.org_id != destination.id:
        held = _live_projects(ctx, destination.id)
        if held + 1 > destination.projects_limit:
            raise errors.NotAcceptable(
                "the destination cannot own another project",
                body={
                    "reasons": [
                        {
                            "code": "projects_limit_exceeded",
                            "message": f"organization {destination.id} already has {held} "
                            f"projects, its limit is {destination.projects_limit}",
                        }
                    ]
                },
            )
    _move(ctx, [project], destination.id)
    for used in ctx.store.transfer_requests.in_project(project.id):
        ctx.store.transfer_requests.delete(used.id)
    return no_content()
