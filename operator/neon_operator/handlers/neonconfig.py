"""kopf handlers of NeonConfig: check the key on every change and every
``configRefreshInterval``; forget the cached client when the NeonConfig goes."""

from __future__ import annotations

from typing import Any

import kopf

from neon_operator.handlers import outcomes
from neon_operator.models import GROUP, VERSION
from neon_operator.reconcilers import neonconfig
from neon_operator.reconcilers.context import Context

__all__ = ["register"]

KIND = neonconfig.KIND


def register(registry: kopf.OperatorRegistry, ctx: Context) -> None:
    """Register the NeonConfig handlers in ``registry``."""
    resource = (GROUP, VERSION, neonconfig.PLURAL)

    @kopf.on.resume(*resource, registry=registry, id="reconcile")
    @kopf.on.create(*resource, registry=registry, id="reconcile")
    @kopf.on.update(*resource, registry=registry, id="reconcile")
    async def reconcile(body: kopf.Body, reason: str, **_: Any) -> None:
        async with outcomes.translated(KIND, str(reason)):
            await neonconfig.reconcile(ctx, dict(body))

    @kopf.timer(
        *resource,
        registry=registry,
        id="refresh",
        interval=ctx.settings.config_refresh_interval,
        initial_delay=ctx.settings.config_refresh_interval,
    )
    async def refresh(body: kopf.Body, **_: Any) -> None:
        async with outcomes.translated(KIND, "refresh"):
            await neonconfig.reconcile(ctx, dict(body))

    @kopf.on.delete(*resource, registry=registry, optional=True, id="delete")
    async def delete(body: kopf.Body, **_: Any) -> None:
        await neonconfig.forget(ctx, body.metadata.name or "")
