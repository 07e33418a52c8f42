"""kopf handlers, one module per kind; :func:`register` puts them all into a registry.

Handlers are thin: they serialize work per object, call a reconciler with a plain ``dict`` body
and let :mod:`.outcomes` translate the result for kopf. What runs between changes (Secret
repairs, drift checks) is the :class:`~.upkeep.Upkeep`'s, not a timer per object. Nothing is
registered at import time, so intervals come from the run's
:class:`~neon_operator.settings.Settings`.
"""

from __future__ import annotations

import kopf

from neon_operator.handlers import (
    appdatabase,
    branch,
    neonconfig,
    restore,
    schedule,
    snapshot,
)
from neon_operator.handlers.upkeep import Upkeep
from neon_operator.reconcilers.context import Context

__all__ = ["register"]


def register(
    ctx: Context, upkeep: Upkeep, registry: kopf.OperatorRegistry | None = None
) -> kopf.OperatorRegistry:
    """A registry holding the handlers of every kind, bound to ``ctx`` and ``upkeep``."""
    registry = registry if registry is not None else kopf.OperatorRegistry()
    neonconfig.register(registry, ctx)
    appdatabase.register(registry, ctx, upkeep)
    branch.register(registry, ctx, upkeep)
    snapshot.register(registry, ctx, upkeep)
    restore.register(registry, ctx, upkeep)
    schedule.register(registry, ctx)
    return registry
