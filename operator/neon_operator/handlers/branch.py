"""kopf handlers of NeonBranch: thin wrappers around :mod:`reconcilers.branch`.

As for NeonAppDatabase: create/update/resume reconcile, a timer checks the Secret every
``resyncInterval``, deletion honours the deletion policy behind the operator's finalizer, and a
per-object lock keeps the timer and the change handlers apart.
"""

from __future__ import annotations

from typing import Any

import kopf

from neon_operator.handlers import outcomes
from neon_operator.models import GROUP, VERSION
from neon_operator.reconcilers import branch
from neon_operator.reconcilers.context import Context

__all__ = ["register"]

KIND = branch.KIND


def register(registry: kopf.OperatorRegistry, ctx: Context) -> None:
    """Register the NeonBranch handlers in ``registry``."""
    resource = (GROUP, VERSION, branch.PLURAL)

    @kopf.on.resume(*resource, registry=registry, id="reconcile")
    @kopf.on.create(*resource, registry=registry, id="reconcile")
    @kopf.on.update(*resource, registry=registry, id="reconcile")
    async def reconcile(body: kopf.Body, reason: str, **_: Any) -> None:
        async with ctx.lock(body.metadata.uid or ""), outcomes.translated(KIND, str(reason)):
            await branch.reconcile(ctx, dict(body))

    @kopf.timer(
        *resource,
        registry=registry,
        id="resync",
        interval=ctx.settings.resync_interval,
        initial_delay=ctx.settings.resync_interval,
    )
    async def resync(body: kopf.Body, **_: Any) -> None:
        async with ctx.lock(body.metadata.uid or ""), outcomes.translated(KIND, "resync"):
            fresh = await ctx.kube.read_object(branch.object_ref_of(dict(body)))
            if fresh is None or fresh.get("metadata", {}).get("deletionTimestamp"):
                return
            await branch.reconcile(ctx, fresh, resync=True)

    @kopf.on.delete(*resource, registry=registry, id="delete")
    async def delete(body: kopf.Body, **_: Any) -> None:
        uid = body.metadata.uid or ""
        async with ctx.lock(uid), outcomes.translated(KIND, "delete"):
            await branch.delete(ctx, dict(body))
        ctx.release(uid)
