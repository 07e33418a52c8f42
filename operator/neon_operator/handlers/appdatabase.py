"""kopf handlers of NeonAppDatabase: reconciled on every change (a resume of a settled one costs
Neon nothing); between changes the upkeep repairs its Secret from the watch and compares it with
Neon every ``neonResyncInterval``, within the drift budget; deletion runs behind the operator's
finalizer.
"""

from __future__ import annotations

import functools

import kopf

from neon_operator.handlers import lifecycle
from neon_operator.handlers.upkeep import Tended, Upkeep
from neon_operator.reconcilers import appdatabase
from neon_operator.reconcilers.context import Context

__all__ = ["register"]


def register(registry: kopf.OperatorRegistry, ctx: Context, upkeep: Upkeep) -> None:
    """Register the NeonAppDatabase handlers in ``registry``."""
    lifecycle.register(
        registry,
        ctx,
        upkeep,
        kind=appdatabase.KIND,
        plural=appdatabase.PLURAL,
        reconcile=appdatabase.reconcile,
        delete=appdatabase.delete,
        settled=appdatabase.settled,
        tended=Tended(
            kind=appdatabase.KIND,
            plural=appdatabase.PLURAL,
            repair=functools.partial(appdatabase.reconcile, resync=True),
            check_drift=appdatabase.check_drift,
            target=appdatabase.target,
            consumes=True,
        ),
    )
