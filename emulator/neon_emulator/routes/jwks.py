"""The JWKS registry of a project: JSON Web Key Set URLs (optionally per branch, with an
audience) that Neon's computes trust for JWT authentication (``pg_session_jwt`` / Neon RLS).

Stored and listed as Neon shows them; the emulator's PostgreSQL does not verify JWTs, so adding
one changes no compute (no operations) and creates no roles. Adding the same URL twice for the
same branch scope is a 409; a URL that is not ``https://`` is a 400.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from aiohttp import web

from neon_emulator import bodies, clock, context, errors, lookups, records, views
from neon_emulator.routes import reply

routes = web.RouteTableDef()

JWKS = "/projects/{project_id}/jwks"
DEFAULT_ROLES = ["authenticator", "authenticated", "anonymous"]
"""The roles a JWKS maps to unless ``role_names`` says otherwise."""


@routes.get(JWKS)
async def list_jwks(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    return reply({"jwks": [views.jwks(j) for j in ctx.store.jwks.in_project(project.id)]})


@routes.post(JWKS)
async def add_jwks(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    spec = await bodies.parse(request, bodies.JwksAdd)
    url = urlsplit(spec.jwks_url)
    if url.scheme != "https" or not url.hostname:
        raise errors.BadRequest(f"jwks_url: {spec.jwks_url!r} is not an https:// URL")
    if spec.branch_id is not None:
        lookups.branch(ctx.store, project, spec.branch_id)
    for existing in ctx.store.jwks.in_project(project.id):
        if existing.jwks_url == spec.jwks_url and existing.branch_id == spec.branch_id:
            raise errors.Conflict(f"jwks_url {spec.jwks_url} is already added (id {existing.id})")
    stamp = clock.now_iso()
    added = ctx.store.jwks.put(
        records.Jwks(
            id=str(uuid.uuid4()),
            project_id=project.id,
            branch_id=spec.branch_id,
            jwks_url=spec.jwks_url,
            provider_name=spec.provider_name,
            jwt_audience=spec.jwt_audience,
            role_names=list(spec.role_names or DEFAULT_ROLES),
            created_at=stamp,
            updated_at=stamp,
        )
    )
    return reply({"jwks": views.jwks(added), "operations": []}, status=201)


@routes.delete(JWKS + "/{jwks_id}")
async def delete_jwks(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    jwks_id = request.match_info["jwks_id"]
    found = ctx.store.jwks.get(jwks_id)
    if found is None or found.project_id != project.id:
        raise errors.NotFound(f"JWKS {jwks_id} not found")
    ctx.store.jwks.delete(found.id)
    return reply(views.jwks(found))
