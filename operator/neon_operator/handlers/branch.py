"""kopf handlers of NeonBranch: reconciled on every change (a resume of a settled one costs Neon
nothing); between changes the upkeep repairs its Secret from the watch and compares it with Neon
every ``neonResyncInterval``, within the drift budget; deletion runs behind the operator's
finalizer.
"""

from __future__ import annotations

import functools

import kopf

from neon_operator.handlers import lifecycle
from neon_operator.handlers.upkeep import Tended, Upkeep
from neon_operator.reconcilers import branch
from neon_operator.reconcilers.context import Context

__all__ = ["register"]


def register(registry: kopf.OperatorRegistry, ctx: Context, upkeep: Upkeep) -> None:
    """Register the NeonBranch handlers in ``registry``."""
    lifecycle.register(
        registry,
        ctx,
        upkeep,
        kind=branch.KIND,
        plural=branch.PLURAL,
        reconcile=branch.reconcile,
        delete=branch.delete,
        settled=branch.settled,
        tended=Tended(
            kind=branch.KIND,
            plural=branch.PLURAL,
            repair=functools.partial(branch.reconcile, resync=True),
            check_drift=branch.check_drift,
            target=branch.target,
        ),
    )
