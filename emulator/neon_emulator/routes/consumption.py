"""Consumption history per project (v1 and v2) and per branch (v2).

Current-period usage also appears on the ``Project`` object (see :func:`views.usage`). History is
derived from it: each timeframe overlapping the project's life gets a share of the project's
active/compute time proportional to the overlap; storage metrics report the branches' size.

Access follows Neon: v1 needs a Scale/Business/Enterprise plan, v2 also accepts Launch/Agent
(403 otherwise); an ``org_id`` the caller does not belong to is 404; a range too long for the
granularity (hourly ≤ 168 h, daily ≤ 60 days, monthly ≤ 1 year) or ending before it starts is 406.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from neon_emulator import clock, context, errors, lookups, plans, queries, records, views
from neon_emulator.auth import Principal
from neon_emulator.context import Context
from neon_emulator.routes import reply

routes = web.RouteTableDef()

V1_METRICS = (
    "active_time_seconds",
    "compute_time_seconds",
    "written_data_bytes",
    "synthetic_storage_size_bytes",
    "data_storage_bytes_hour",
    "logical_size_bytes",
    "logical_size_bytes_hour",
)
V2_METRICS = (
    "compute_unit_seconds",
    "root_branch_bytes_month",
    "child_branch_bytes_month",
    "instant_restore_bytes_month",
    "public_network_transfer_bytes",
    "private_network_transfer_bytes",
    "extra_branches_month",
    "snapshot_storage_bytes_month",
)
LIMITS = {
    "hourly": timedelta(hours=168),
    "daily": timedelta(days=60),
    "monthly": timedelta(days=366),
}


def _floor(moment: datetime, granularity: str) -> datetime:
    moment = moment.replace(minute=0, second=0, microsecond=0)
    if granularity in ("daily", "monthly"):
        moment = moment.replace(hour=0)
    if granularity == "monthly":
        moment = moment.replace(day=1)
    return moment


def _step(moment: datetime, granularity: str) -> datetime:
    if granularity == "hourly":
        return moment + timedelta(hours=1)
    if granularity == "daily":
        return moment + timedelta(days=1)
    if moment.month == 12:
        return moment.replace(year=moment.year + 1, month=1)
    return moment.replace(month=moment.month + 1)


def _moment(query: Any, name: str) -> datetime:
    raw = queries.required(query, name)
    try:
        return clock.parse(raw)
    except ValueError:
        raise errors.BadRequest(f"{name}: {raw!r} is not an RFC 3339 timestamp") from None


def _window(query: Any) -> tuple[str, list[tuple[datetime, datetime]]]:
    granularity = queries.required(query, "granularity")
    if granularity not in LIMITS:
        raise errors.BadRequest("granularity: must be one of hourly, daily, monthly")
    start = _floor(_moment(query, "from"), granularity)
    end = _moment(query, "to")
    if end <= start:
        raise errors.NotAcceptable("to must be later than from")
    if end - start > LIMITS[granularity]:
        raise errors.NotAcceptable(
            f"the range from {clock.iso(start)} to {clock.iso(end)} is too long for "
            f"{granularity} granularity"
        )
    frames = []
    cursor = start
    while cursor < end:
        following = _step(cursor, granularity)
        frames.append((cursor, following))
        cursor = following
    return granularity, frames


def _organization(
    ctx: Context, caller: Principal, org_id: str | None, allowed: frozenset[str]
) -> records.Organization:
    if org_id is None:
        if caller.key.org_id is None:
            raise errors.BadRequest("org_id is required")
        org_id = caller.key.org_id
    org = ctx.store.organizations.get(org_id)
    if org is None or org_id not in caller.org_ids:
        raise errors.NotFound("Account is not a member of the organization specified by org_id")
    plans.require(org, allowed, "consumption history")
    return org


def _projects(
    ctx: Context, caller: Principal, org: records.Organization, wanted: list[str]
) -> list[records.Project]:
    found = [
        p
        for p in ctx.store.projects
        if p.org_id == org.id and caller.sees(p) and (not wanted or p.id in wanted)
    ]
    found.sort(key=lambda p: p.seq)
    return found


def _page(
    items: list[records.Project], query: Any, default: int, maximum: int
) -> tuple[list[records.Project], dict[str, Any]]:
    limit = queries.integer(query, "limit", default, 1, maximum)
    cursor = queries.text(query, "cursor")
    if cursor is not None:
        ids = [p.id for p in items]
        if cursor not in ids:
            raise errors.BadRequest(f"invalid cursor {cursor!r}")
        items = items[ids.index(cursor) + 1 :]
    page = items[:limit]
    return page, ({"pagination": {"cursor": page[-1].id}} if page else {})


def _share(project: records.Project, start: datetime, end: datetime) -> float:
    """Fraction of the project's life so far that falls in [start, end)."""
    born = clock.parse(project.created_at)
    now = clock.now()
    life = max((now - born).total_seconds(), 1.0)
    overlap = (min(end, now) - max(start, born)).total_seconds()
    return max(overlap, 0.0) / life


