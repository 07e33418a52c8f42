"""A branch database's schema (``GET …/schema``: SQL or JSON) and its comparison with another
branch (``GET …/compare_schema``: a unified diff; the base defaults to the branch's parent).

Read from the real database at the branch's head (:mod:`neon_emulator.schemas`). Reading it as of
an earlier ``lsn`` or ``timestamp`` is not emulated: such a request is a 400 that says how to get
the same answer (branch at that point, read the branch's schema). Without a data plane
(``--no-postgres``) there is no database to read: 422; a database that cannot be reached: 503.
"""

from __future__ import annotations

from aiohttp import web

from neon_emulator import branch_sql, context, errors, lookups, queries, records, schemas
from neon_emulator.routes import reply

routes = web.RouteTableDef()

BRANCH = "/projects/{project_id}/branches/{branch_id}"


def _at_head(query: web.Request, prefix: str = "") -> None:
    lsn, timestamp = f"{prefix}lsn", f"{prefix}timestamp"
    given = [name for name in (lsn, timestamp) if queries.text(query.query, name)]
    if len(given) == 2:
        raise errors.BadRequest(f"{lsn} and {timestamp} cannot be specified at the same time")
    if given:
        raise errors.BadRequest(
            f"{given[0]}: the emulator reads schemas at a branch's head only; create a branch "
            "at that point and read its schema instead"
        )


def _unreadable(ctx: context.Context, exc: branch_sql.NoDatabase) -> errors.ApiError:
    if not branch_sql.available(ctx):
        return errors.Unprocessable(str(exc))
    return errors.Unavailable(str(exc))


def _database(ctx: context.Context, branch: records.Branch, name: str) -> str:
    return lookups.database(ctx.store, branch, name).name


@routes.get(BRANCH + "/schema")
async def branch_schema(request: web.Request) -> web.Response:
    ctx = context.of(request)
    branch = lookups.requested_branch(request, ctx.store)
    database = _database(ctx, branch, queries.required(request.query, "db_name"))
    shape = queries.choice(request.query, "format", ("sql", "json"), "sql")
    _at_head(request)
    try:
        if shape == "json":
            return reply({"json": await schemas.tables(ctx, branch, database)})
        return reply({"sql": await schemas.sql(ctx, branch, database)})
    except branch_sql.NoDatabase as exc:
        raise _unreadable(ctx, exc) from None


@routes.get(BRANCH + "/compare_schema")
async def compare_schema(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    branch = lookups.branch(ctx.store, project, request.match_info["branch_id"])
    base_id = queries.text(request.query, "base_branch_id") or branch.parent_id
    if base_id is None:
        raise errors.BadRequest(
            f"base_branch_id is required: branch {branch.id} has no parent to compare with"
        )
    base = lookups.branch(ctx.store, project, base_id)
    name = queries.required(request.query, "db_name")
    database, base_database = _database(ctx, branch, name), _database(ctx, base, name)
    _at_head(request)
    _at_head(request, "base_")
    try:
        before = await schemas.sql(ctx, base, base_database)
        after = await schemas.sql(ctx, branch, database)
    except branch_sql.NoDatabase as exc:
        raise _unreadable(ctx, exc) from None
    label = f"{name}-schema.sql"
    return reply(
        {"diff": schemas.diff(before, after, f"{label}\t({base.id})", f"{label}\t({branch.id})")}
    )
