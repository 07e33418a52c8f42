"""kopf handlers of NeonBranch: reconciled on every change and resynced every ``resyncInterval``
(the Secret from Kubernetes); deletion runs behind the operator's finalizer.
"""

from __future__ import annotations

import functools

import kopf

from neon_operator.handlers import lifecycle
from neon_operator.reconcilers import branch
from neon_operator.reconcilers.context import Context

__all__ = ["register"]


def register(registry: kopf.OperatorRegistry, ctx: Context) -> None:
    """Register the NeonBranch handlers in ``registry``."""
    lifecycle.register(
        registry,
        ctx,
        kind=branch.KIND,
        plural=branch.PLURAL,
        reconcile=branch.reconcile,
        delete=branch.delete,
        resync=functools.partial(branch.reconcile, resync=True),
    )
