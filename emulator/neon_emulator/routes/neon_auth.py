"""Neon Auth, control-plane side: enable/inspect/disable the integration of a branch (keys,
JWKS URL, base URL), OAuth providers and trusted domains, plus the legacy project-scoped routes
that act on the project's default branch.

Enabling provisions nothing real yet (the ``neon_auth`` schema arrives with the data plane); the
URLs are shaped like Neon's: ``https://<ep-id>.neonauth.<region>.<platform>.<host_domain>/<db>/auth``
with the JWKS at ``…/.well-known/jwks.json``.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from neon_emulator import bodies, clock, context, errors, ids, lookups, records
from neon_emulator.context import Context
from neon_emulator.routes import reply

routes = web.RouteTableDef()

BRANCH = "/projects/{project_id}/branches/{branch_id}/auth"
LEGACY = "/projects/{project_id}/auth"
DEFAULT_PROVIDERS = [{"id": "google", "type": "shared"}, {"id": "github", "type": "shared"}]


def _created(auth: records.NeonAuth) -> dict[str, Any]:
    body: dict[str, Any] = {
        "auth_provider": auth.auth_provider,
        "auth_provider_project_id": auth.auth_provider_project_id,
        "pub_client_key": auth.pub_client_key,
        "secret_server_key": auth.secret_server_key,
        "jwks_url": auth.jwks_url,
        "schema_name": "neon_auth",
        "table_name": "users_sync",
    }
    if auth.base_url:
        body["base_url"] = auth.base_url
    return body


def _integration(auth: records.NeonAuth) -> dict[str, Any]:
    body: dict[str, Any] = {
        "auth_provider": auth.auth_provider,
        "auth_provider_project_id": auth.auth_provider_project_id,
        "branch_id": auth.branch_id,
        "db_name": auth.db_name,
        "created_at": auth.created_at,
        "owned_by": auth.owned_by,
        "jwks_url": auth.jwks_url,
    }
    if auth.base_url:
        body["base_url"] = auth.base_url
    return body


def _enable(
    ctx: Context,
    project: records.Project,
    branch: records.Branch,
    provider: str,
    database_name: str | None,
) -> records.NeonAuth:
    if ctx.store.neon_auth.get(branch.id) is not None:
        raise errors.Conflict(f"Neon Auth is already enabled for branch {branch.id}")
    databases = lookups.branch_databases(ctx.store, branch)
    if database_name is not None:
        database = lookups.database(ctx.store, branch, database_name)
    elif databases:
        database = databases[0]
    else:
        raise errors.BadRequest(f"branch {branch.id} has no database for Neon Auth")
    endpoint = lookups.read_write_endpoint(ctx.store, branch)
    label = endpoint.id if endpoint else branch.id
    base_url = (
        f"https://{label}.neonauth.{ctx.addresses.proxy_host(project.region_id)}"
        f"/{database.name}/auth"
    )
    provider_project = str(uuid.uuid4())
    jwks_url = (
        f"https://api.stack-auth.com/api/v1/projects/{provider_project}/.well-known/jwks.json"
        if provider == "stack"
        else f"{base_url}/.well-known/jwks.json"
    )
    auth = records.NeonAuth(
        project_id=project.id,
        branch_id=branch.id,
        auth_provider=provider,
        auth_provider_project_id=provider_project,
        pub_client_key=ids.token("pck_"),
        secret_server_key=ids.token("ssk_"),
        jwks_url=jwks_url,
        base_url=base_url if provider != "stack" else None,
        db_name=database.name,
        created_at=clock.now_iso(),
        oauth_providers=[dict(p) for p in DEFAULT_PROVIDERS],
    )
    ctx.store.neon_auth.put(auth)
    return auth


def _branch_auth(request: web.Request) -> tuple[Context, records.NeonAuth]:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    branch = lookups.branch(ctx.store, project, request.match_info["branch_id"])
    auth = ctx.store.neon_auth.get(branch.id)
    if auth is None:
        raise errors.NotFound(f"Neon Auth is not enabled for branch {branch.id}")
    return ctx, auth


def _legacy_auth(request: web.Request) -> tuple[Context, records.NeonAuth]:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    branch = lookups.default_branch(ctx.store, project)
    auth = ctx.store.neon_auth.get(branch.id)
    if auth is None:
        raise errors.NotFound(f"Neon Auth is not enabled for project {project.id}")
    return ctx, auth


@routes.post(BRANCH)
async def enable(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    branch = lookups.branch(ctx.store, project, request.match_info["branch_id"])
    spec = await bodies.parse(request, bodies.NeonAuthEnable)
    auth = _enable(ctx, project, branch, spec.auth_provider, spec.database_name)
    return reply(_created(auth), status=201)


@routes.get(BRANCH)
async def get(request: web.Request) -> web.Response:
    _, auth = _branch_auth(request)
    return reply(_integration(auth))


@routes.delete(BRANCH)
async def disable(request: web.Request) -> web.Response:
    ctx, auth = _branch_auth(request)
    await bodies.parse(request, bodies.NeonAuthDisable, optional=True)
    ctx.store.neon_auth.delete(auth.branch_id)
    return reply({})


@routes.post("/projects/auth/create")
async def legacy_create(request: web.Request) -> web.Response:
    ctx = context.of(request)
    spec = await bodies.parse(request, bodies.NeonAuthLegacyCreate)
    project = lookups.project(ctx.store, lookups.principal(request), spec.project_id)
    branch = lookups.branch(ctx.store, project, spec.branch_id)
    auth = _enable(ctx, project, branch, spec.auth_provider, spec.database_name)
    return reply(_created(auth), status=201)


@routes.post("/projects/auth/keys")
async def legacy_keys(request: web.Request) -> web.Response:
    ctx = context.of(request)
    spec = await bodies.parse(request, bodies.NeonAuthKeys)
    project = lookups.project(ctx.store, lookups.principal(request), spec.project_id)
    branch = lookups.default_branch(ctx.store, project)
    auth = ctx.store.neon_auth.get(branch.id) or _enable(
        ctx, project, branch, spec.auth_provider, None
    )
    auth.pub_client_key = ids.token("pck_")
    auth.secret_server_key = ids.token("ssk_")
    ctx.store.neon_auth.put(auth)
    return reply(_created(auth), status=201)


@routes.get(LEGACY + "/integrations")
async def legacy_list(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    found = ctx.store.neon_auth.in_project(project.id)
    return reply({"data": [_integration(a) for a in found]})


def _provider(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k in {"id", "type", "client_id", "client_secret"}}


def _add_provider(ctx: Context, auth: records.NeonAuth, spec: bodies.OAuthProviderAdd) -> Any:
    if any(p["id"] == spec.id for p in auth.oauth_providers):
        raise errors.Conflict(f"OAuth provider {spec.id!r} already exists")
    entry: dict[str, Any] = {"id": spec.id, "type": "shared"}
    if spec.client_id or spec.client_secret:
        entry.update(type="standard", client_id=spec.client_id, client_secret=spec.client_secret)
    if spec.microsoft_tenant_id:
        entry["microsoft_tenant_id"] = spec.microsoft_tenant_id
    auth.oauth_providers.append({k: v for k, v in entry.items() if v is not None})
    ctx.store.neon_auth.put(auth)
    return _provider(auth.oauth_providers[-1])


def _update_provider(
    ctx: Context, auth: records.NeonAuth, provider_id: str, spec: bodies.OAuthProviderUpdate
) -> Any:
    for entry in auth.oauth_providers:
        if entry["id"] == provider_id:
            changes = spec.model_dump(exclude_none=True)
            entry.update(changes)
            if entry.get("client_id") or entry.get("client_secret"):
                entry["type"] = "standard"
            ctx.store.neon_auth.put(auth)
            return _provider(entry)
    raise errors.NotFound(f"OAuth provider {provider_id!r} not found")


def _delete_provider(ctx: Context, auth: records.NeonAuth, provider_id: str) -> None:
    remaining = [p for p in auth.oauth_providers if p["id"] != provider_id]
    if len(remaining) == len(auth.oauth_providers):
        raise errors.NotFound(f"OAuth provider {provider_id!r} not found")
    auth.oauth_providers = remaining
    ctx.store.neon_auth.put(auth)


@routes.get(BRANCH + "/oauth_providers")
async def list_providers(request: web.Request) -> web.Response:
    _, auth = _branch_auth(request)
    return reply({"providers": [_provider(p) for p in auth.oauth_providers]})


@routes.post(BRANCH + "/oauth_providers")
async def add_provider(request: web.Request) -> web.Response:
    ctx, auth = _branch_auth(request)
    spec = await bodies.parse(request, bodies.OAuthProviderAdd)
    return reply(_add_provider(ctx, auth, spec))


@routes.patch(BRANCH + "/oauth_providers/{oauth_provider_id}")
async def update_provider(request: web.Request) -> web.Response:
    ctx, auth = _branch_auth(request)
    spec = await bodies.parse(request, bodies.OAuthProviderUpdate)
    return reply(_update_provider(ctx, auth, request.match_info["oauth_provider_id"], spec))


@routes.delete(BRANCH + "/oauth_providers/{oauth_provider_id}")
async def delete_provider(request: web.Request) -> web.Response:
    ctx, auth = _branch_auth(request)
    _delete_provider(ctx, auth, request.match_info["oauth_provider_id"])
    return reply({})


@routes.get(LEGACY + "/oauth_providers")
async def legacy_list_providers(request: web.Request) -> web.Response:
    _, auth = _legacy_auth(request)
    return reply({"providers": [_provider(p) for p in auth.oauth_providers]})


@routes.post(LEGACY + "/oauth_providers")
async def legacy_add_provider(request: web.Request) -> web.Response:
    ctx, auth = _legacy_auth(request)
    spec = await bodies.parse(request, bodies.OAuthProviderAdd)
    return reply(_add_provider(ctx, auth, spec))


@routes.patch(LEGACY + "/oauth_providers/{oauth_provider_id}")
async def legacy_update_provider(request: web.Request) -> web.Response:
    ctx, auth = _legacy_auth(request)
    spec = await bodies.parse(request, bodies.OAuthProviderUpdate)
    return reply(_update_provider(ctx, auth, request.match_info["oauth_provider_id"], spec))


@routes.delete(LEGACY + "/oauth_providers/{oauth_provider_id}")
async def legacy_delete_provider(request: web.Request) -> web.Response:
    ctx, auth = _legacy_auth(request)
    _delete_provider(ctx, auth, request.match_info["oauth_provider_id"])
    return reply({})


class DomainSpec(bodies.Body):
    domain: str
    auth_provider: str | None = None


class DomainsDelete(bodies.Body):
    domains: list[DomainSpec]


@routes.get(BRANCH + "/domains")
async def list_domains(request: web.Request) -> web.Response:
    _, auth = _branch_auth(request)
    return reply({"domains": auth.domains})


@routes.post(BRANCH + "/domains")
async def add_domain(request: web.Request) -> web.Response:
    ctx, auth = _branch_auth(request)
    spec = await bodies.parse(request, DomainSpec)
    if all(d["domain"] != spec.domain for d in auth.domains):
        auth.domains.append({"domain": spec.domain, "auth_provider": auth.auth_provider})
        ctx.store.neon_auth.put(auth)
    return reply({}, status=201)


@routes.delete(BRANCH + "/domains")
async def delete_domain(request: web.Request) -> web.Response:
    ctx, auth = _branch_auth(request)
    spec = await bodies.parse(request, DomainsDelete)
    wanted = {d.domain for d in spec.domains}
    auth.domains = [d for d in auth.domains if d["domain"] not in wanted]
    ctx.store.neon_auth.put(auth)
    return reply({})
