"""kopf handlers of NeonAppDatabase: reconciled on every change and resynced every
``resyncInterval`` (the Secret from Kubernetes; Neon itself every ``neonResyncInterval``, within
the drift budget); deletion runs behind the operator's finalizer.
"""

from __future__ import annotations

import functools

import kopf

from neon_operator.handlers import lifecycle
from neon_operator.reconcilers import appdatabase
from neon_operator.reconcilers.context import Context

__all__ = ["register"]


def register(registry: kopf.OperatorRegistry, ctx: Context) -> None:
    """Register the NeonAppDatabase handlers in ``registry``."""
    lifecycle.register(
        registry,
        ctx,
        kind=appdatabase.KIND,
        plural=appdatabase.PLURAL,
        reconcile=appdatabase.reconcile,
        delete=appdatabase.delete,
        resync=functools.partial(appdatabase.reconcile, resync=True),
    )
