"""VPC endpoints (Private Networking): assigned to an organization per region, then set as
restrictions on that organization's projects in the same region.

Control plane only: there is no VPC on a laptop, so an assigned endpoint is ``accepted`` at once
and restrictions change nothing about who can connect (the proxy listens on loopback). The rules
are Neon's: assigning again updates the label; a deleted endpoint cannot be assigned again (400);
a project may be restricted only to an endpoint of its organization in its region (400); an
endpoint that still restricts projects cannot be deleted (400); admins assign and delete.
"""

from __future__ import annotations

import re

from aiohttp import web

from neon_emulator import bodies, context, errors, lookups, records, regions, views
from neon_emulator.context import Context
from neon_emulator.routes import reply

routes = web.RouteTableDef()

ORG = "/organizations/{org_id}/vpc"
REGION = ORG + "/region/{region_id}/vpc_endpoints"
PROJECT = "/projects/{project_id}/vpc_endpoints"
AWS_ID = re.compile(r"^vpce-[0-9a-f]{8,17}$")


def _done() -> web.Response:
    """Neon answers these with 200 and no body."""
    return web.Response(status=200)


def _region(request: web.Request) -> str:
    region_id = request.match_info["region_id"]
    if region_id not in regions.REGIONS:
        raise errors.BadRequest(f"region_id: unsupported region {region_id!r}")
    return region_id


def _endpoint_id(region_id: str, endpoint_id: str) -> str:
    if region_id.startswith("aws-") and not AWS_ID.match(endpoint_id):
        raise errors.BadRequest(
            f"vpc_endpoint_id: {endpoint_id!r} is not an AWS VPC endpoint id (vpce-…)"
        )
    return endpoint_id


def _restricting(ctx: Context, endpoint: records.VpcEndpoint) -> list[str]:
    """Ids of the projects restricted to ``endpoint``."""
    return [
        r.project_id
        for r in ctx.store.vpc_restrictions
        if r.vpc_endpoint_id == endpoint.id
        and (p := ctx.store.projects.get(r.project_id)) is not None
        and p.org_id == endpoint.org_id
        and p.region_id == endpoint.region_id
    ]


def _assigned(ctx: Context, org_id: str, region_id: str) -> list[records.VpcEndpoint]:
    return [
        e
        for e in ctx.store.vpc_endpoints
        if e.org_id == org_id and e.region_id == region_id and not e.deleted
    ]


def _find(ctx: Context, org_id: str, region_id: str, endpoint_id: str) -> records.VpcEndpoint:
    found = ctx.store.vpc_endpoints.get(f"{org_id}/{region_id}/{endpoint_id}")
    if found is None or found.deleted:
        raise errors.NotFound(f"VPC endpoint {endpoint_id} not found in {org_id} ({region_id})")
    return found


@routes.get(ORG + "/vpc_endpoints")
async def list_org_endpoints_all_regions(request: web.Request) -> web.Response:
    ctx = context.of(request)
    org = lookups.requested_organization(request, ctx.store)
    found = [e for e in ctx.store.vpc_endpoints if e.org_id == org.id and not e.deleted]
    return reply(
        {"endpoints": [{**views.vpc_endpoint(e), "region_id": e.region_id} for e in found]}
    )


@routes.get(REGION)
async def list_org_endpoints(request: web.Request) -> web.Response:
    ctx = context.of(request)
    org = lookups.requested_organization(request, ctx.store)
    found = _assigned(ctx, org.id, _region(request))
    return reply({"endpoints": [views.vpc_endpoint(e) for e in found]})


@routes.get(REGION + "/{vpc_endpoint_id}")
async def get_org_endpoint(request: web.Request) -> web.Response:
    ctx = context.of(request)
    org = lookups.requested_organization(request, ctx.store)
    endpoint = _find(ctx, org.id, _region(request), request.match_info["vpc_endpoint_id"])
    restricted = _restricting(ctx, endpoint)
    return reply(
        {
            **views.vpc_endpoint(endpoint),
            "state": "accepted",
            "num_restricted_projects": len(restricted),
            "example_restricted_projects": restricted[:3],
        }
    )


@routes.post(REGION + "/{vpc_endpoint_id}")
async def assign_org_endpoint(request: web.Request) -> web.Response:
    ctx = context.of(request)
    org = lookups.requested_organization(request, ctx.store)
    lookups.principal(request).require_admin(org.id)
    region_id = _region(request)
    endpoint_id = _endpoint_id(region_id, request.match_info["vpc_endpoint_id"])
    spec = await bodies.parse(request, bodies.VpcEndpointAssignment)
    existing = ctx.store.vpc_endpoints.get(f"{org.id}/{region_id}/{endpoint_id}")
    if existing is not None and existing.deleted:
        raise errors.BadRequest(
            f"VPC endpoint {endpoint_id} was deleted from organization {org.id} "
            "and cannot be added back"
        )
    ctx.store.vpc_endpoints.put(
        records.VpcEndpoint(id=endpoint_id, org_id=org.id, region_id=region_id, label=spec.label)
    )
    return _done()


@routes.delete(REGION + "/{vpc_endpoint_id}")
async def delete_org_endpoint(request: web.Request) -> web.Response:
    ctx = context.of(request)
    org = lookups.requested_organization(request, ctx.store)
    lookups.principal(request).require_admin(org.id)
    endpoint = _find(ctx, org.id, _region(request), request.match_info["vpc_endpoint_id"])
    restricted = _restricting(ctx, endpoint)
    if restricted:
        raise errors.BadRequest(
            f"VPC endpoint {endpoint.id} still restricts projects {', '.join(restricted)}: "
            "remove those restrictions first"
        )
    endpoint.deleted = True
    ctx.store.vpc_endpoints.put(endpoint)
    return _done()


@routes.get(PROJECT)
async def list_project_endpoints(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    found = ctx.store.vpc_restrictions.in_project(project.id)
    return reply({"endpoints": [views.vpc_endpoint(r) for r in found]})


@routes.post(PROJECT + "/{vpc_endpoint_id}")
async def assign_project_endpoint(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    lookups.principal(request).require_org(project.org_id)
    endpoint_id = request.match_info["vpc_endpoint_id"]
    spec = await bodies.parse(request, bodies.VpcEndpointAssignment)
    if endpoint_id not in {e.id for e in _assigned(ctx, project.org_id, project.region_id)}:
        raise errors.BadRequest(
            f"VPC endpoint {endpoint_id} is not assigned to organization {project.org_id} "
            f"in region {project.region_id}: assign it there first"
        )
    ctx.store.vpc_restrictions.put(
        records.VpcRestriction(project_id=project.id, vpc_endpoint_id=endpoint_id, label=spec.label)
    )
    return _done()


@routes.delete(PROJECT + "/{vpc_endpoint_id}")
async def delete_project_endpoint(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    lookups.principal(request).require_org(project.org_id)
    endpoint_id = request.match_info["vpc_endpoint_id"]
    key = f"{project.id}/{endpoint_id}"
    if ctx.store.vpc_restrictions.get(key) is None:
        raise errors.NotFound(f"project {project.id} has no VPC endpoint {endpoint_id}")
    ctx.store.vpc_restrictions.delete(key)
    return _done()
