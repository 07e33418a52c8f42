"""kopf handlers of NeonRestore: thin wrappers around :mod:`reconcilers.restore`.

Create, update and resume move the resource forward; deletion runs behind the operator's
finalizer. No timer: a NeonRestore does not drift (its Neon object never changes once made).
"""

from __future__ import annotations

from typing import Any

import kopf

from neon_operator.handlers import outcomes
from neon_operator.models import GROUP, VERSION
from neon_operator.reconcilers import restore
from neon_operator.reconcilers.context import Context

__all__ = ["register"]

KIND = restore.KIND


def register(registry: kopf.OperatorRegistry, ctx: Context) -> None:
    """Register the NeonRestore handlers in ``registry``."""
    resource = (GROUP, VERSION, restore.PLURAL)

    @kopf.on.resume(*resource, registry=registry, id="reconcile")
    @kopf.on.create(*resource, registry=registry, id="reconcile")
    @kopf.on.update(*resource, registry=registry, id="reconcile")
    async def reconcile(body: kopf.Body, reason: str, **_: Any) -> None:
        async with ctx.lock(body.metadata.uid or ""), outcomes.translated(KIND, str(reason)):
            await restore.reconcile(ctx, dict(body))

    @kopf.on.delete(*resource, registry=registry, id="delete")
    async def delete(body: kopf.Body, **_: Any) -> None:
        uid = body.metadata.uid or ""
        async with ctx.lock(uid), outcomes.translated(KIND, "delete"):
            await restore.delete(ctx, dict(body))
        ctx.release(uid)
