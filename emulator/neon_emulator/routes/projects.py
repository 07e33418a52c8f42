"""Projects: create, list (cursor pagination, ``search``), get, update, delete, recover, and
``connection_uri``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from neon_emulator import (
    bodies,
    clock,
    context,
    errors,
    lookups,
    preload,
    provisioning,
    queries,
    records,
    views,
)
from neon_emulator.actions import projects
from neon_emulator.operations import Step
from neon_emulator.routes import reply

routes = web.RouteTableDef()


def _endpoint_defaults(
    spec: bodies.DefaultEndpointSettings | None, current: dict[str, Any], prefix: str
) -> dict[str, Any]:
    merged = dict(current)
    if spec is not None:
        merged.update(spec.model_dump(exclude_none=True))
    provisioning.resolve_limits(
        merged.get("autoscaling_limit_min_cu"),
        merged.get("autoscaling_limit_max_cu"),
        merged.get("suspend_timeout_seconds"),
        provisioning.DEFAULT_ENDPOINT_SETTINGS,
        prefix,
    )
    return merged


@routes.post("/projects")
async def create_project(request: web.Request) -> web.Response:
    ctx = context.of(request)
    spec = (await bodies.parse(request, bodies.ProjectCreate)).project
    created = projects.create(ctx, lookups.principal(request), spec)
    return reply(
        {
            "project": views.project(ctx, created.project, detailed=False),
            "connection_uris": [
                views.connection(ctx, created.endpoint, created.role, created.database)
            ],
            "roles": [views.role(created.role, with_password=True)],
            "databases": [views.database(created.database)],
            "operations": views.operations(created.operations),
            "branch": views.branch(ctx, created.branch),
            "endpoints": [views.endpoint(ctx, created.endpoint)],
        },
        status=201,
    )


def _listing(
    ctx: context.Context, candidates: list[records.Project], query: Mapping[str, str]
) -> dict[str, Any]:
    """A page of ``candidates`` as ``GET /projects`` lists them: ``search`` by name or id, in
    creation order, ``cursor`` = the last id of the previous page."""
    limit = queries.integer(query, "limit", 10, 1, 400)
    queries.integer(query, "timeout", 100, 100, 30_000)
    search = (queries.text(query, "search") or "").lower()
    cursor = queries.text(query, "cursor")
    found = [p for p in candidates if not search or search in p.name.lower() or search in p.id]
    found.sort(key=lambda p: p.seq)
    if cursor is not None:
        anchor = ctx.store.projects.get(cursor)
        if anchor is None:
            raise errors.BadRequest(f"invalid cursor {cursor!r}")
        found = [p for p in found if p.seq > anchor.seq]
    page = found[:limit]
    body: dict[str, Any] = {"projects": [views.project_item(ctx, p) for p in page]}
    if page:
        body["pagination"] = {"cursor": page[-1].id}
    return body


@routes.get("/projects")
async def list_projects(request: web.Request) -> web.Response:
    ctx = context.of(request)
    caller = lookups.principal(request)
    recoverable = queries.boolean(request.query, "recoverable")
    org_id = caller.resolve_org(queries.text(request.query, "org_id"))
    candidates = [
        p
        for p in ctx.store.projects
        if p.org_id == org_id and caller.sees(p) and (p.deleted_at is not None) == recoverable
    ]
    return reply(
        {**_listing(ctx, candidates, request.query), "applications": {}, "integrations": {}}
    )


@routes.get("/projects/shared")
async def list_shared_projects(request: web.Request) -> web.Response:
    """Projects of other organizations shared with the caller's user (project permissions)."""
    ctx = context.of(request)
    caller = lookups.principal(request)
    candidates = [
        p
        for p in ctx.store.projects
        if p.id in caller.shared and p.org_id not in caller.org_ids and p.deleted_at is None
    ]
    return reply(_listing(ctx, candidates, request.query))


