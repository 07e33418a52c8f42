"""Whether a resource needs anything from Neon: is its status complete, its generation observed?

A restarted operator resumes every resource it serves. One whose last reconcile succeeded
(``Ready`` and ``Synced`` both ``True``) for the generation it has now, and whose status holds
everything the next steps need, was fully reconciled and nothing the operator acts on changed
since: a spec change bumps the generation, and each kind checks the annotations it acts on
(pause, password rotation, a restore's new branch id). Resuming it costs Neon nothing; its Secret
is compared from the shared watch cache, and Neon drift checks come round on the scheduler's
budgeted walk (:mod:`neon_operator.drift`).

Each kind decides with a pure function of its body (``appdatabase.settled`` …) built on
:func:`observed`; :func:`target` says what the scheduler keeps about it.
"""

from __future__ import annotations

from neon_operator import drift, kube
from neon_operator.models import READY, SYNCED, Status
from neon_operator.reconcilers.references import namespace_of

__all__ = ["observed", "target"]


def observed(status: Status, generation: int | None) -> bool:
    """Whether ``status`` says the last reconcile of ``generation`` succeeded: Ready and Synced
    ``True``, both computed from this generation, and ``observedGeneration`` equal to it."""
    if generation is None or status.observed_generation != generation:
        return False
    for type_ in (READY, SYNCED):
        condition = status.condition(type_)
        if condition is None or condition.status != "True":
            return False
        if condition.observed_generation != generation:
            return False
    return True


def target(
    ref: kube.ObjectRef, *, lane: str, secret: str | None, calls: int = drift.CHECK_CALLS
) -> drift.Target:
    """What the drift scheduler keeps about the object ``ref``."""
    return drift.Target(
        kind=ref.kind,
        plural=ref.plural,
        namespace=namespace_of(ref),
        name=ref.name,
        uid=ref.uid,
        lane=lane,
        secret=secret,
        calls=calls,
    )
