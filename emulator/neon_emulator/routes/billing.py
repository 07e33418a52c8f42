"""Billing settings of an organization: the monthly spending limit (alert-only on Neon, so
nothing here stops a compute). Launch and Scale plans only (403 otherwise); members read it,
admins set and clear it; clearing an unset limit succeeds."""

from __future__ import annotations

from aiohttp import web

from neon_emulator import bodies, context, lookups, plans, records
from neon_emulator.routes import reply

routes = web.RouteTableDef()

SPENDING_LIMIT = "/organizations/{org_id}/billing/spending_limit"


def _organization(request: web.Request, *, admin: bool) -> records.Organization:
    ctx = context.of(request)
    org = lookups.requested_organization(request, ctx.store)
    if admin:
        lookups.principal(request).require_admin(org.id)
    plans.require(org, plans.SPENDING_LIMIT, "a spending limit")
    return org


@routes.get(SPENDING_LIMIT)
async def get_spending_limit(request: web.Request) -> web.Response:
    org = _organization(request, admin=False)
    return reply({"spending_limit_cents": org.spending_limit_cents})


@routes.put(SPENDING_LIMIT)
async def set_spending_limit(request: web.Request) -> web.Response:
    org = _organization(request, admin=True)
    spec = await bodies.parse(request, bodies.SpendingLimitUpdate)
    org.spending_limit_cents = spec.spending_limit_cents
    context.of(request).store.organizations.put(org)
    return reply({"spending_limit_cents": org.spending_limit_cents})


@routes.delete(SPENDING_LIMIT)
async def delete_spending_limit(request: web.Request) -> web.Response:
    org = _organization(request, admin=True)
    org.spending_limit_cents = None
    context.of(request).store.organizations.put(org)
    return reply({})
