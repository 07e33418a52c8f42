"""Consumption of every tracked project, fetched for many projects per Neon call.

A drift check reads one project at a time; the consumption history endpoint
(``GET /consumption_history/projects``) answers for up to
:data:`~neon_operator.neon.CONSUMPTION_BATCH` projects at once. Every ``--consumption-interval``
the :class:`ConsumptionPoller` asks it, per
NeonConfig (one API key, one budget) and organization, for the current month of every tracked
NeonAppDatabase: 30,000 resources cost 300 calls, spaced at least
``60 / (--consumption-share * requestsPerMinute)`` seconds apart and sent at ``DRIFT`` priority, so
any other work waiting in the rate limiter goes first.

What it finds goes to ``status.consumption`` and to the ``neon_operator_consumption_*`` gauges
(labels namespace, name, tier; removed when the resource is). The status is written only when a
number changed, under the resource's lock, through
:class:`~neon_operator.reconcilers.reporting.Report` like every status write: one merge patch at
the ``resourceVersion`` the poller last saw; a read and a patch only if the resource changed since
(its ``uid``, project and deletion are checked on what was read).

An organization whose plan has no consumption history (Neon answers 403) is left to the drift
checks, which keep filling ``status.consumption`` from the project's own counters; the next round
asks again.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from neon_operator import accounts, kube, metrics, neon
from neon_operator.models import NeonAppDatabase
from neon_operator.models.appdatabase import Consumption, NeonAppDatabaseStatus
from neon_operator.reconcilers import appdatabase
from neon_operator.reconcilers.context import Context
from neon_operator.reconcilers.reporting import Report

__all__ = ["ConsumptionPoller", "Tracked"]

logger = logging.getLogger(__name__)

HISTORY_FIELDS = (
    "active_time_seconds",
    "compute_time_seconds",
    "written_data_bytes",
    "synthetic_storage_size_bytes",
)
"""The numbers of ``status.consumption`` the history has (data transfer it has not)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Tracked:
    """One NeonAppDatabase with a project: where it is and what it last showed."""

    namespace: str
    name: str
    uid: str
    lane: str
    """Its NeonConfig."""
    tier: str
    org_id: str | None
    """The organization holding its project (status), else its tier's."""
    project_id: str | None
    """``None`` until its first reconcile recorded one (the poller then reads it again)."""
    consumption: Consumption | None
    resource_version: str
    """Of the body all the above came from: a write at it changes that body, or nothing."""


def tracked(body: dict[str, Any]) -> Tracked | None:
    """What the poller keeps of a NeonAppDatabase (``None`` once it is being deleted)."""
    db = NeonAppDatabase.model_validate(body)
    status = db.status
    if db.metadata.deletion_timestamp is not None:
        return None
    return Tracked(
        namespace=db.metadata.namespace or "default",
        name=db.metadata.name,
        uid=db.metadata.uid or "",
        lane=db.spec.config_ref.name,
        tier=status.tier or db.spec.tier,
        org_id=status.org_id,
        project_id=status.project_id,
        consumption=status.consumption,
        resource_version=db.metadata.resource_version or "",
    )


def _month(now: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime]:
    """The calendar month of ``now``: Neon rounds ``from`` and ``to`` down to the granularity,
    so ``to`` must be the next month's start for the current month to be in the answer."""
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (start + datetime.timedelta(days=32)).replace(day=1)
    return start, following


def _from_history(found: neon.ProjectConsumption) -> dict[str, Any] | None:
    """The current period's numbers of one project's history (``None``: no period yet)."""
    if not found.periods:
        return None
    period = found.periods[-1]
    frames = period.consumption
    return {
        "active_time_seconds": sum(f.active_time_seconds for f in frames),
        "compute_time_seconds": sum(f.compute_time_seconds for f in frames),
        "written_data_bytes": sum(f.written_data_bytes for f in frames),
        "synthetic_storage_size_bytes": frames[-1].synthetic_storage_size_bytes if frames else 0,
        "period_start": period.period_start,
        "period_end": period.period_end,
        "source": "history",
    }


