"""kopf handlers of NeonRestore: reconciled on every change; deletion runs behind the operator's
finalizer. Nothing between changes: a NeonRestore does not drift (a completed one is done; its
reconcile returns at once on resume).
"""

from __future__ import annotations

import kopf

from neon_operator.handlers import lifecycle
from neon_operator.handlers.upkeep import Upkeep
from neon_operator.reconcilers import restore
from neon_operator.reconcilers.context import Context

__all__ = ["register"]


def register(registry: kopf.OperatorRegistry, ctx: Context, upkeep: Upkeep) -> None:
    """Register the NeonRestore handlers in ``registry``."""
    lifecycle.register(
        registry,
        ctx,
        upkeep,
        kind=restore.KIND,
        plural=restore.PLURAL,
        reconcile=restore.reconcile,
        delete=restore.delete,
    )
