"""kopf handlers of NeonAppDatabase: thin wrappers around :mod:`reconcilers.appdatabase`.

Create, update and resume run the full reconcile; a timer every ``resyncInterval`` runs the
resync (Secret drift from Kubernetes alone, Neon drift when ``neonResyncInterval`` passed);
deletion honours the deletion policy behind the operator's finalizer. A per-object lock keeps the
timer and the change handlers from reconciling one object at the same time, and the timer
re-reads the object under that lock (its body could predate a change handler's status write).
"""

from __future__ import annotations

from typing import Any

import kopf

from neon_operator.handlers import outcomes
from neon_operator.models import GROUP, VERSION
from neon_operator.reconcilers import appdatabase
from neon_operator.reconcilers.context import Context

__all__ = ["register"]

KIND = appdatabase.KIND


def register(registry: kopf.OperatorRegistry, ctx: Context) -> None:
    """Register the NeonAppDatabase handlers in ``registry``."""
    resource = (GROUP, VERSION, appdatabase.PLURAL)

    @kopf.on.resume(*resource, registry=registry, id="reconcile")
    @kopf.on.create(*resource, registry=registry, id="reconcile")
    @kopf.on.update(*resource, registry=registry, id="reconcile")
    async def reconcile(body: kopf.Body, reason: str, **_: Any) -> None:
        async with ctx.lock(body.metadata.uid or ""), outcomes.translated(KIND, str(reason)):
            await appdatabase.reconcile(ctx, dict(body))

    @kopf.timer(
        *resource,
        registry=registry,
        id="resync",
        interval=ctx.settings.resync_interval,
        initial_delay=ctx.settings.resync_interval,
    )
    async def resync(body: kopf.Body, **_: Any) -> None:
        async with ctx.lock(body.metadata.uid or ""), outcomes.translated(KIND, "resync"):
            ref = appdatabase.object_ref_of(dict(body))
            fresh = await ctx.kube.read_object(ref)
            if fresh is None or fresh.get("metadata", {}).get("deletionTimestamp"):
                return
            await appdatabase.reconcile(ctx, fresh, resync=True)

    @kopf.on.delete(*resource, registry=registry, id="delete")
    async def delete(body: kopf.Body, **_: Any) -> None:
        uid = body.metadata.uid or ""
        async with ctx.lock(uid), outcomes.translated(KIND, "delete"):
            await appdatabase.delete(ctx, dict(body))
        ctx.release(uid)
