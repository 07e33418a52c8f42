"""The Data API (PostgREST-compatible REST endpoint) of a branch database, control-plane side:
create (201 ``{url}``), get (URL, status, settings), update settings (201 ``{}``), delete.

The URL is shaped like Neon's: ``https://<ep-id>.apirest.<region>.<platform>.<host_domain>/<db>/rest/v1``.
Serving requests at that URL is the data plane's business (not emulated yet).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from neon_emulator import bodies, clock, context, errors, lookups, records
from neon_emulator.context import Context
from neon_emulator.routes import reply

routes = web.RouteTableDef()

PATH = "/projects/{project_id}/branches/{branch_id}/data-api/{database_name}"

DEFAULT_SETTINGS: dict[str, Any] = {
    "db_aggregates_enabled": True,
    "db_anon_role": "anonymous",
    "db_schemas": ["public"],
    "jwt_role_claim_key": ".role",
    "openapi_mode": "disabled",
}


def _locate(request: web.Request) -> tuple[Context, records.Project, records.Branch, str]:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    branch = lookups.branch(ctx.store, project, request.match_info["branch_id"])
    database = lookups.database(ctx.store, branch, request.match_info["database_name"])
    return ctx, project, branch, database.name


def _existing(ctx: Context, branch: records.Branch, database: str) -> records.DataApi:
    found = ctx.store.data_apis.get(f"{branch.id}/{database}")
    if found is None:
        raise errors.NotFound(f"Data API is not enabled for database {database!r}")
    return found


@routes.post(PATH)
async def create(request: web.Request) -> web.Response:
    ctx, project, branch, database = _locate(request)
    spec = await bodies.parse(request, bodies.DataApiCreate, optional=True)
    if ctx.store.data_apis.get(f"{branch.id}/{database}") is not None:
        raise errors.Conflict(f"Data API is already enabled for database {database!r}")
    if spec.auth_provider == "neon_auth" and ctx.store.neon_auth.get(branch.id) is None:
        raise errors.BadRequest(f"auth_provider: Neon Auth is not enabled for branch {branch.id}")
    if spec.auth_provider == "external" and not spec.jwks_url:
        raise errors.BadRequest("jwks_url is required when auth_provider is external")
    endpoint = lookups.read_write_endpoint(ctx.store, branch)
    if endpoint is None:
        raise errors.BadRequest(f"branch {branch.id} has no read_write endpoint")
    host = ctx.addresses.host(endpoint).replace(endpoint.id, f"{endpoint.id}.apirest", 1)
    settings = {**DEFAULT_SETTINGS}
    if spec.settings is not None:
        settings.update(spec.settings.model_dump(exclude_none=True))
    data_api = records.DataApi(
        project_id=project.id,
        branch_id=branch.id,
        database_name=database,
        url=f"https://{host}/{database}/rest/v1",
        settings=settings,
        auth_provider=spec.auth_provider,
        jwks_url=spec.jwks_url,
        created_at=clock.now_iso(),
    )
    ctx.store.data_apis.put(data_api)
    return reply({"url": data_api.url}, status=201)


@routes.get(PATH)
async def get(request: web.Request) -> web.Response:
    ctx, _, branch, database = _locate(request)
    data_api = _existing(ctx, branch, database)
    return reply(
        {
            "url": data_api.url,
            "status": data_api.status,
            "settings": data_api.settings,
            "available_schemas": ["public"],
        }
    )


@routes.patch(PATH)
async def update(request: web.Request) -> web.Response:
    ctx, _, branch, database = _locate(request)
    data_api = _existing(ctx, branch, database)
    spec = await bodies.parse(request, bodies.DataApiUpdate, optional=True)
    if spec.settings is not None:
        data_api.settings = {**data_api.settings, **spec.settings.model_dump(exclude_none=True)}
        ctx.store.data_apis.put(data_api)
    return reply({}, status=201)


@routes.delete(PATH)
async def delete(request: web.Request) -> web.Response:
    ctx, _, branch, database = _locate(request)
    data_api = _existing(ctx, branch, database)
    ctx.store.data_apis.delete(data_api.key)
    return reply({})
