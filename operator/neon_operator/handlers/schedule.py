"""kopf handlers of NeonSnapshotSchedule: one daemon per schedule that sleeps until it is due.

The daemon runs :func:`reconcilers.schedule.reconcile`, which says when it wants to run again
(the next slot, the next expiry), and sleeps until then: no timer ticks, no polling, one
sleeping task per schedule however many there are. A change of the object (spec, annotations)
wakes it through the update handler, so an edited schedule takes effect at once. The daemon
starts again when the operator restarts (kopf resumes daemons), and the first run takes the
latest slot missed while it was down. Deleting a schedule stops its daemon; its NeonSnapshots
stay (they are the NeonAppDatabase's too).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from typing import Any, Final

import kopf

from neon_operator import errors, kube, metrics, neon
from neon_operator.models import GROUP, VERSION
from neon_operator.reconcilers import schedule
from neon_operator.reconcilers.context import Context

__all__ = ["register"]

KIND = schedule.KIND
CANCELLATION_TIMEOUT: Final = 10.0
"""Seconds kopf gives a cancelled daemon (deleted object, operator stopping) to finish."""

logger = logging.getLogger(__name__)


def register(registry: kopf.OperatorRegistry, ctx: Context) -> None:
    """Register the NeonSnapshotSchedule handlers in ``registry``."""
    resource = (GROUP, VERSION, schedule.PLURAL)
    wakeups: dict[str, asyncio.Event] = {}

    @kopf.on.update(*resource, registry=registry, id="wake")
    async def wake(body: kopf.Body, **_: Any) -> None:
        wakeups.setdefault(body.metadata.uid or "", asyncio.Event()).set()

    @kopf.daemon(
        *resource,
        registry=registry,
        id="schedule",
        cancellation_timeout=CANCELLATION_TIMEOUT,
    )
    async def run(body: kopf.Body, stopped: kopf.DaemonStopped, **_: Any) -> None:
        uid = body.metadata.uid or ""
        woken = wakeups.setdefault(uid, asyncio.Event())
        ref = kube.ObjectRef(
            kind=KIND,
            plural=schedule.PLURAL,
            name=body.metadata.name or "",
            namespace=body.metadata.namespace,
            uid=uid,
        )
        try:
            while not stopped:
                woken.clear()
                async with ctx.lock(uid):
                    fresh = await ctx.kube.read_object(ref)
                    if fresh is None or fresh.get("metadata", {}).get("deletionTimestamp"):
                        return
                    at = await _reconcile(ctx, fresh)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), timeout=_seconds_until(at))
        finally:
            wakeups.pop(uid, None)
            ctx.release(uid)


async def _reconcile(ctx: Context, body: dict[str, Any]) -> datetime.datetime | None:
    """One run; on failure, when to try again (the reconciler wrote the conditions)."""
    retry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(
        seconds=ctx.settings.retry_delay
    )
    try:
        at = await schedule.reconcile(ctx, body)
    except errors.RetryLater as error:
        metrics.reconciled(KIND, "schedule", "retry")
        return datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=error.delay)
    except errors.AwaitChange:
        metrics.reconciled(KIND, "schedule", "await_change")
        return None
    except neon.TransientError:
        metrics.reconciled(KIND, "schedule", "transient")
        return retry
    except Exception:
        # Kubernetes unreachable, or a bug: logged, retried later; the daemon keeps running.
        metrics.reconciled(KIND, "schedule", "error")
        logger.exception("NeonSnapshotSchedule %s: reconcile failed", body["metadata"]["name"])
        return retry
    metrics.reconciled(KIND, "schedule", "ok")
    return at


def _seconds_until(at: datetime.datetime | None) -> float | None:
    """Seconds to sleep until ``at`` (``None``: until woken), a little past it so that the
    whole-second clock of the reconciler has reached the due minute."""
    if at is None:
        return None
    remaining = (at - datetime.datetime.now(datetime.UTC)).total_seconds()
    return max(remaining, 0.0) + 0.25