def _values(
    ctx: Context, project: records.Project, start: datetime, end: datetime
) -> dict[str, int]:
    used = views.usage(ctx, project.id)
    share = _share(project, start, end)
    alive = share > 0
    storage = used["synthetic_storage_size"] if alive else 0
    hours = (end - start).total_seconds() / 3600
    branches = lookups.live_branches(ctx.store, project.id)
    roots = sum(1 for b in branches if b.parent_id is None)
    return {
        "active_time_seconds": int(used["active_time_seconds"] * share),
        "compute_time_seconds": int(used["compute_time_seconds"] * share),
        "written_data_bytes": int(used["written_data_bytes"] * share),
        "synthetic_storage_size_bytes": storage,
        "data_storage_bytes_hour": int(storage * hours),
        "logical_size_bytes": storage,
        "logical_size_bytes_hour": int(storage * hours),
        "compute_unit_seconds": int(used["compute_time_seconds"] * share),
        "root_branch_bytes_month": views.LOGICAL_SIZE_BYTES * roots if alive else 0,
        "child_branch_bytes_month": views.LOGICAL_SIZE_BYTES * (len(branches) - roots)
        if alive
        else 0,
        "instant_restore_bytes_month": 0,
        "public_network_transfer_bytes": 0,
        "private_network_transfer_bytes": 0,
        "extra_branches_month": 0,
        "snapshot_storage_bytes_month": 0,
    }


def _period(
    org: records.Organization,
    frames: list[tuple[datetime, datetime]],
    consumption: list[dict[str, Any]],
) -> dict[str, Any]:
    start = frames[0][0].replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return {
        "period_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{org.id}/{clock.iso(start)}")),
        "period_plan": org.plan,
        "period_start": clock.iso(start),
        "consumption": consumption,
    }


def _metrics(query: Any, allowed: tuple[str, ...], required: bool) -> list[str]:
    names = queries.strings(query, "metrics")
    if not names:
        if required:
            raise errors.BadRequest(f"metrics: field required (any of {', '.join(allowed)})")
        return list(allowed[:4])
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise errors.BadRequest(f"metrics: unknown metric {unknown[0]!r}")
    return names


@routes.get("/consumption_history/projects")
async def per_project(request: web.Request) -> web.Response:
    ctx = context.of(request)
    caller = lookups.principal(request)
    query = request.query
    _, frames = _window(query)
    metrics = _metrics(query, V1_METRICS, required=False)
    org = _organization(ctx, caller, queries.text(query, "org_id"), plans.CONSUMPTION_V1)
    projects, pagination = _page(
        _projects(ctx, caller, org, queries.strings(query, "project_ids")), query, 10, 100
    )
    result = []
    for project in projects:
        consumption = []
        for start, end in frames:
            values = _values(ctx, project, start, end)
            item: dict[str, Any] = {
                "timeframe_start": clock.iso(start),
                "timeframe_end": clock.iso(end),
            }
            for name in V1_METRICS[:4]:
                item[name] = values[name] if name in metrics else 0
            for name in V1_METRICS[4:]:
                if name in metrics:
                    item[name] = values[name]
            consumption.append(item)
        result.append({"project_id": project.id, "periods": [_period(org, frames, consumption)]})
    return reply({"projects": result, **pagination})


def _v2_consumption(
    ctx: Context,
    project: records.Project,
    frames: list[tuple[datetime, datetime]],
    metrics: list[str],
) -> list[dict[str, Any]]:
    out = []
    for start, end in frames:
        values = _values(ctx, project, start, end)
        out.append(
            {
                "timeframe_start": clock.iso(start),
                "timeframe_end": clock.iso(end),
                "metrics": [{"metric_name": m, "value": values[m]} for m in metrics],
            }
        )
    return out


@routes.get("/consumption_history/v2/projects")
async def per_project_v2(request: web.Request) -> web.Response:
    ctx = context.of(request)
    caller = lookups.principal(request)
    query = request.query
    _, frames = _window(query)
    metrics = _metrics(query, V2_METRICS, required=True)
    org = _organization(ctx, caller, queries.required(query, "org_id"), plans.CONSUMPTION_V2)
    projects, pagination = _page(
        _projects(ctx, caller, org, queries.strings(query, "project_ids")), query, 10, 100
    )
    result = [
        {
            "project_id": p.id,
            "periods": [_period(org, frames, _v2_consumption(ctx, p, frames, metrics))],
        }
        for p in projects
    ]
    return reply({"projects": result, **pagination})


@routes.get("/consumption_history/v2/branches")
async def per_branch_v2(request: web.Request) -> web.Response:
    ctx = context.of(request)
    caller = lookups.principal(request)
    query = request.query
    _, frames = _window(query)
    metrics = _metrics(query, V2_METRICS[:6], required=True)
    org = _organization(ctx, caller, queries.required(query, "org_id"), plans.CONSUMPTION_V2)
    wanted = queries.strings(query, "project_ids")
    if not wanted:
        raise errors.BadRequest("project_ids: field required")
    branch_ids = set(queries.strings(query, "branch_ids"))
    limit = queries.integer(query, "limit", 100, 1, 1000)
    result = []
    for project in _projects(ctx, caller, org, wanted):
        for branch in lookups.live_branches(ctx.store, project.id):
            if branch_ids and branch.id not in branch_ids:
                continue
            consumption = _v2_consumption(ctx, project, frames, metrics)
            result.append(
                {
                    "project_id": project.id,
                    "branch_id": branch.id,
                    "periods": [_period(org, frames, consumption)],
                }
            )
    return reply({"branches": result[:limit]})
