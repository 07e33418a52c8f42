"""Neon Auth, control-plane side: enable/inspect/disable the integration of a branch, its SDK
keys, the legacy project-scoped integration routes and the ownership transfer.

Enabling stores the integration (keys, an Ed25519 signing key, the default configuration of
:mod:`neon_emulator.neonauth.defaults`) and provisions the ``neon_auth`` schema in the branch
database (:mod:`neon_emulator.neonauth.schema`) when a data plane runs. The URLs it reports are
served by this emulator (:mod:`neon_emulator.neonauth.server`)::

    base_url  http://127.0.0.1:<port>/neonauth/<ep-id>/<db>/auth
    jwks_url  <base_url>/.well-known/jwks.json

Configuration sub-APIs live in :mod:`.neon_auth_config`, users in :mod:`.neon_auth_users`.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from aiohttp import web

from neon_emulator import bodies, branch_sql, clock, context, errors, ids, lookups, records
from neon_emulator.context import Context
from neon_emulator.neonauth import defaults, keys, schema
from neon_emulator.routes import reply

routes = web.RouteTableDef()

BRANCH = "/projects/{project_id}/branches/{branch_id}/auth"
LEGACY = "/projects/{project_id}/auth"
TRANSFER_PATH = "/neonauth/transfers/{code}"


def urls(ctx: Context, auth: records.NeonAuth) -> tuple[str, str]:
    """The integration's base URL and JWKS URL, as served right now."""
    branch = ctx.store.branches.get(auth.branch_id)
    label = lookups.service_label(ctx.store, branch) if branch is not None else auth.branch_id
    base = ctx.addresses.neon_auth_base_url(label, auth.db_name)
    return base, f"{base}/.well-known/jwks.json"


def _created(ctx: Context, auth: records.NeonAuth) -> dict[str, Any]:
    base, jwks = urls(ctx, auth)
    body: dict[str, Any] = {
        "auth_provider": auth.auth_provider,
        "auth_provider_project_id": auth.auth_provider_project_id,
        "pub_client_key": auth.pub_client_key,
        "secret_server_key": auth.secret_server_key,
        "jwks_url": jwks,
        "schema_name": schema.SCHEMA,
        "table_name": "user" if auth.auth_provider == "better_auth" else "users_sync",
    }
    if auth.auth_provider == "better_auth":
        body["base_url"] = base
    return body


def integration(ctx: Context, auth: records.NeonAuth) -> dict[str, Any]:
    base, jwks = urls(ctx, auth)
    body: dict[str, Any] = {
        "auth_provider": auth.auth_provider,
        "auth_provider_project_id": auth.auth_provider_project_id,
        "branch_id": auth.branch_id,
        "db_name": auth.db_name,
        "created_at": auth.created_at,
        "owned_by": auth.owned_by,
        "jwks_url": jwks,
    }
    if auth.transfer_status:
        body["transfer_status"] = auth.transfer_status
    if auth.auth_provider == "better_auth":
        body["base_url"] = base
    if auth.name:
        body["name"] = auth.name
    return body


async def _enable(
    ctx: Context,
    project: records.Project,
    branch: records.Branch,
    provider: str,
    database_name: str | None,
) -> records.NeonAuth:
    if ctx.store.neon_auth.get(branch.id) is not None:
        raise errors.Conflict(f"Neon Auth is already enabled for branch {branch.id}")
    if database_name is not None:
        database = lookups.database(ctx.store, branch, database_name)
    else:
        databases = lookups.branch_databases(ctx.store, branch)
        if not databases:
            raise errors.BadRequest(f"branch {branch.id} has no database for Neon Auth")
        database = databases[0]
    ctx.runner.ensure_unlocked(project.id)
    if branch_sql.available(ctx):
        try:
            async with branch_sql.connect(ctx, branch, database.name) as conn:
                await schema.provision(conn, provider)
        except branch_sql.NoDatabase as exc:
            raise errors.Unavailable(f"could not provision the neon_auth schema: {exc}") from None
    auth = records.NeonAuth(
        project_id=project.id,
        branch_id=branch.id,
        auth_provider=provider,
        auth_provider_project_id=str(uuid.uuid4()),
        pub_client_key=ids.token("pck_"),
        secret_server_key=ids.token("ssk_"),
        db_name=database.name,
        created_at=clock.now_iso(),
        name=project.name,
        signing_key=keys.new_signing_key(),
        cookie_secret=secrets.token_urlsafe(32),
        **defaults.configuration(),
    )
    ctx.store.neon_auth.put(auth)
    return auth


