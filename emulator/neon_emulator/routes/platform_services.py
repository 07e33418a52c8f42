"""Neon platform services that are not PostgreSQL (Private Beta): branchable object storage and
the AI gateway. Each has an "is it usable for this branch?" endpoint, answered truthfully: no.
The emulator runs no S3 data plane and no AI gateway, so it answers as Neon does for an
organization outside the beta -- 404 with Neon's machine-readable ``reason``
(``org_not_entitled``, ``ai_gateway_unavailable``; ``branch_not_found`` for an unknown branch).
The storage, credential and function operations themselves are not served (see README).
"""

from __future__ import annotations

from aiohttp import web

from neon_emulator import context, errors, lookups
from neon_emulator.routes import reply

routes = web.RouteTableDef()

BRANCH = "/projects/{project_id}/branches/{branch_id}"


def _unavailable(request: web.Request, service: str, reason: str) -> web.Response:
    try:
        branch = lookups.requested_branch(request, context.of(request).store)
    except errors.NotFound as exc:
        return reply({"code": "", "message": exc.message, "reason": "branch_not_found"}, 404)
    message = f"{service} is not available for branch {branch.id} in the Neon emulator"
    return reply({"code": "", "message": message, "reason": reason}, 404)


@routes.get(BRANCH + "/storage")
async def branch_storage(request: web.Request) -> web.Response:
    return _unavailable(request, "branchable object storage", "org_not_entitled")


@routes.get(BRANCH + "/ai_gateway")
async def branch_ai_gateway(request: web.Request) -> web.Response:
    return _unavailable(request, "the AI gateway", "ai_gateway_unavailable")
