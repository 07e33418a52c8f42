"""The handlers NeonAppDatabase, NeonBranch, NeonSnapshot and NeonRestore share.

Create, update and resume run the kind's reconciler; deletion runs behind the operator's
finalizer. A resume of an object that is ``settled`` (its status complete, its generation
observed: :mod:`neon_operator.reconcilers.steady`) runs nothing against Neon: the
:class:`~.upkeep.Upkeep` tracks it and checks its Secret from the watch cache. So does a
"create" of a settled object: kopf re-runs a create when it handles a copy of the object older
than its own record of the create (on a loaded apiserver its echo can come after kopf's
consistency timeout), and a settled status says the create is done. Kinds that can
drift (``tended``) are tracked after every successful reconcile; their Secret repairs and Neon
drift checks run in the upkeep, not in a timer per object. Each step holds the object's lock, a
change preempts a drift check under way, and :mod:`.outcomes` translates what happened for kopf.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import kopf

from neon_operator.handlers import outcomes
from neon_operator.handlers.upkeep import Tended, Upkeep
from neon_operator.models import GROUP, VERSION
from neon_operator.reconcilers.context import Context

__all__ = ["Settled", "Step", "register"]

Step = Callable[[Context, dict[str, Any]], Awaitable[None]]
"""A reconciler's entry point: the operator's context and the object's body."""

Settled = Callable[[Context, dict[str, Any]], bool]
"""Whether an object needs nothing from Neon as it is (a kind's ``settled``)."""


def register(
    registry: kopf.OperatorRegistry,
    ctx: Context,
    upkeep: Upkeep,
    *,
    kind: str,
    plural: str,
    reconcile: Step,
    delete: Step,
    settled: Settled | None = None,
    tended: Tended | None = None,
) -> None:
    """Register the handlers of ``kind``: ``reconcile`` on every change (a resume of a
    ``settled`` object costs no Neon call), ``delete`` on deletion; ``tended`` kinds are
    looked after by ``upkeep`` between changes."""
    resource = (GROUP, VERSION, plural)
    if tended is not None:
        upkeep.tend(tended)

    @kopf.on.resume(*resource, registry=registry, id="reconcile")
    @kopf.on.create(*resource, registry=registry, id="reconcile")
    @kopf.on.update(*resource, registry=registry, id="reconcile")
    async def on_change(body: kopf.Body, reason: str, retry: int, **_: Any) -> None:
        uid = body.metadata.uid or ""
        plain = dict(body)
        upkeep.preempt(uid)
        async with ctx.lock(uid), outcomes.translated(kind, str(reason), retry):
            # kopf's "resume": the object existed, unchanged, when the operator started; its
            # "create": kopf has no record of handling the object.
            answered_by_status = reason in (kopf.Reason.RESUME, kopf.Reason.CREATE)
            if answered_by_status and settled is not None and settled(ctx, plain):
                if tended is not None:
                    await upkeep.resumed(tended, plain)
                return
            await reconcile(ctx, plain)
        if tended is not None:
            upkeep.track(tended, plain)

    @kopf.on.delete(*resource, registry=registry, id="delete")
    async def on_delete(body: kopf.Body, retry: int, **_: Any) -> None:
        uid = body.metadata.uid or ""
        upkeep.preempt(uid)
        async with ctx.lock(uid), outcomes.translated(kind, "delete", retry):
            await delete(ctx, dict(body))
        upkeep.untrack(uid)
        ctx.release(uid)