async def _disable(ctx: Context, auth: records.NeonAuth, delete_data: bool) -> None:
    branch = ctx.store.branches.get(auth.branch_id)
    if delete_data and branch is not None and branch_sql.available(ctx):
        try:
            async with branch_sql.connect(ctx, branch, auth.db_name) as conn:
                await schema.drop(conn)
        except branch_sql.NoDatabase as exc:
            raise errors.Unavailable(f"could not delete the neon_auth schema: {exc}") from None
    ctx.store.neon_auth.delete(auth.branch_id)


@routes.post(BRANCH)
async def enable(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    branch = lookups.branch(ctx.store, project, request.match_info["branch_id"])
    spec = await bodies.parse(request, bodies.NeonAuthEnable)
    auth = await _enable(ctx, project, branch, spec.auth_provider, spec.database_name)
    return reply(_created(ctx, auth), status=201)


@routes.get(BRANCH)
async def get(request: web.Request) -> web.Response:
    ctx = context.of(request)
    return reply(integration(ctx, lookups.branch_neon_auth(request, ctx.store)))


@routes.delete(BRANCH)
async def disable(request: web.Request) -> web.Response:
    ctx = context.of(request)
    auth = lookups.branch_neon_auth(request, ctx.store)
    spec = await bodies.parse(request, bodies.NeonAuthDisable, optional=True)
    await _disable(ctx, auth, spec.delete_data)
    return web.Response(status=200)


@routes.delete(LEGACY + "/integration/{auth_provider}")
async def legacy_disable(request: web.Request) -> web.Response:
    ctx = context.of(request)
    auth = lookups.project_neon_auth(request, ctx.store)
    provider = request.match_info["auth_provider"]
    if provider != auth.auth_provider:
        raise errors.NotFound(f"no {provider!r} integration in project {auth.project_id}")
    spec = await bodies.parse(request, bodies.NeonAuthDisable, optional=True)
    await _disable(ctx, auth, spec.delete_data)
    return web.Response(status=200)


@routes.post("/projects/auth/create")
async def legacy_create(request: web.Request) -> web.Response:
    ctx = context.of(request)
    spec = await bodies.parse(request, bodies.NeonAuthLegacyCreate)
    project = lookups.project(ctx.store, lookups.principal(request), spec.project_id)
    branch = lookups.branch(ctx.store, project, spec.branch_id)
    auth = await _enable(ctx, project, branch, spec.auth_provider, spec.database_name)
    return reply(_created(ctx, auth), status=201)


@routes.post("/projects/auth/keys")
async def legacy_keys(request: web.Request) -> web.Response:
    """New SDK keys for the default branch's integration (enabling it first if needed)."""
    ctx = context.of(request)
    spec = await bodies.parse(request, bodies.NeonAuthKeys)
    project = lookups.project(ctx.store, lookups.principal(request), spec.project_id)
    branch = lookups.default_branch(ctx.store, project)
    auth = ctx.store.neon_auth.get(branch.id)
    if auth is None:
        auth = await _enable(ctx, project, branch, spec.auth_provider, None)
    auth.pub_client_key = ids.token("pck_")
    auth.secret_server_key = ids.token("ssk_")
    ctx.store.neon_auth.put(auth)
    return reply(_created(ctx, auth), status=201)


@routes.get(LEGACY + "/integrations")
async def legacy_list(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    found = ctx.store.neon_auth.in_project(project.id)
    return reply({"data": [integration(ctx, a) for a in found]})


@routes.post("/projects/auth/transfer_ownership")
async def transfer_ownership(request: web.Request) -> web.Response:
    """Starts the transfer of a Neon-managed auth project to the user: the answer is a URL that
    completes it when followed (on Neon: the provider's UI; here: this emulator)."""
    ctx = context.of(request)
    spec = await bodies.parse(request, bodies.TransferOwnership)
    project = lookups.project(ctx.store, lookups.principal(request), spec.project_id)
    auth = lookups.provider_integration(ctx.store, project, spec.auth_provider)
    if auth.owned_by == "user":
        raise errors.BadRequest("the auth project is already owned by the user")
    auth.transfer_status = "initiated"
    ctx.store.neon_auth.put(auth)
    code = f"{auth.branch_id}.{auth.auth_provider_project_id}"
    return reply({"url": f"{ctx.addresses.origin}/neonauth/transfers/{code}"})


async def complete_transfer(request: web.Request) -> web.Response:
    """``GET /neonauth/transfers/{code}`` (outside ``/api/v2``): the user accepted the transfer."""
    ctx = context.of(request)
    branch_id, _, provider_project = request.match_info["code"].partition(".")
    auth = ctx.store.neon_auth.get(branch_id)
    if auth is None or auth.auth_provider_project_id != provider_project:
        raise web.HTTPNotFound()
    auth.owned_by, auth.transfer_status = "user", "finished"
    ctx.store.neon_auth.put(auth)
    return reply({"transfer_status": "finished", "owned_by": "user"})
