"""The caller's account: the current user, the organizations they act in, ``/auth`` (what kind
of key is calling and for whom) and the regions projects may be created in."""

from __future__ import annotations

from aiohttp import web

from neon_emulator import context, lookups, regions, views
from neon_emulator.routes import reply

routes = web.RouteTableDef()


@routes.get("/users/me")
async def current_user(request: web.Request) -> web.Response:
    ctx = context.of(request)
    user = lookups.user(ctx.store, lookups.principal(request).user_id)
    return reply(
        {
            "active_seconds_limit": 0,
            "auth_accounts": [
                {
                    "email": user.email,
                    "image": "",
                    "login": user.email,
                    "name": user.name,
                    "provider": "hasura",
                }
            ],
            "email": user.email,
            "id": user.id,
            "image": "",
            "login": user.email,
            "name": user.name,
            "last_name": "",
            "projects_limit": 0,
            "branches_limit": 5000,
            "max_autoscaling_limit": 16,
            "plan": "business",
        }
    )


@routes.get("/users/me/organizations")
async def current_user_organizations(request: web.Request) -> web.Response:
    ctx = context.of(request)
    caller = lookups.principal(request)
    orgs = [o for o in ctx.store.organizations if o.id in caller.org_ids]
    return reply({"organizations": [views.organization(o) for o in orgs]})


@routes.get("/auth")
async def auth_details(request: web.Request) -> web.Response:
    caller = lookups.principal(request)
    method = "api_key_user" if caller.personal else "api_key_org"
    account = caller.user_id if caller.personal else (caller.key.org_id or "")
    return reply({"account_id": account, "auth_method": method})


@routes.get("/regions")
async def active_regions(request: web.Request) -> web.Response:
    ctx = context.of(request)
    return reply({"regions": regions.listing(ctx.settings.default_region)})
