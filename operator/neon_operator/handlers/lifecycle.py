"""The handlers NeonAppDatabase, NeonBranch, NeonSnapshot and NeonRestore share.

Create, update and resume run the kind's reconciler; a periodic resync (for kinds that can
drift) re-reads the object and reconciles it with ``resync=True``; deletion runs behind the
operator's finalizer. Each step holds the object's lock, so the timer never races a change
handler, and :mod:`.outcomes` translates what happened for kopf.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import kopf

from neon_operator import kube
from neon_operator.handlers import outcomes
from neon_operator.models import GROUP, VERSION
from neon_operator.reconcilers.context import Context

__all__ = ["Step", "register"]

Step = Callable[[Context, dict[str, Any]], Awaitable[None]]
"""A reconciler's entry point: the operator's context and the object's body."""


def register(
    registry: kopf.OperatorRegistry,
    ctx: Context,
    *,
    kind: str,
    plural: str,
    reconcile: Step,
    delete: Step,
    resync: Step | None = None,
) -> None:
    """Register the handlers of ``kind``: ``reconcile`` on every change, ``resync`` (if the
    kind can drift) every ``resyncInterval`` on a freshly read body, ``delete`` on deletion."""
    resource = (GROUP, VERSION, plural)

    @kopf.on.resume(*resource, registry=registry, id="reconcile")
    @kopf.on.create(*resource, registry=registry, id="reconcile")
    @kopf.on.update(*resource, registry=registry, id="reconcile")
    async def on_change(body: kopf.Body, reason: str, **_: Any) -> None:
        async with ctx.lock(body.metadata.uid or ""), outcomes.translated(kind, str(reason)):
            await reconcile(ctx, dict(body))

    if resync is not None:
        periodic = resync

        @kopf.timer(
            *resource,
            registry=registry,
            id="resync",
            interval=ctx.settings.resync_interval,
            initial_delay=ctx.settings.resync_interval,
        )
        async def on_timer(body: kopf.Body, **_: Any) -> None:
            ref = kube.ObjectRef(
                kind=kind,
                plural=plural,
                name=body.metadata.name or "",
                namespace=body.metadata.namespace,
                uid=body.metadata.uid or "",
            )
            async with ctx.lock(ref.uid), outcomes.translated(kind, "resync"):
                fresh = await ctx.kube.read_object(ref)
                if fresh is None or fresh.get("metadata", {}).get("deletionTimestamp"):
                    return
                await periodic(ctx, fresh)

    @kopf.on.delete(*resource, registry=registry, id="delete")
    async def on_delete(body: kopf.Body, **_: Any) -> None:
        uid = body.metadata.uid or ""
        async with ctx.lock(uid), outcomes.translated(kind, "delete"):
            await delete(ctx, dict(body))
        ctx.release(uid)
