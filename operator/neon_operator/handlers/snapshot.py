"""kopf handlers of NeonSnapshot: reconciled on every change (a resume of a settled one does
nothing); deletion runs behind the operator's finalizer. Nothing between changes: a NeonSnapshot
does not drift (its Neon object never changes once made).
"""

from __future__ import annotations

import kopf

from neon_operator.handlers import lifecycle
from neon_operator.handlers.upkeep import Upkeep
from neon_operator.reconcilers import snapshot
from neon_operator.reconcilers.context import Context

__all__ = ["register"]


def register(registry: kopf.OperatorRegistry, ctx: Context, upkeep: Upkeep) -> None:
    """Register the NeonSnapshot handlers in ``registry``."""
    lifecycle.register(
        registry,
        ctx,
        upkeep,
        kind=snapshot.KIND,
        plural=snapshot.PLURAL,
        reconcile=snapshot.reconcile,
        delete=snapshot.delete,
        settled=snapshot.settled,
    )
