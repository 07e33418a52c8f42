"""The change handler every kind shares (:mod:`neon_operator.handlers.lifecycle`), called as kopf
calls it: which causes reach the reconciler, and which a settled status answers without Neon."""

from __future__ import annotations

from typing import Any, cast

import kopf
import pytest

from neon_operator.handlers import lifecycle
from neon_operator.handlers.upkeep import Upkeep
from neon_operator.reconcilers.context import Context
from neon_operator.settings import Settings

pytestmark = pytest.mark.unit

BODY = {"metadata": {"name": "app", "namespace": "team", "uid": "u-1"}, "status": {}}


class Kind:
    """A kind whose reconciles are counted and whose settledness the test sets."""

    def __init__(self, *, settled: bool) -> None:
        self.settled = settled
        self.reconciled: list[dict[str, Any]] = []
        ctx = Context(kube=cast(Any, None), accounts=cast(Any, None), settings=Settings())
        self.registry = kopf.OperatorRegistry()
        lifecycle.register(
            self.registry,
            ctx,
            Upkeep(ctx, None),
            kind="NeonAppDatabase",
            plural="neonappdatabases",
            reconcile=self._reconcile,
            delete=self._reconcile,
            settled=lambda _ctx, _body: self.settled,
        )

    async def _reconcile(self, ctx: Context, body: dict[str, Any]) -> None:
        self.reconciled.append(body)

    async def change(self, reason: str) -> None:
        handlers = self.registry._changing.get_all_handlers()
        on_change = next(h.fn for h in handlers if h.id == "reconcile")
        await on_change(body=kopf.Body(BODY), reason=reason, retry=0)


@pytest.mark.parametrize("reason", ["create", "update", "resume"])
async def test_every_cause_of_an_unsettled_object_reconciles(reason: str) -> None:
    kind = Kind(settled=False)
    await kind.change(reason)
    assert len(kind.reconciled) == 1


@pytest.mark.parametrize("reason", ["create", "resume"])
async def test_a_settled_object_resumed_or_created_again_costs_no_reconcile(reason: str) -> None:
    # "create" again: kopf handled a copy older than its own record of the create
    kind = Kind(settled=True)
    await kind.change(reason)
    assert kind.reconciled == []


async def test_an_update_of_a_settled_object_still_reconciles() -> None:
    # settled is about the status; an update is kopf seeing spec, labels or annotations change
    kind = Kind(settled=True)
    await kind.change("update")
    assert len(kind.reconciled) == 1
