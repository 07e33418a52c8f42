"""Endpoints (computes): create, list, get, update (autoscaling, suspend timeout, settings,
disable), start, suspend, restart, delete."""

from __future__ import annotations

from aiohttp import web

from neon_emulator import (
    bodies,
    clock,
    compute,
    context,
    errors,
    lookups,
    provisioning,
    records,
    views,
)
from neon_emulator.context import Context
from neon_emulator.operations import Step
from neon_emulator.routes import no_content, reply

routes = web.RouteTableDef()

TRANSITIVE = "endpoint is in some transitive state, could not suspend"


def _settings(spec: bodies.EndpointSettings | None) -> dict[str, object] | None:
    if spec is None:
        return None
    if spec.pg_settings is None:
        raise errors.BadRequest("settings must not be nil")
    return spec.model_dump(exclude_none=True)


def _answer(
    ctx: Context, endpoint: records.Endpoint, ops: list[records.Operation], status: int = 200
) -> web.Response:
    return reply(
        {"endpoint": views.endpoint(ctx, endpoint), "operations": views.operations(ops)},
        status=status,
    )


@routes.post("/projects/{project_id}/endpoints")
async def create_endpoint(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    spec = (await bodies.parse(request, bodies.EndpointCreate)).endpoint
    branch = lookups.branch(ctx.store, project, spec.branch_id)
    if spec.region_id is not None and spec.region_id != project.region_id:
        raise errors.BadRequest(
            f"endpoint.region_id: must be the project's region {project.region_id!r}"
        )
    settings = _settings(spec.settings)
    min_cu, max_cu, suspend = provisioning.resolve_limits(
        spec.autoscaling_limit_min_cu,
        spec.autoscaling_limit_max_cu,
        spec.suspend_timeout_seconds,
        project.default_endpoint_settings,
        "endpoint.",
    )
    if spec.type == "read_write":
        provisioning.ensure_one_read_write(ctx, branch)
    ctx.runner.ensure_unlocked(project.id)
    endpoint = provisioning.add_endpoint(
        ctx,
        project,
        branch,
        type=spec.type,
        min_cu=min_cu,
        max_cu=max_cu,
        suspend=suspend,
        provisioner=spec.provisioner,
        settings=settings,
        name=spec.name,
        disabled=bool(spec.disabled),
    )
    steps = (
        []
        if endpoint.disabled
        else [Step("start_compute", "start_compute", branch_id=branch.id, endpoint_id=endpoint.id)]
    )
    return _answer(ctx, endpoint, ctx.runner.submit(project.id, steps), status=201)


@routes.get("/projects/{project_id}/endpoints")
async def list_endpoints(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    endpoints = ctx.store.endpoints.in_project(project.id)
    return reply({"endpoints": [views.endpoint(ctx, e) for e in endpoints]})


@routes.get("/projects/{project_id}/endpoints/{endpoint_id}")
async def get_endpoint(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    endpoint = lookups.endpoint(ctx.store, project, request.match_info["endpoint_id"])
    return reply({"endpoint": views.endpoint(ctx, endpoint)})


@routes.patch("/projects/{project_id}/endpoints/{endpoint_id}")
async def update_endpoint(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    endpoint = lookups.endpoint(ctx.store, project, request.match_info["endpoint_id"])
    patch = (await bodies.parse(request, bodies.EndpointUpdate)).endpoint
    settings = _settings(patch.settings)
    min_cu, max_cu, suspend = provisioning.resolve_limits(
        patch.autoscaling_limit_min_cu,
        patch.autoscaling_limit_max_cu,
        patch.suspend_timeout_seconds,
        {
            "autoscaling_limit_min_cu": endpoint.autoscaling_limit_min_cu,
            "autoscaling_limit_max_cu": endpoint.autoscaling_limit_max_cu,
            "suspend_timeout_seconds": endpoint.suspend_timeout_seconds,
        },
        "endpoint.",
    )
    if patch.autoscaling_limit_min_cu is None and patch.autoscaling_limit_max_cu is not None:
        min_cu = endpoint.autoscaling_limit_min_cu
    if patch.autoscaling_limit_max_cu is None and patch.autoscaling_limit_min_cu is not None:
        max_cu = endpoint.autoscaling_limit_max_cu
    compute.check_limits(min_cu, max_cu, "endpoint.")
    destination = None
    if patch.branch_id is not None and patch.branch_id != endpoint.branch_id:
        destination = lookups.branch(ctx.store, project, patch.branch_id)
        if endpoint.type == "read_write":
            provisioning.ensure_one_read_write(ctx, destination)
    ctx.runner.ensure_unlocked(project.id)

    endpoint.autoscaling_limit_min_cu = min_cu
    endpoint.autoscaling_limit_max_cu = max_cu
    endpoint.suspend_timeout_seconds = suspend
    if patch.name is not None:
        endpoint.name = patch.name
    if settings is not None:
        endpoint.settings = settings
    if patch.provisioner is not None:
        endpoint.provisioner = patch.provisioner
    if patch.pooler_enabled is not None:
        endpoint.pooler_enabled = patch.pooler_enabled
    if destination is not None:
        endpoint.branch_id = destination.id
    steps = [
        Step("apply_config", "apply_config", branch_id=endpoint.branch_id, endpoint_id=endpoint.id)
    ]
    if patch.disabled is not None and patch.disabled != endpoint.disabled:
        endpoint.disabled = patch.disabled
        if patch.disabled and endpoint.current_state != "idle":
            endpoint.pending_state = "idle"
            steps.append(
                Step(
                    "suspend_compute",
                    "suspend_compute",
                    branch_id=endpoint.branch_id,
                    endpoint_id=endpoint.id,
                )
            )
    endpoint.updated_at = clock.now_iso()
    ctx.store.endpoints.put(endpoint)
    return _answer(ctx, endpoint, ctx.runner.submit(project.id, steps))


@routes.post("/projects/{project_id}/endpoints/{endpoint_id}/start")
async def start_endpoint(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    endpoint = lookups.endpoint(ctx.store, project, request.match_info["endpoint_id"])
    if endpoint.disabled:
        raise errors.BadRequest(f"endpoint {endpoint.id} is disabled")
    ctx.runner.ensure_unlocked(project.id)
    if endpoint.current_state != "active":
        endpoint.pending_state = "active"
        ctx.store.endpoints.put(endpoint)
    step = Step(
        "start_compute", "start_compute", branch_id=endpoint.branch_id, endpoint_id=endpoint.id
    )
    return _answer(ctx, endpoint, ctx.runner.submit(project.id, [step]))


@routes.post("/projects/{project_id}/endpoints/{endpoint_id}/suspend")
async def suspend_endpoint(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    endpoint = lookups.endpoint(ctx.store, project, request.match_info["endpoint_id"])
    if endpoint.current_state == "init" or endpoint.pending_state is not None:
        raise errors.Locked(TRANSITIVE)
    ctx.runner.ensure_unlocked(project.id)
    if endpoint.current_state == "active":
        endpoint.pending_state = "idle"
        ctx.store.endpoints.put(endpoint)
    step = Step(
        "suspend_compute", "suspend_compute", branch_id=endpoint.branch_id, endpoint_id=endpoint.id
    )
    return _answer(ctx, endpoint, ctx.runner.submit(project.id, [step]))


@routes.post("/projects/{project_id}/endpoints/{endpoint_id}/restart")
async def restart_endpoint(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    endpoint = lookups.endpoint(ctx.store, project, request.match_info["endpoint_id"])
    if endpoint.current_state != "active":
        raise errors.BadRequest(
            f"endpoint {endpoint.id} is not active (current_state {endpoint.current_state}); "
            "use start instead"
        )
    ctx.runner.ensure_unlocked(project.id)
    steps = [
        Step(
            "suspend_compute",
            "suspend_compute",
            branch_id=endpoint.branch_id,
            endpoint_id=endpoint.id,
        ),
        Step(
            "start_compute", "start_compute", branch_id=endpoint.branch_id, endpoint_id=endpoint.id
        ),
    ]
    endpoint.pending_state = "active"
    ctx.store.endpoints.put(endpoint)
    return _answer(ctx, endpoint, ctx.runner.submit(project.id, steps))


@routes.delete("/projects/{project_id}/endpoints/{endpoint_id}")
async def delete_endpoint(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    try:
        endpoint = lookups.endpoint(ctx.store, project, request.match_info["endpoint_id"])
    except errors.NotFound:
        return no_content()
    ctx.runner.ensure_unlocked(project.id)
    ctx.store.endpoints.delete(endpoint.id)
    endpoint.current_state = "idle"
    endpoint.pending_state = None
    step = Step(
        "suspend_compute", "delete_endpoint", branch_id=endpoint.branch_id, endpoint_id=endpoint.id
    )
    return _answer(ctx, endpoint, ctx.runner.submit(project.id, [step]))
