"""API keys: personal keys (a user's own, acting in every organization they belong to) and
organization keys (optionally scoped to one project). Listing shows live keys without their
secret; revoking takes effect at once (the next request with the key gets 401).

Personal keys manage personal keys only (403 for an organization key). Organization keys can be
listed by any member and created or revoked by admins (403 for a member).
"""

from __future__ import annotations

from aiohttp import web

from neon_emulator import api_keys, auth, bodies, context, errors, lookups, records, views
from neon_emulator.context import Context
from neon_emulator.routes import reply

routes = web.RouteTableDef()


def _personal_only(caller: auth.Principal) -> None:
    if not caller.personal:
        raise errors.Forbidden("this endpoint requires a personal API key")


def _revoke(ctx: Context, key_id: str, owner_org: str | None, user_id: str) -> records.ApiKey:
    key = ctx.store.api_keys.get(key_id)
    if key is None or key.org_id != owner_org or key.revoked:
        raise errors.NotFound(f"API key {key_id} not found")
    if owner_org is None and key.created_by != user_id:
        raise errors.NotFound(f"API key {key_id} not found")
    key.revoked = True
    ctx.store.put_api_key(key)
    return key


@routes.get("/api_keys")
async def list_api_keys(request: web.Request) -> web.Response:
    ctx = context.of(request)
    caller = lookups.principal(request)
    _personal_only(caller)
    keys = [
        k
        for k in ctx.store.api_keys
        if k.created_by == caller.user_id and k.org_id is None and not k.revoked
    ]
    return reply([views.api_key(ctx, k) for k in keys])


@routes.post("/api_keys")
async def create_api_key(request: web.Request) -> web.Response:
    ctx = context.of(request)
    caller = lookups.principal(request)
    _personal_only(caller)
    spec = await bodies.parse(request, bodies.ApiKeyCreate)
    key = api_keys.issue(ctx.store, caller.user_id, spec.key_name)
    return reply(views.api_key_created(key))


@routes.delete("/api_keys/{key_id}")
async def revoke_api_key(request: web.Request) -> web.Response:
    ctx = context.of(request)
    caller = lookups.principal(request)
    _personal_only(caller)
    key = _revoke(ctx, request.match_info["key_id"], None, caller.user_id)
    return reply(views.api_key_revoked(key))


@routes.get("/organizations/{org_id}/api_keys")
async def list_org_api_keys(request: web.Request) -> web.Response:
    ctx = context.of(request)
    org = lookups.requested_organization(request, ctx.store)
    keys = [k for k in ctx.store.api_keys if k.org_id == org.id and not k.revoked]
    return reply([views.api_key(ctx, k) for k in keys])


@routes.post("/organizations/{org_id}/api_keys")
async def create_org_api_key(request: web.Request) -> web.Response:
    ctx = context.of(request)
    caller = lookups.principal(request)
    org = lookups.requested_organization(request, ctx.store)
    caller.require_admin(org.id)
    spec = await bodies.parse(request, bodies.ApiKeyCreate)
    if spec.project_id is not None:
        project = lookups.project(ctx.store, caller, spec.project_id)
        if project.org_id != org.id:
            raise errors.NotFound(f"project {spec.project_id} not found")
    key = api_keys.issue(ctx.store, caller.user_id, spec.key_name, org.id, spec.project_id)
    return reply(views.api_key_created(key))


@routes.delete("/organizations/{org_id}/api_keys/{key_id}")
async def revoke_org_api_key(request: web.Request) -> web.Response:
    ctx = context.of(request)
    caller = lookups.principal(request)
    org = lookups.requested_organization(request, ctx.store)
    caller.require_admin(org.id)
    key = _revoke(ctx, request.match_info["key_id"], org.id, caller.user_id)
    return reply(views.api_key_revoked(key))