@routes.get("/projects/{project_id}")
async def get_project(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    return reply({"project": views.project(ctx, project)})


@routes.patch("/projects/{project_id}")
async def update_project(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    patch = (await bodies.parse(request, bodies.ProjectUpdate)).project
    preload.check(patch.settings, ctx.dataplane.loadable_libraries)
    endpoint_defaults = project.default_endpoint_settings
    if patch.default_endpoint_settings is not None:
        endpoint_defaults = _endpoint_defaults(
            patch.default_endpoint_settings,
            project.default_endpoint_settings,
            "project.default_endpoint_settings.",
        )
    if patch.name is not None:
        project.name = patch.name
    if patch.settings is not None:
        project.settings = {**project.settings, **patch.settings}
    if patch.history_retention_seconds is not None:
        project.history_retention_seconds = patch.history_retention_seconds
    project.default_endpoint_settings = endpoint_defaults
    project.updated_at = clock.now_iso()
    ctx.store.projects.put(project)
    return reply({"project": views.project(ctx, project, detailed=False), "operations": []})


@routes.get("/projects/{project_id}/available_preload_libraries")
async def available_preload_libraries(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    loadable = ctx.dataplane.loadable_libraries(list(preload.CATALOGUE))
    return reply({"libraries": preload.available(loadable, str(project.pg_version))})


@routes.delete("/projects/{project_id}")
async def delete_project(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    stamp = clock.now_iso()
    project.deleted_at = stamp
    project.updated_at = stamp
    ctx.store.projects.put(project)
    for endpoint in ctx.store.endpoints.in_project(project.id):
        endpoint.current_state = "idle"
        endpoint.pending_state = None
        ctx.store.endpoints.put(endpoint)
    ctx.runner.submit(project.id, [Step("suspend_compute", "delete_project")])
    return reply({"project": views.project(ctx, project, detailed=False)})


@routes.post("/projects/{project_id}/recover")
async def recover_project(request: web.Request) -> web.Response:
    ctx = context.of(request)
    caller = lookups.principal(request)
    project_id = request.match_info["project_id"]
    project = ctx.store.projects.get(project_id)
    if project is None or not caller.sees(project) or project.deleted_at is None:
        raise errors.NotFound(f"project {project_id} not found")
    if clock.parse(project.deleted_at) + views.RECOVERY_WINDOW < clock.now():
        raise errors.NotFound(f"project {project_id} is past its recovery window")
    project.deleted_at = None
    project.updated_at = clock.now_iso()
    ctx.store.projects.put(project)
    return reply(
        {
            "project": views.project(ctx, project),
            "branches": [
                views.branch(ctx, b) for b in lookups.live_branches(ctx.store, project.id)
            ],
        }
    )


@routes.get("/projects/{project_id}/connection_uri")
async def connection_uri(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    query = request.query
    database_name = queries.required(query, "database_name")
    role_name = queries.required(query, "role_name")
    pooled = queries.boolean(query, "pooled")
    branch_id = queries.text(query, "branch_id")
    endpoint_id = queries.text(query, "endpoint_id")
    endpoint = lookups.endpoint(ctx.store, project, endpoint_id) if endpoint_id else None
    if branch_id:
        branch = lookups.branch(ctx.store, project, branch_id)
    elif endpoint is not None:
        branch = lookups.branch(ctx.store, project, endpoint.branch_id)
    else:
        branch = lookups.default_branch(ctx.store, project)
    if endpoint is None:
        endpoint = lookups.read_write_endpoint(ctx.store, branch)
        if endpoint is None:
            raise errors.NotFound(f"branch {branch.id} has no read_write endpoint")
    elif endpoint.branch_id != branch.id:
        raise errors.BadRequest(f"endpoint {endpoint.id} does not belong to branch {branch.id}")
    role = lookups.role(ctx.store, branch, role_name)
    database = lookups.database(ctx.store, branch, database_name)
    uri = ctx.addresses.uri(endpoint, role.name, role.password or "", database.name, pooled)
    return reply({"uri": uri})
