"""The admin API: knobs of a running emulator, outside ``/api/v2`` and without authentication
(it is meant for the machine that runs the emulator, e.g. a test suite).

=======  ==========================================  ==============================================
GET      ``/admin/faults``                           current fault injection
PUT      ``/admin/faults``                           ``{"error_5xx_probability", "latency_seconds",
                                                     "locked_probability",
                                                     "echo_body_probability"}`` (any subset)
GET/PUT  ``/admin/rate-limits``                      ``{"per_minute", "burst_per_second"}``
                                                     (0 turns a limit off)
GET/PUT  ``/admin/operations``                       ``{"latency_seconds"}``: time for a mutation's
                                                     operations to finish
POST     ``/admin/organizations``                    ``{"name", "plan"?}`` → new organization the
                                                     bootstrap user belongs to
POST     ``/admin/users``                            ``{"email", "name"?}`` → another account and
                                                     its personal API key (``api_key``); it joins
                                                     the organizations that invited its email
PUT      ``/admin/organizations/{org_id}/limits``    ``{"projects_limit"?,
                                                     "snapshots_per_project"?}``
PUT      ``/admin/projects/{project_id}/integrations``  ``{"integrations": ["github", …]}``
                                                     (projects with integrations cannot be
                                                     transferred: 422)
GET      ``/admin/requests?after=N``                 ``{"last", "requests": [{"seq", "method",
                                                     "path", "route", "status"}, …]}``: the API
                                                     requests answered after number ``N``
                                                     (default 0; the last 100,000 are kept)
=======  ==========================================  ==============================================

Every PUT answers with the resulting state.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from aiohttp import web
from pydantic import Field

from neon_emulator import (
    api_keys,
    bodies,
    clock,
    context,
    errors,
    ids,
    memberships,
    records,
    views,
)
from neon_emulator.routes import reply

routes = web.RouteTableDef()

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]


class FaultsUpdate(bodies.Body):
    error_5xx_probability: Probability | None = None
    latency_seconds: NonNegative | None = None
    locked_probability: Probability | None = None
    echo_body_probability: Probability | None = None


class RateLimitsUpdate(bodies.Body):
    per_minute: Annotated[int, Field(ge=0)] | None = None
    burst_per_second: Annotated[int, Field(ge=0)] | None = None


class OperationsUpdate(bodies.Body):
    latency_seconds: NonNegative


class OrganizationCreate(bodies.Body):
    name: Annotated[str, Field(min_length=1)]
    plan: str = "scale"


class UserCreate(bodies.Body):
    email: bodies.Email
    name: str | None = None


class LimitsUpdate(bodies.Body):
    projects_limit: Annotated[int, Field(ge=0)] | None = None
    snapshots_per_project: Annotated[int, Field(ge=0)] | None = None


class IntegrationsUpdate(bodies.Body):
    integrations: list[str]


def _apply(target: Any, update: bodies.Body) -> dict[str, Any]:
    for name, value in update.model_dump(exclude_none=True).items():
        setattr(target, name, value)
    return dataclasses.asdict(target)


@routes.get("/admin/faults")
async def get_faults(request: web.Request) -> web.Response:
    return reply(dataclasses.asdict(context.of(request).knobs.faults))


@routes.put("/admin/faults")
async def put_faults(request: web.Request) -> web.Response:
    update = await bodies.parse(request, FaultsUpdate)
    return reply(_apply(context.of(request).knobs.faults, update))


@routes.get("/admin/rate-limits")
async def get_rate_limits(request: web.Request) -> web.Response:
    return reply(dataclasses.asdict(context.of(request).knobs.rate_limits))


@routes.put("/admin/rate-limits")
async def put_rate_limits(request: web.Request) -> web.Response:
    update = await bodies.parse(request, RateLimitsUpdate)
    return reply(_apply(context.of(request).knobs.rate_limits, update))


@routes.get("/admin/operations")
async def get_operations(request: web.Request) -> web.Response:
    return reply({"latency_seconds": context.of(request).knobs.operation_latency})


@routes.put("/admin/operations")
async def put_operations(request: web.Request) -> web.Response:
    update = await bodies.parse(request, OperationsUpdate)
    knobs = context.of(request).knobs
    knobs.operation_latency = update.latency_seconds
    return reply({"latency_seconds": knobs.operation_latency})


@routes.get("/admin/requests")
async def get_requests(request: web.Request) -> web.Response:
    log = context.of(request).requests
    try:
        after = int(request.query.get("after", "0"))
    except ValueError:
        raise errors.BadRequest("after must be an integer") from None
    entries = [dataclasses.asdict(entry) for entry in log.after(after)]
    return reply({"last": log.last, "requests": entries})


@routes.post("/admin/organizations")
async def create_organization(request: web.Request) -> web.Response:
    ctx = context.of(request)
    spec = await bodies.parse(request, OrganizationCreate)
    user = next(iter(ctx.store.users), None)
    stamp = clock.now_iso()
    org = records.Organization(
        id=ids.unique(ids.organization_id, lambda c: c in ctx.store.organizations),
        name=spec.name,
        handle=spec.name.lower().replace(" ", "-"),
        plan=spec.plan,
        created_at=stamp,
        updated_at=stamp,
    )
    ctx.store.organizations.put(org)
    if user is not None:
        memberships.join(ctx.store, org.id, user.id, "admin")
    return reply(views.organization(org), status=201)


@routes.post("/admin/users")
async def create_user(request: web.Request) -> web.Response:
    ctx = context.of(request)
    spec = await bodies.parse(request, UserCreate)
    if memberships.user_by_email(ctx.store, spec.email) is not None:
        raise errors.Conflict(f"a user with email {spec.email} already exists")
    user = ctx.store.users.put(
        records.User(
            id=ids.user_id(),
            email=spec.email,
            name=spec.name or spec.email.partition("@")[0],
            created_at=clock.now_iso(),
        )
    )
    key = api_keys.issue(ctx.store, user.id, "admin")
    memberships.accept_invitations(ctx.store, user)
    return reply(
        {"id": user.id, "email": user.email, "name": user.name, "api_key": key.key}, status=201
    )


@routes.put("/admin/organizations/{org_id}/limits")
async def put_organization_limits(request: web.Request) -> web.Response:
    ctx = context.of(request)
    org = ctx.store.organizations.get(request.match_info["org_id"])
    if org is None:
        raise errors.NotFound(f"organization {request.match_info['org_id']} not found")
    update = await bodies.parse(request, LimitsUpdate)
    if update.projects_limit is not None:
        org.projects_limit = update.projects_limit
    if update.snapshots_per_project is not None:
        org.snapshots_per_project = update.snapshots_per_project
    ctx.store.organizations.put(org)
    return reply(
        {"projects_limit": org.projects_limit, "snapshots_per_project": org.snapshots_per_project}
    )


@routes.put("/admin/projects/{project_id}/integrations")
async def put_project_integrations(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = ctx.store.projects.get(request.match_info["project_id"])
    if project is None:
        raise errors.NotFound(f"project {request.match_info['project_id']} not found")
    update = await bodies.parse(request, IntegrationsUpdate)
    project.integrations = update.integrations
    ctx.store.projects.put(project)
    return reply({"integrations": project.integrations})
