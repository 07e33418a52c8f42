"""The HTTP server: Neon API v2 under ``/api/v2`` plus health and admin endpoints.

Request path, outermost first:

0. ``requestlog`` (every request but ``/healthz``): one INFO line with method, route template,
   status, duration and request id (:mod:`neon_emulator.requestlog`).
1. ``envelope`` (every request): request id (``X-Request-ID`` or a fresh UUID) echoed in
   ``X-Neon-Ret-Request-Id``; :class:`~neon_emulator.errors.ApiError` and unknown routes become
   ``GeneralError`` JSON; the store is committed once the handler returns.
2. ``gate`` (``/api/v2`` only): Bearer authentication (401), rate limiting (429 +
   ``Retry-After``), injected faults (latency, 503, 423); every request and its status go to
   the request history (:mod:`neon_emulator.requesthistory`, read through
   ``GET /admin/requests``).
3. The route handler (``neon_emulator.routes.*``).

Outside ``/api/v2`` (no API key): ``GET /healthz`` and the admin API documented in
:mod:`neon_emulator.routes.admin` (meant for the machine running the emulator), and the branch
services whose URLs the API hands out: Neon Auth servers under ``/neonauth/``
(:mod:`neon_emulator.neonauth.server`) and Data APIs under ``/apirest/``
(:mod:`neon_emulator.dataapi.server`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from neon_emulator import auth, context, errors, faults, lookups, requestlog
from neon_emulator.context import Context
from neon_emulator.dataapi import server as data_api_server
from neon_emulator.neonauth import server as neon_auth_server
from neon_emulator.routes import (
    accounts,
    admin,
    advisors,
    api_keys,
    backup_schedules,
    billing,
    branches,
    consumption,
    data_api,
    databases,
    endpoints,
    jwks,
    members,
    neon_auth,
    neon_auth_config,
    neon_auth_users,
    operations,
    organizations,
    permissions,
    platform_services,
    projects,
    roles,
    schemas,
    snapshots,
    vpc_endpoints,
)

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID = web.RequestKey("neon_emulator.request_id", str)

API_ROUTES: tuple[web.RouteTableDef, ...] = (
    projects.routes,
    branches.routes,
    endpoints.routes,
    roles.routes,
    databases.routes,
    operations.routes,
    snapshots.routes,
    backup_schedules.routes,
    schemas.routes,
    advisors.routes,
    accounts.routes,
    organizations.routes,
    api_keys.routes,
    members.routes,
    billing.routes,
    permissions.routes,
    jwks.routes,
    vpc_endpoints.routes,
    platform_services.routes,
    neon_auth.routes,
    neon_auth_config.routes,
    neon_auth_users.routes,
    data_api.routes,
    consumption.routes,
)
"""Every route served under ``/api/v2`` (the contract test compares them with Neon's spec)."""


def error_response(exc: errors.ApiError, request_id: str) -> web.Response:
    headers = {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    return web.json_response(exc.payload(request_id), status=exc.status, headers=headers)


@web.middleware
async def envelope(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = request.headers.get("X-Request-ID") or str(uuid.uuid4())
    request[REQUEST_ID] = request_id
    ctx = context.of(request)
    try:
        response = await handler(request)
    except errors.ApiError as exc:
        response = error_response(exc, request_id)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = "not found" if exc.status == 404 else (exc.reason or "error").lower()
        error = errors.ApiError(message)
        response = web.json_response(error.payload(request_id), status=exc.status)
    except Exception:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        response = web.json_response(
            errors.ApiError("internal server error").payload(request_id), status=500
        )
    finally:
        ctx.store.commit()
    response.headers["X-Neon-Ret-Request-Id"] = request_id
    return response


@web.middleware
async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    ctx = context.of(request)
    route = request.match_info.route.resource
    template = route.canonical if route is not None else request.path
    status = 500
    try:
        caller = auth.authenticate(ctx.store, request.headers.get("Authorization"), request.remote)
        request[lookups.PRINCIPAL] = caller
        ctx.limiter.check(caller.key.key, f"{request.method} {template}")
        await faults.inject(ctx.knobs.faults, request, ctx.settings.api_prefix)
        response = await handler(request)
        status = response.status
        return response
    except (errors.ApiError, web.HTTPException) as exc:
        status = exc.status
        raise
    finally:
        prefix = ctx.settings.api_prefix
        route_template = requestlog.template(request, prefix)
        ctx.requests.record(
            request.method, request.path.removeprefix(prefix), route_template, status
        )


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(ctx: Context) -> web.Application:
    app = web.Application(middlewares=[requestlog.middleware(ctx.settings.api_prefix), envelope])
    app[context.CONTEXT] = ctx
    api = web.Application(middlewares=[gate])
    for table in API_ROUTES:
        api.router.add_routes(table)
    app.add_subapp(ctx.settings.api_prefix, api)
    app.router.add_get("/healthz", healthz)
    app.router.add_routes(admin.routes)
    app.router.add_get(neon_auth.TRANSFER_PATH, neon_auth.complete_transfer)
    app.router.add_routes(neon_auth_server.routes)
    data_api_server.setup(app)

    async def start_operations(_: web.Application) -> None:
        ctx.runner.resume()

    async def stop_operations(_: web.Application) -> None:
        await ctx.runner.close()
        ctx.store.close()

    app.on_startup.append(start_operations)
    app.on_cleanup.append(stop_operations)
    return app
