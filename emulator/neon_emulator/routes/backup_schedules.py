"""Backup schedules of root branches: how often Neon takes snapshots automatically and how long
it keeps them.

Stored and returned as set (``{"schedule": []}`` when none, or to turn it off); root branches
only and paid plans other than Agent, as on Neon (400 / 403). The emulator does not take the
scheduled snapshots itself: take them with ``POST …/snapshot`` (the operator's
NeonSnapshotSchedule does).
"""

from __future__ import annotations

from aiohttp import web

from neon_emulator import bodies, context, errors, lookups, plans, records
from neon_emulator.routes import reply

routes = web.RouteTableDef()

SCHEDULE = "/projects/{project_id}/branches/{branch_id}/backup_schedule"


@routes.get(SCHEDULE)
async def get_schedule(request: web.Request) -> web.Response:
    ctx = context.of(request)
    branch = lookups.requested_branch(request, ctx.store)
    found = ctx.store.backup_schedules.get(branch.id)
    return reply({"schedule": found.schedule if found else []})


@routes.put(SCHEDULE)
async def set_schedule(request: web.Request) -> web.Response:
    ctx = context.of(request)
    project = lookups.requested_project(request, ctx.store)
    branch = lookups.branch(ctx.store, project, request.match_info["branch_id"])
    spec = await bodies.parse(request, bodies.BackupSchedule)
    org = ctx.store.organizations.get(project.org_id)
    if org is not None:
        plans.require(org, plans.BACKUP_SCHEDULES, "backup schedules")
    if branch.parent_id is not None:
        raise errors.BadRequest(
            f"backup schedules can only be set on root branches; branch {branch.id} has a parent"
        )
    seen: set[str] = set()
    for index, item in enumerate(spec.schedule):
        if item.frequency in seen:
            raise errors.BadRequest(f"schedule[{index}].frequency: {item.frequency} is repeated")
        if item.frequency == "weekly" and item.day is not None and item.day > 7:
            raise errors.BadRequest(
                f"schedule[{index}].day: a weekly schedule takes a day of the week (1-7)"
            )
        seen.add(item.frequency)
    ctx.store.backup_schedules.put(
        records.BackupSchedule(
            project_id=project.id,
            branch_id=branch.id,
            schedule=[item.model_dump(exclude_none=True) for item in spec.schedule],
        )
    )
    return reply({})
