"""Accounts around projects: the current user, ``/auth``, organizations, regions, API keys
(personal and organization, optionally project-scoped) and project transfer between
organizations (≤ 400 ids per call; 406 when the destination's limits would be exceeded, 422 for
projects with GitHub/Vercel integrations)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from neon_emulator import (
    auth,
    bodies,
    clock,
    context,
    errors,
    ids,
    lookups,
    records,
    regions,
    views,
)
from neon_emulator.context import Context
from neon_emulator.routes import reply

routes = web.RouteTableDef()


def _user(ctx: Context, user_id: str) -> records.User:
    user = ctx.store.users.get(user_id)
    if user is None:
        raise errors.NotFound("user not found")
    return user


def _organization(ctx: Context, caller: auth.Principal, org_id: str) -> records.Organization:
    caller.require_org(org_id)
    org = ctx.store.organizations.get(org_id)
    if org is None:
        raise errors.NotFound(f"organization {org_id} not found")
    return org


@routes.get("/users/me")
async def current_user(request: web.Request) -> web.Response:
    ctx = context.of(request)
    caller = lookups.principal(request)
    user = _user(ctx, caller.user_id)
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


@routes.get("/organizations/{org_id}")
async def get_organization(request: web.Request) -> web.Response:
    ctx = context.of(request)
    org = _organization(ctx, lookups.principal(request), request.match_info["org_id"])
    return reply(views.organization(org))


def _key_item(ctx: Context, key: records.ApiKey) -> dict[str, Any]:
    user = ctx.store.users.get(key.created_by)
    item: dict[str, Any] = {
        "id": key.id,
        "name": key.name,
        "created_at": key.created_at,
        "created_by": {"id": key.created_by, "name": user.name if user else "", "image": ""},
        "last_used_at": key.last_used_at,
        "last_used_from_addr": key.last_used_from_addr,
    }
    if key.project_id is not None:
        item["project_id"] = key.project_id
    return item


def _key_created(key: records.ApiKey) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": key.id,
        "key": key.key,
        "name": key.name,
        "created_at": key.created_at,
        "created_by": key.created_by,
    }
    if key.project_id is not None:
        body["project_id"] = key.project_id
    return body


def _key_revoked(key: records.ApiKey) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": key.id,
        "name": key.name,
        "created_at": key.created_at,
        "created_by": key.created_by,
        "last_used_at": key.last_used_at,
        "last_used_from_addr": key.last_used_from_addr,
        "revoked": True,
    }
    if key.project_id is not None:
        body["project_id"] = key.project_id
    return body


def issue_key(
    ctx: Context, user_id: str, name: str, org_id: str | None, project_id: str | None = None
) -> records.ApiKey:
    key = records.ApiKey(
        id=ctx.store.next_value("api_key_id", start=1_000_001),
        key=ids.unique(ids.api_key, lambda c: ctx.store.api_key_by_token(c) is not None),
        name=name,
        created_at=clock.now_iso(),
        created_by=user_id,
        org_id=org_id,
        project_id=project_id,
    )
    ctx.store.put_api_key(key)
    return key


def _personal_only(caller: auth.Principal) -> None:
    if not caller.personal:
        raise errors.Forbidden("this endpoint requires a personal API key")


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
    return reply([_key_item(ctx, k) for k in keys])


@routes.post("/api_keys")
async def create_api_key(request: web.Request) -> web.Response:
    ctx = context.of(request)
    caller = lookups.principal(request)
    _personal_only(caller)
    spec = await bodies.parse(request, bodies.ApiKeyCreate)
    key = issue_key(ctx, caller.user_id, spec.key_name, None)
    return reply(_key_created(key))


def _revoke(ctx: Context, key_id: str, owner_org: str | None, user_id: str) -> records.ApiKey:
    key = ctx.store.api_keys.get(key_id)
    if key is None or key.org_id != owner_org or key.revoked:
        raise errors.NotFound(f"API key {key_id} not found")
    if owner_org is None and key.created_by != user_id:
        raise errors.NotFound(f"API key {key_id} not found")
    key.revoked = True
    ctx.store.put_api_key(key)
    return key


@routes.delete("/api_keys/{key_id}")
async def revoke_api_key(request: web.Request) -> web.Response:
    ctx = context.of(request)
    caller = lookups.principal(request)
    _personal_only(caller)
    key = _revoke(ctx, request.match_info["key_id"], None, caller.user_id)
    return reply(_key_revoked(key))


@routes.get("/organizations/{org_id}/api_keys")
async def list_org_api_keys(request: web.Request) -> web.Response:
    ctx = context.of(request)
    org = _organization(ctx, lookups.principal(request), request.match_info["org_id"])
    keys = [k for k in ctx.store.api_keys if k.org_id == org.id and not k.revoked]
    return reply([_key_item(ctx, k) for k in keys])


@routes.post("/organizations/{org_id}/api_keys")
async def create_org_api_key(request: web.Request) -> web.Response:
    ctx = context.of(request)
    caller = lookups.principal(request)
    org = _organization(ctx, caller, request.match_info["org_id"])
    spec = await bodies.parse(request, bodies.ApiKeyCreate)
    if spec.project_id is not None:
        project = lookups.project(ctx.store, caller, spec.project_id)
        if project.org_id != org.id:
            raise errors.NotFound(f"project {spec.project_id} not found")
    key = issue_key(ctx, caller.user_id, spec.key_name, org.id, spec.project_id)
    return reply(_key_created(key))


@routes.delete("/organizations/{org_id}/api_keys/{key_id}")
async def revoke_org_api_key(request: web.Request) -> web.Response:
    ctx = context.of(request)
    caller = lookups.principal(request)
    org = _organization(ctx, caller, request.match_info["org_id"])
    key = _revoke(ctx, request.match_info["key_id"], org.id, caller.user_id)
    return reply(_key_revoked(key))


@routes.post("/organizations/{source_org_id}/projects/transfer")
async def transfer_projects(request: web.Request) -> web.Response:
    ctx = context.of(request)
    caller = lookups.principal(request)
    source = _organization(ctx, caller, request.match_info["source_org_id"])
    spec = await bodies.parse(request, bodies.ProjectTransfer)
    destination = _organization(ctx, caller, spec.destination_org_id)
    if caller.key.project_id is not None:
        raise errors.Forbidden("project-scoped API keys cannot transfer projects")
    wanted = list(dict.fromkeys(spec.project_ids))
    moving: list[records.Project] = []
    for project_id in wanted:
        project = ctx.store.projects.get(project_id)
        if project is None or project.org_id != source.id or project.deleted_at is not None:
            raise errors.NotFound(f"project {project_id} not found in organization {source.id}")
        moving.append(project)
    integrated = [
        {"id": p.id, "integration": integration} for p in moving for integration in p.integrations
    ]
    if integrated:
        raise errors.Unprocessable(
            "projects with GitHub or Vercel integrations cannot be transferred",
            body={"projects": integrated},
        )
    if destination.id != source.id:
        held = sum(
            1 for p in ctx.store.projects if p.org_id == destination.id and p.deleted_at is None
        )
        if held + len(moving) > destination.projects_limit:
            raise errors.NotAcceptable(
                "destination organization limits are not satisfied",
                body={
                    "limits": [
                        {
                            "name": "projects_count",
                            "expected": str(destination.projects_limit),
                            "actual": str(held + len(moving)),
                        }
                    ]
                },
            )
    stamp = clock.now_iso()
    for project in moving:
        project.org_id = destination.id
        project.updated_at = stamp
        ctx.store.projects.put(project)
    return reply({})
