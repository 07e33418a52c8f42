"""NeonSnapshotSchedule: make a NeonSnapshot at each due time, expire the old ones.

::

    paused → Synced=False Paused; nothing until a change
    schedule not valid cron → Ready=False InvalidSchedule; nothing until a change
    suspended → Ready=True Suspended, no nextScheduleTime; nothing until a change
    the schedule's NeonSnapshots (by label) → the slot due now (the latest one missed only)
      └─ NeonAppDatabase missing → Ready=False ParentNotFound; look again at the next slot
         create NeonSnapshot <prefix>-<yyyymmddhhmm> (409: it exists, made before a crash)
         → lastScheduleTime
    expire: beyond `keep` (counting ready snapshots, newest first) or older than `maxAge`
      → delete those NeonSnapshots (their finalizers delete the Neon snapshots)
    status: active, nextScheduleTime; Ready=True Scheduled
    → the moment to look again: the next slot, the next expiry, or soon if a snapshot kept in
      place of an older one is still being taken

No Neon call is made here: the NeonSnapshots do that. :func:`reconcile` returns when it wants
to run again, so a caller can sleep until then (one sleeping task per schedule, no polling).
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence
from typing import Any, Final

from neon_operator import cron
from neon_operator.models import (
    API_VERSION,
    READY,
    NeonSnapshotSchedule,
    appdatabase,
    label_value,
    snapshot,
)
from neon_operator.models.schedule import (
    KIND,
    SCHEDULE_LABEL,
    SCHEDULED_TIME_ANNOTATION,
    NeonSnapshotScheduleStatus,
)
from neon_operator.reconcilers import dependents
from neon_operator.reconcilers.context import Context
from neon_operator.reconcilers.references import PLURALS, namespace_of, object_ref, reference
from neon_operator.reconcilers.reporting import Report

__all__ = ["KIND", "PLURAL", "Taken", "expired", "reconcile", "snapshot_name"]

PLURAL: Final = PLURALS[KIND]
PENDING_WINDOW: Final = datetime.timedelta(minutes=10)
"""How long after its due time a snapshot still being taken makes the schedule look again soon
(to expire what it replaces once it is ready); later, the next slot is soon enough."""

ScheduleReport = Report[NeonSnapshotScheduleStatus]


def snapshot_name(sched: NeonSnapshotSchedule, slot: datetime.datetime) -> str:
    """The NeonSnapshot of ``slot``: ``<prefix>-<yyyymmddhhmm>`` (one name per slot)."""
    prefix = sched.spec.snapshot_name_prefix or sched.metadata.name
    return f"{prefix}-{slot.astimezone(datetime.UTC):%Y%m%d%H%M}"


@dataclasses.dataclass(frozen=True)
class Taken:
    """One of the schedule's NeonSnapshots, as retention sees it."""

    name: str
    time: datetime.datetime
    """The due time it was made for (else its creation time)."""
    ready: bool


def expired(
    taken: Sequence[Taken],
    *,
    keep: int | None,
    max_age: datetime.timedelta | None,
    now: datetime.datetime,
) -> list[Taken]:
    """The snapshots to delete: older than ``max_age``, or beyond the newest ``keep``.

    Only ready snapshots count towards ``keep``: one still being taken (or failed) never pushes
    out a ready checkpoint; it is kept while newer than the oldest kept ready one.
    """
    out: list[Taken] = []
    kept_ready = 0
    for one in sorted(taken, key=lambda t: (t.time, t.name), reverse=True):
        too_old = max_age is not None and now - one.time > max_age
        beyond = keep is not None and kept_ready >= keep
        if too_old or beyond:
            out.append(one)
        elif one.ready:
            kept_ready += 1
    return out


async def reconcile(ctx: Context, body: dict[str, Any]) -> datetime.datetime | None:
    """Converge the NeonSnapshotSchedule ``body``; when to run again (``None``: on a change)."""
    sched = NeonSnapshotSchedule.model_validate(body)
    report: ScheduleReport = Report(ctx, object_ref(sched), sched.metadata.generation, sched.status)
    if await report.paused(sched.metadata.annotations):
        return None
    now = ctx.clock()
    try:
        schedule = cron.parse(sched.spec.schedule)
    except cron.InvalidSchedule as error:
        report.update(next_schedule_time=None)
        await report.failed("InvalidSchedule", f"{error}; fix spec.schedule", stalled=True)
        return None
    if sched.spec.suspend:
        report.update(next_schedule_time=None)
        await report.succeeded("Suspended", "spec.suspend is true: no snapshots made or expired")
        return None

    namespace = namespace_of(sched)
    taken = await _taken(ctx, sched, namespace)
    slot, next_slot = cron.due(
        schedule, last=sched.status.last_schedule_time, since=_created(body, now), now=now
    )
    report.update(next_schedule_time=next_slot)
    if slot is not None:
        made = await _take(ctx, sched, report, namespace, slot)
        if made is None:
            await report.flush()
            return next_slot
        if all(t.name != made.name for t in taken):
            taken.append(made)
        report.update(last_schedule_time=slot)

    max_age = cron.parse_duration(sched.spec.max_age) if sched.spec.max_age else None
    gone = expired(taken, keep=sched.spec.keep, max_age=max_age, now=now)
    for one in gone:
        await ctx.kube.delete_object(reference(snapshot.KIND, one.name, namespace))
        await report.event("Normal", "SnapshotExpired", f"deleted NeonSnapshot {one.name}")
    kept = sorted((t for t in taken if t not in gone), key=lambda t: (t.time, t.name))
    report.update(active=[t.name for t in kept])
    await report.succeeded(
        "Scheduled", f"next snapshot due {next_slot.isoformat()}; {len(kept)} snapshot(s) kept"
    )
    return _wake_at(ctx, kept, next_slot, max_age, now)


