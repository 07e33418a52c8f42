"""Project permissions: share one project with the account behind an email (Neon's project
collaborators).

While shared, that user's personal keys see the project -- get it, its branches, computes and
the rest, and list it under ``GET /projects/shared`` -- without belonging to its organization;
revoking takes effect with their next request (404 again). Sharing and revoking take a key that
acts in the project's organization (a collaborator gets 403); sharing twice with one email is a
409.
"""

from __future__ import annotations

import uuid

from aiohttp import web

from neon_emulator import bodies, clock, context, errors, lookups, records, views
from neon_emulator.routes import reply

routes = web.RouteTableDef()

PERMISSIONS = "/projects/{project_id}/permissions"


@routes.get(PERMISSIONS)
async def list_permissions(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    found = ctx.store.permissions.in_project(project.id)
    return reply({"project_permissions": [views.permission(p) for p in found]})


@routes.post(PERMISSIONS)
async def grant_permission(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    lookups.principal(request).require_org(project.org_id)
    spec = await bodies.parse(request, bodies.PermissionGrant)
    for existing in ctx.store.permissions.in_project(project.id):
        if existing.email.lower() == spec.email.lower():
            raise errors.Conflict(f"project {project.id} is already shared with {spec.email}")
    permission = ctx.store.permissions.put(
        records.Permission(
            id=str(uuid.uuid4()),
            project_id=project.id,
            email=spec.email,
            granted_at=clock.now_iso(),
        )
    )
    return reply(views.permission(permission))


@routes.delete(PERMISSIONS + "/{permission_id}")
async def revoke_permission(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    lookups.principal(request).require_org(project.org_id)
    permission_id = request.match_info["permission_id"]
    permission = ctx.store.permissions.get(permission_id)
    if permission is None or permission.project_id != project.id:
        raise errors.NotFound(f"permission {permission_id} not found")
    ctx.store.permissions.delete(permission.id)
    return reply(views.permission(permission, revoked_at=clock.now_iso()))
