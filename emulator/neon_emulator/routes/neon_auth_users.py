"""Neon Auth users, control-plane side: create (201 ``{id}``), delete (204), set roles (200
``{id}``), per branch and through the legacy project routes (default branch).

Users are rows of the branch database: ``neon_auth."user"`` for ``better_auth`` integrations (the
same rows the auth server signs up; such a user has no password until it signs in another way),
``neon_auth.users_sync`` for legacy ``stack``/``mock`` ones. Without a data plane
(``--no-postgres``) they are kept on the integration record instead, so the API answers alike.
Roles are Better Auth's admin-plugin ``role`` column (several roles comma-separated).
"""

from __future__ import annotations

import json
import uuid

import psycopg
from aiohttp import web

from neon_emulator import bodies, branch_sql, context, errors, lookups, records
from neon_emulator.context import Context
from neon_emulator.neonauth import directory
from neon_emulator.routes import no_content, reply

routes = web.RouteTableDef()

BRANCH = "/projects/{project_id}/branches/{branch_id}/auth/users"


def _unavailable(exc: branch_sql.NoDatabase) -> errors.ApiError:
    return errors.Unavailable(f"could not reach the branch database: {exc}")


async def _create(ctx: Context, auth: records.NeonAuth, email: str, name: str | None) -> str:
    display = name or email.split("@", 1)[0]
    branch = ctx.store.branches.get(auth.branch_id)
    if not branch_sql.available(ctx) or branch is None:
        if any(u["email"] == email.lower() for u in auth.users.values()):
            raise errors.Conflict(f"a user with email {email!r} already exists")
        user_id = str(uuid.uuid4())
        auth.users[user_id] = {"email": email.lower(), "name": display, "role": None}
        ctx.store.neon_auth.put(auth)
        return user_id
    try:
        async with branch_sql.connect(ctx, branch, auth.db_name) as conn:
            if auth.auth_provider == "better_auth":
                if await directory.user_by_email(conn, email) is not None:
                    raise errors.Conflict(f"a user with email {email!r} already exists")
                return str((await directory.create_user(conn, email=email, name=display))["id"])
            user_id = str(uuid.uuid4())
            raw = {"id": user_id, "primary_email": email.lower(), "display_name": display}
            try:
                await conn.execute(
                    b"INSERT INTO neon_auth.users_sync (raw_json, id, name, email, created_at) "
                    b"VALUES (%s, %s, %s, %s, now())",
                    (json.dumps(raw), user_id, display, email.lower()),
                )
            except psycopg.errors.UndefinedTable:
                raise errors.NotFound("the neon_auth schema is gone from the database") from None
            return user_id
    except branch_sql.NoDatabase as exc:
        raise _unavailable(exc) from None


async def _delete(ctx: Context, auth: records.NeonAuth, user_id: str) -> None:
    branch = ctx.store.branches.get(auth.branch_id)
    if not branch_sql.available(ctx) or branch is None:
        if auth.users.pop(user_id, None) is None:
            raise errors.NotFound(f"user {user_id} not found")
        ctx.store.neon_auth.put(auth)
        return
    try:
        async with branch_sql.connect(ctx, branch, auth.db_name) as conn:
            if auth.auth_provider == "better_auth":
                found = await directory.delete_user(conn, user_id)
            else:
                cursor = await conn.execute(
                    b"DELETE FROM neon_auth.users_sync WHERE id = %s", (user_id,)
                )
                found = cursor.rowcount > 0
    except branch_sql.NoDatabase as exc:
        raise _unavailable(exc) from None
    if not found:
        raise errors.NotFound(f"user {user_id} not found")


async def _set_roles(ctx: Context, auth: records.NeonAuth, user_id: str, roles: list[str]) -> None:
    role = ",".join(roles)
    branch = ctx.store.branches.get(auth.branch_id)
    if not branch_sql.available(ctx) or branch is None:
        if user_id not in auth.users:
            raise errors.NotFound(f"user {user_id} not found")
        auth.users[user_id]["role"] = role
        ctx.store.neon_auth.put(auth)
        return
    if auth.auth_provider != "better_auth":
        raise errors.BadRequest("user roles exist only for better_auth integrations")
    try:
        async with branch_sql.connect(ctx, branch, auth.db_name) as conn:
            found = await directory.set_role(conn, user_id, role)
    except branch_sql.NoDatabase as exc:
        raise _unavailable(exc) from None
    if not found:
        raise errors.NotFound(f"user {user_id} not found")


@routes.post(BRANCH)
async def create_user(request: web.Request) -> web.Response:
    ctx = context.of(request)
    auth = lookups.branch_neon_auth(request, ctx.store)
    spec = await bodies.parse(request, bodies.AuthUserCreate)
    return reply({"id": await _create(ctx, auth, spec.email, spec.name)}, status=201)


@routes.delete(BRANCH + "/{auth_user_id}")
async def delete_user(request: web.Request) -> web.Response:
    ctx = context.of(request)
    auth = lookups.branch_neon_auth(request, ctx.store)
    await _delete(ctx, auth, request.match_info["auth_user_id"])
    return no_content()


@routes.put(BRANCH + "/{auth_user_id}/role")
async def update_roles(request: web.Request) -> web.Response:
    ctx = context.of(request)
    auth = lookups.branch_neon_auth(request, ctx.store)
    spec = await bodies.parse(request, bodies.AuthUserRoles)
    user_id = request.match_info["auth_user_id"]
    await _set_roles(ctx, auth, user_id, spec.roles)
    return reply({"id": user_id})


@routes.post("/projects/auth/user")
async def legacy_create_user(request: web.Request) -> web.Response:
    ctx = context.of(request)
    spec = await bodies.parse(request, bodies.LegacyAuthUserCreate)
    project = lookups.project(ctx.store, lookups.principal(request), spec.project_id)
    auth = lookups.provider_integration(ctx.store, project, spec.auth_provider)
    return reply({"id": await _create(ctx, auth, spec.email, spec.name)}, status=201)


@routes.delete("/projects/{project_id}/auth/users/{auth_user_id}")
async def legacy_delete_user(request: web.Request) -> web.Response:
    ctx = context.of(request)
    auth = lookups.project_neon_auth(request, ctx.store)
    await _delete(ctx, auth, request.match_info["auth_user_id"])
    return no_content()
