"""The database advisor: ``GET /projects/{id}/advisors`` (see :mod:`neon_emulator.advisors`).

The branch defaults to the project's default branch; the database may be left out only when the
branch has one. Neon requires the Data API to be enabled; the emulator checks any database (the
Data API, when enabled, decides which schemas count as exposed). Without a data plane
(``--no-postgres``) there is nothing to check: 422; a database that cannot be reached: 503.
"""

from __future__ import annotations

from typing import cast

from aiohttp import web

from neon_emulator import advisors, branch_sql, context, errors, lookups, queries
from neon_emulator.routes import reply

routes = web.RouteTableDef()


@routes.get("/projects/{project_id}/advisors")
async def advisor_issues(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    branch_id = queries.text(request.query, "branch_id")
    branch = (
        lookups.branch(ctx.store, project, branch_id)
        if branch_id
        else lookups.default_branch(ctx.store, project)
    )
    category = queries.choice(request.query, "category", ("SECURITY", "PERFORMANCE"), "") or None
    severity = queries.choice(request.query, "min_severity", advisors.LEVELS, "INFO")
    name = queries.text(request.query, "database_name")
    if name is None:
        names = [d.name for d in lookups.branch_databases(ctx.store, branch)]
        if len(names) != 1:
            raise errors.BadRequest(
                f"database_name is required: branch {branch.id} has {len(names)} databases"
            )
        name = names[0]
    database = lookups.database(ctx.store, branch, name)
    if not branch_sql.available(ctx):
        raise errors.Unprocessable("this emulator runs without PostgreSQL: no database to check")
    try:
        found = await advisors.issues(
            ctx,
            branch,
            database.name,
            category=cast(advisors.Category | None, category),
            min_severity=cast(advisors.Level, severity),
        )
    except branch_sql.NoDatabase as exc:
        raise errors.Unavailable(str(exc)) from None
    return reply({"issues": found})
