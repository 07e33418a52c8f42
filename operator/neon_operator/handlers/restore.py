"""kopf handlers of NeonRestore: reconciled on every change; deletion runs behind the operator's
finalizer. No timer: a NeonRestore does not drift (its Neon object never changes once made).
"""

from __future__ import annotations

import kopf

from neon_operator.handlers import lifecycle
from neon_operator.reconcilers import restore
from neon_operator.reconcilers.context import Context

__all__ = ["register"]


def register(registry: kopf.OperatorRegistry, ctx: Context) -> None:
    """Register the NeonRestore handlers in ``registry``."""
    lifecycle.register(
        registry,
        ctx,
        kind=restore.KIND,
        plural=restore.PLURAL,
        reconcile=restore.reconcile,
        delete=restore.delete,
    )
