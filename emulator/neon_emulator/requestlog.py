"""One log line per request, at INFO on the ``neon_emulator.requests`` logger, so a user can see
what their client did::

    POST /projects/{project_id}/branches 201 4.2ms request_id=6f0c…

Method, the route's path template (``/api/v2`` left out; the raw path when no route matched),
status, duration, and the request id the response carries in ``X-Neon-Ret-Request-Id``. Nothing
else: no header, query string or body, so API keys, passwords, tokens and connection URIs never
reach the log. ``GET /healthz`` is not logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

logger = logging.getLogger("neon_emulator.requests")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
QUIET = frozenset({"/healthz"})


def template(request: web.Request, api_prefix: str) -> str:
    """The matched route's template (``/projects/{project_id}``), else the path alone."""
    resource = request.match_info.route.resource
    path = resource.canonical if resource is not None else request.path
    if path.startswith(api_prefix + "/"):
        return path[len(api_prefix) :]
    return path


def middleware(api_prefix: str) -> Middleware:
    @web.middleware
    async def log_request(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        response = await handler(request)
        if request.path not in QUIET:
            logger.info(
                "%s %s %d %.1fms request_id=%s",
                request.method,
                template(request, api_prefix),
                response.status,
                (time.perf_counter() - started) * 1000,
                response.headers.get("X-Neon-Ret-Request-Id", ""),
            )
        return response

    return log_request