class ConsumptionPoller:
    """Fetches the consumption of every tracked resource once per ``interval``, in batches."""

    def __init__(
        self,
        ctx: Context,
        *,
        interval: float,
        share: float,
        now: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.ctx = ctx
        self.interval = interval
        self.share = share
        self._now = now
        self._sleep = sleep
        self._tracked: dict[str, Tracked] = {}
        self.calls = 0
        """Consumption history calls sent so far."""

    def __len__(self) -> int:
        return len(self._tracked)

    def track(self, body: dict[str, Any]) -> None:
        """Fetch the consumption of ``body`` from now on (again, after a change)."""
        found = tracked(body)
        if found is None:
            uid = (body.get("metadata") or {}).get("uid")
            if uid:
                self.untrack(uid)
            return
        self._keep(found)
        if found.consumption is not None:
            self._gauges(found, found.consumption)

    def _keep(self, found: Tracked) -> None:
        """Track ``found`` in place of what was tracked of it; gauges under labels it no
        longer has go."""
        previous = self._tracked.get(found.uid)
        if previous is not None and (previous.namespace, previous.tier) != (
            found.namespace,
            found.tier,
        ):
            metrics.forget_consumption(previous.namespace, previous.name, previous.tier)
        self._tracked[found.uid] = found

    def untrack(self, uid: str) -> None:
        """Forget a deleted resource and its gauges."""
        gone = self._tracked.pop(uid, None)
        if gone is not None:
            metrics.forget_consumption(gone.namespace, gone.name, gone.tier)

    async def run(self) -> None:
        """A round every ``interval`` until cancelled (the first one interval after start)."""
        while True:
            await self._sleep(self.interval)
            try:
                await self.poll()
            except Exception:
                logger.exception("consumption round failed")

    async def poll(self) -> None:
        """One round: every lane's projects, batch by batch."""
        for item in [i for i in self._tracked.values() if i.project_id is None]:
            await self._reread(item)  # tracked before its first reconcile recorded a project
        lanes: dict[str, list[Tracked]] = {}
        for item in self._tracked.values():
            if item.project_id is not None:
                lanes.setdefault(item.lane, []).append(item)
        # Lanes are separate budgets: each paces itself, all at once.
        await asyncio.gather(*(self._poll_lane(lane, items) for lane, items in lanes.items()))

    async def _poll_lane(self, lane: str, items: list[Tracked]) -> None:
        try:
            await self._poll_account(lane, items)
        except accounts.AccountProblem as problem:
            logger.info("no consumption for NeonConfig %s: %s", lane, problem.reason)
        except Exception:
            logger.exception("consumption of NeonConfig %s failed", lane)

    async def _reread(self, item: Tracked) -> None:
        fresh = await self.ctx.kube.read_object(self._ref(item))
        if fresh is None or (fresh.get("metadata") or {}).get("uid") != item.uid:
            self.untrack(item.uid)
        elif item.uid in self._tracked:
            self.track(fresh)

    def _ref(self, item: Tracked) -> kube.ObjectRef:
        return kube.ObjectRef(
            appdatabase.KIND, appdatabase.PLURAL, item.name, item.uid, item.namespace
        )

    async def _poll_account(self, lane: str, items: list[Tracked]) -> None:
        account = await self.ctx.accounts.get(lane, namespace=None)
        per_minute = account.config.spec.rate_limit.requests_per_minute
        gap = 60.0 / (self.share * per_minute) if per_minute and self.share > 0 else 0.0
        organizations: dict[str | None, list[Tracked]] = {}
        for item in items:
            org = item.org_id
            if org is None:
                try:
                    org = account.org_for(item.tier)
                except accounts.AccountProblem:
                    continue  # the change handlers report an unknown tier
            organizations.setdefault(org, []).append(item)
        first = True
        for org, members in organizations.items():
            owners: dict[str, list[Tracked]] = {}
            for member in members:
                if member.project_id is not None:
                    owners.setdefault(member.project_id, []).append(member)
            ids = sorted(owners)
            for start in range(0, len(ids), neon.CONSUMPTION_BATCH):
                if not first:
                    await self._sleep(gap)
                first = False
                batch = ids[start : start + neon.CONSUMPTION_BATCH]
                batch_owners = [m for project in batch for m in owners[project]]
                if not await self._fetch(account.client, org, batch, batch_owners):
                    break  # no history for this organization: its drift checks fill in

    async def _fetch(
        self, client: neon.NeonClient, org: str | None, ids: list[str], members: list[Tracked]
    ) -> bool:
        """One call for ``ids``; record what it says. ``False``: the organization has none."""
        start, end = _month(self._now())
        self.calls += 1
        try:
            with neon.prioritized(neon.Priority.DRIFT):
                found = await client.consumption_history(ids, start=start, end=end, org_id=org)
        except (neon.ForbiddenError, neon.NotFound) as error:
            logger.info("no consumption history for organization %s: %s", org, error)
            return False
        except neon.NeonError as error:
            logger.warning("consumption of %d projects in %s failed: %s", len(ids), org, error)
            return True
        by_project = {p.project_id: p for p in found}
        for member in members:
            history = by_project.get(member.project_id or "")
            numbers = _from_history(history) if history is not None else None
            if numbers is not None:
                await self._record(member, numbers)
        return True

    async def _record(self, member: Tracked, numbers: dict[str, Any]) -> None:
        current = self._tracked.get(member.uid)
        if current is None:
            return  # deleted meanwhile
        known = current.consumption or Consumption()
        if known.model_copy(update=numbers) != known:
            written = await self._write(current, numbers)
            if written is None:
                return
            if member.uid not in self._tracked:
                return  # untracked while it was written: its gauges went with it
            current = written
            self._keep(current)
        self._gauges(current, current.consumption or known)

    async def _write(self, item: Tracked, numbers: dict[str, Any]) -> Tracked | None:
        """Patch ``status.consumption`` of the resource if it still has that project; how it is
        tracked afterwards (``None``: it is gone, being deleted, or has another project).

        While nothing else wrote the resource since the poller saw it (the usual case between
        two rounds), one request: a patch at the ``resourceVersion`` it saw. Otherwise a read,
        and a patch at the version read."""
        async with self.ctx.lock(item.uid):
            if item.resource_version:
                with contextlib.suppress(kube.Conflict):
                    return await self._patch(item, numbers)
            fresh = await self.ctx.kube.read_object(self._ref(item))
            current = tracked(fresh) if fresh is not None else None
            if current is None or current.uid != item.uid:
                return None
            if current.project_id != item.project_id:
                return None
            with contextlib.suppress(kube.Conflict):
                return await self._patch(current, numbers)
            return None  # changed again: the next round

    async def _patch(self, item: Tracked, numbers: dict[str, Any]) -> Tracked | None:
        merged = (item.consumption or Consumption()).model_copy(update=numbers)
        report = Report(self.ctx, self._ref(item), None, NeonAppDatabaseStatus())
        version = await report.write_at(item.resource_version, consumption=merged)
        if version is None:
            return None
        return dataclasses.replace(item, consumption=merged, resource_version=version)

    def _gauges(self, item: Tracked, consumption: Consumption) -> None:
        metrics.consumption(
            item.namespace,
            item.name,
            item.tier,
            {field: getattr(consumption, field) for field in metrics.CONSUMPTION},
        )