def _created(body: dict[str, Any], now: datetime.datetime) -> datetime.datetime:
    return _parse_time(body.get("metadata", {}).get("creationTimestamp")) or now


async def _taken(ctx: Context, sched: NeonSnapshotSchedule, namespace: str) -> list[Taken]:
    """The schedule's NeonSnapshots that are not being deleted."""
    selector = f"{SCHEDULE_LABEL}={label_value(sched.metadata.name)}"
    found = await ctx.kube.list_objects(PLURALS[snapshot.KIND], namespace, label_selector=selector)
    return [_as_taken(body) for body in found if not body["metadata"].get("deletionTimestamp")]


def _parse_time(text: object) -> datetime.datetime | None:
    try:
        moment = datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def _as_taken(body: dict[str, Any]) -> Taken:
    """Retention's view of a NeonSnapshot: its due time from the annotation (a hand-made one
    labelled for the schedule falls back to its creation time)."""
    metadata = body["metadata"]
    time = _parse_time(metadata.get("annotations", {}).get(SCHEDULED_TIME_ANNOTATION))
    if time is None:
        time = _parse_time(metadata.get("creationTimestamp"))
    assert time is not None  # the apiserver always sets creationTimestamp
    conditions = body.get("status", {}).get("conditions", [])
    ready = any(c.get("type") == READY and c.get("status") == "True" for c in conditions)
    return Taken(name=metadata["name"], time=time, ready=ready)


async def _take(
    ctx: Context,
    sched: NeonSnapshotSchedule,
    report: ScheduleReport,
    namespace: str,
    slot: datetime.datetime,
) -> Taken | None:
    """Create the NeonSnapshot of ``slot`` (or find it, made before a crash)."""
    app_name = sched.spec.app_database_ref.name
    app = await ctx.kube.read_object(reference(appdatabase.KIND, app_name, namespace))
    if app is None:
        message = (
            f"NeonAppDatabase {app_name!r} does not exist in namespace {namespace!r}; the "
            f"snapshot due {slot.isoformat()} was skipped"
        )
        await report.failed("ParentNotFound", message)
        return None
    name = snapshot_name(sched, slot)
    owner = {**object_ref(sched).owner_reference(), "blockOwnerDeletion": False}
    app_owner = dependents.app_owner_reference(app_name, app["metadata"]["uid"])
    stamp = slot.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {
        "apiVersion": API_VERSION,
        "kind": snapshot.KIND,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {SCHEDULE_LABEL: label_value(sched.metadata.name)},
            "annotations": {SCHEDULED_TIME_ANNOTATION: stamp},
            "ownerReferences": [owner, app_owner],
        },
        "spec": {"appDatabaseRef": {"name": app_name}},
    }
    if await ctx.kube.create_object(PLURALS[snapshot.KIND], namespace, body):
        await report.event("Normal", "SnapshotScheduled", f"created NeonSnapshot {name}")
        return Taken(name=name, time=slot, ready=False)
    existing = await ctx.kube.read_object(reference(snapshot.KIND, name, namespace))
    labels = (existing or {}).get("metadata", {}).get("labels", {})
    if existing is not None and labels.get(SCHEDULE_LABEL) != label_value(sched.metadata.name):
        message = (
            f"NeonSnapshot {name} exists but was not made by this schedule; set "
            "spec.snapshotNamePrefix to a prefix no other schedule or snapshot uses"
        )
        await report.failed("SnapshotNameTaken", message, stalled=True)
        return None
    return _as_taken(existing) if existing is not None else None


def _wake_at(
    ctx: Context,
    kept: Sequence[Taken],
    next_slot: datetime.datetime,
    max_age: datetime.timedelta | None,
    now: datetime.datetime,
) -> datetime.datetime:
    moments = [next_slot]
    if max_age is not None and kept:
        moments.append(min(t.time for t in kept) + max_age + datetime.timedelta(seconds=1))
    if any(not t.ready and now - t.time < PENDING_WINDOW for t in kept):
        moments.append(now + datetime.timedelta(seconds=ctx.settings.retry_delay))
    return min(moments)
