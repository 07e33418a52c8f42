"""The Data API (PostgREST-compatible REST endpoint) of a branch database, control-plane side:
create (201 ``{url}``), get (URL, status, settings, schemas), update settings (201 ``{}``),
delete (200 ``{}``).

The URL is served by this emulator (:mod:`neon_emulator.dataapi.server`)::

    http://127.0.0.1:<port>/apirest/<ep-id>/<db>/rest/v1

Creating it sets the database up as Neon does (:mod:`neon_emulator.dataapi.provisioning`: the
``authenticated`` and anonymous roles, ``auth.user_id()``, optionally the default grants) when a
data plane runs. ``auth_provider``: ``neon_auth`` (the branch must have Neon Auth) or
``external`` (``jwks_url`` required, ``jwt_audience`` optional); left out, tokens are checked
against the branch's Neon Auth keys when it has them.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from neon_emulator import bodies, branch_sql, clock, context, errors, lookups, records
from neon_emulator.context import Context
from neon_emulator.dataapi import provisioning
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


def _locate(
    request: web.Request,
) -> tuple[Context, records.Project, records.Branch, records.Database]:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    branch = lookups.branch(ctx.store, project, request.match_info["branch_id"])
    database = lookups.database(ctx.store, branch, request.match_info["database_name"])
    return ctx, project, branch, database


def _existing(ctx: Context, branch: records.Branch, database: str) -> records.DataApi:
    found = ctx.store.data_apis.get(f"{branch.id}/{database}")
    if found is None:
        raise errors.NotFound(f"Data API is not enabled for database {database!r}")
    return found


def url(ctx: Context, data_api: records.DataApi) -> str:
    branch = ctx.store.branches.get(data_api.branch_id)
    label = lookups.service_label(ctx.store, branch) if branch else data_api.branch_id
    return ctx.addresses.data_api_url(label, data_api.database_name)


async def _provision(
    ctx: Context,
    branch: records.Branch,
    database: records.Database,
    settings: dict[str, Any],
    *,
    auth_schema: bool,
    default_grants: bool,
) -> list[str] | None:
    """Set the database up; the database's schemas, or ``None`` without a data plane."""
    if not branch_sql.available(ctx):
        return None
    try:
        async with branch_sql.connect(ctx, branch, database.name) as conn:
            await provisioning.provision(
                conn,
                owner=database.owner_name,
                anon_role=str(settings["db_anon_role"]),
                schemas=[str(s) for s in settings["db_schemas"]],
                auth_schema=auth_schema,
                default_grants=default_grants,
            )
            return await provisioning.schemas(conn)
    except branch_sql.NoDatabase as exc:
        raise errors.Unavailable(f"could not set up the Data API: {exc}") from None


@routes.post(PATH)
async def create(request: web.Request) -> web.Response:
    ctx, project, branch, database = _locate(request)
    spec = await bodies.parse(request, bodies.DataApiCreate, optional=True)
    if ctx.store.data_apis.get(f"{branch.id}/{database.name}") is not None:
        raise errors.Conflict(f"Data API is already enabled for database {database.name!r}")
    if spec.auth_provider == "neon_auth" and ctx.store.neon_auth.get(branch.id) is None:
        raise errors.BadRequest(
            f"auth_provider: Neon Auth is not enabled for branch {branch.id}; enable it first "
            "(POST …/auth) or use auth_provider external with a jwks_url"
        )
    if spec.auth_provider == "external" and not spec.jwks_url:
        raise errors.BadRequest(
            f"{bodies.PREFIX}invalid: jwks_url (required when auth_provider is external)"
        )
    if lookups.read_write_endpoint(ctx.store, branch) is None:
        raise errors.BadRequest(f"branch {branch.id} has no read_write endpoint")
    ctx.runner.ensure_unlocked(project.id)
    settings = {**DEFAULT_SETTINGS}
    if spec.settings is not None:
        settings.update(spec.settings.model_dump(exclude_none=True))
    await _provision(
        ctx,
        branch,
        database,
        settings,
        auth_schema=not spec.skip_auth_schema,
        default_grants=spec.add_default_grants,
    )
    data_api = records.DataApi(
        project_id=project.id,
        branch_id=branch.id,
        database_name=database.name,
        settings=settings,
        auth_provider=spec.auth_provider,
        jwks_url=spec.jwks_url,
        provider_name=spec.provider_name,
        jwt_audience=spec.jwt_audience,
        created_at=clock.now_iso(),
    )
    ctx.store.data_apis.put(data_api)
    return reply({"url": url(ctx, data_api)}, status=201)


@routes.get(PATH)
async def get(request: web.Request) -> web.Response:
    ctx, _, branch, database = _locate(request)
    data_api = _existing(ctx, branch, database.name)
    schemas: list[str] = [str(s) for s in data_api.settings.get("db_schemas") or ["public"]]
    if branch_sql.available(ctx):
        try:
            async with branch_sql.connect(ctx, branch, database.name) as conn:
                schemas = await provisioning.schemas(conn)
        except branch_sql.NoDatabase as exc:
            raise errors.Unavailable(f"could not read the database's schemas: {exc}") from None
    return reply(
        {
            "url": url(ctx, data_api),
            "status": data_api.status,
            "settings": data_api.settings,
            "available_schemas": schemas,
        }
    )


@routes.patch(PATH)
async def update(request: web.Request) -> web.Response:
    """New settings apply to the next request (the emulator keeps no schema cache to refresh);
    a new anonymous role is created."""
    ctx, _, branch, database = _locate(request)
    data_api = _existing(ctx, branch, database.name)
    spec = await bodies.parse(request, bodies.DataApiUpdate, optional=True)
    if spec.settings is not None:
        settings = {**data_api.settings, **spec.settings.model_dump(exclude_none=True)}
        if settings.get("db_anon_role") != data_api.settings.get("db_anon_role"):
            await _provision(
                ctx, branch, database, settings, auth_schema=False, default_grants=False
            )
        data_api.settings = settings
        ctx.store.data_apis.put(data_api)
    return reply({}, status=201)


@routes.delete(PATH)
async def delete(request: web.Request) -> web.Response:
    ctx, _, branch, database = _locate(request)
    data_api = _existing(ctx, branch, database.name)
    ctx.store.data_apis.delete(data_api.key)
    return reply({})
