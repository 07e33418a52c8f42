"""Creation claims: one operator instance, once, asks Neon to create a resource's object.

Leader election keeps a second instance from acting at all; the claim is the defence in depth
for the moments it cannot cover (a handover, an instance run by hand against another Lease).
Before a create call (a project, a branch, a snapshot, a restore) the reconciler calls
:func:`claim`, which reads the resource afresh and::

    status already names the Neon object        → made meanwhile (by this operator's earlier run
                                                   or another instance): come back, reporting
                                                   nothing over the newer status (Raced)
    an earlier claim (status.creationRequested) → look in Neon for what it made (``find``):
      │                                            found → use it (crash recovery, no wait)
      └─ made by another instance < CLAIM_TTL ago → wait for it (RetryLater), never create
    claim: creationRequested + creationRequestedBy, written at the resourceVersion read
      └─ someone wrote the resource first (409)  → come back and decide again (Raced)

Deleting uses the same facts: :func:`created_id` is the id of what a resource made, the one
status names or, after a claim, the one Neon holds (made before a crash, never recorded).

Of two instances that read the same version, only one claim lands. ``CLAIM_TTL`` bounds how long
a claimant that vanished (crashed between claiming and creating) holds the creation up: its
request, if it left at all, has been answered by then.
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol, TypeVar

from neon_operator import errors, kube
from neon_operator.models import CreatedStatus
from neon_operator.reconcilers.context import Context
from neon_operator.reconcilers.reporting import Report

__all__ = ["CLAIM_TTL", "claim", "created_id"]

CLAIM_TTL: Final = datetime.timedelta(seconds=60)
"""How long another instance's claim is honoured while nothing it made shows in Neon: twice
the Neon client's request timeout."""
RACED_DELAY: Final = 1.0
"""Seconds before deciding again after losing a race for the resource."""

T = TypeVar("T")
S = TypeVar("S", bound=CreatedStatus)


async def claim(
    ctx: Context,
    report: Report[S],
    *,
    made: str,
    find: Callable[[], Awaitable[T | None]],
) -> T | None:
    """Claim the creation for this process, or return what an earlier claim made (``find``
    looks in Neon); ``made`` is the status field (camelCase) that holds the object's id."""
    fresh = await ctx.kube.read_object(report.ref)
    if fresh is None:
        raise errors.Raced(
            "ResourceGone", f"{report.ref.kind} {report.ref.name} is gone", delay=RACED_DELAY
        )
    body: dict[str, Any] = fresh.get("status") or {}
    status = type(report.status).model_validate(body)
    if body.get(made):
        raise errors.Raced(
            "CreatedMeanwhile",
            f"status.{made} was set meanwhile (this run read a stale copy of the object, or "
            "another operator instance created it); reconciling again",
            delay=RACED_DELAY,
        )
    if status.creation_requested is not None:
        found = await find()
        if found is not None:
            return found
        claimant = status.creation_requested_by
        age = ctx.clock() - status.creation_requested
        if claimant and claimant != ctx.identity and age < CLAIM_TTL:
            wait = (CLAIM_TTL - age).total_seconds()
            message = (
                f"operator instance {claimant} claimed the creation "
                f"{int(age.total_seconds())}s ago and nothing it made shows in Neon yet; "
                "waiting for it rather than creating a twin"
            )
            await report.failed("CreationClaimed", message)
            raise errors.RetryLater(
                "CreationClaimed", message, delay=min(ctx.settings.retry_delay, wait)
            )
    version = fresh["metadata"]["resourceVersion"]
    try:
        await report.write_at(
            version, creation_requested=ctx.clock(), creation_requested_by=ctx.identity
        )
    except kube.Conflict:
        raise errors.Raced(
            "ClaimRaced",
            f"{report.ref.kind} {report.ref.name} changed while claiming its creation; "
            "deciding again",
            delay=RACED_DELAY,
        ) from None
    return None


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


async def created_id(
    known: str | None, status: CreatedStatus, find: Callable[[], Awaitable[_HasId | None]]
) -> str | None:
    """The id of the Neon object a resource made: ``known`` (its status), else, when it claimed
    a creation, what ``find`` sees in Neon; ``None``: nothing was made."""
    if known is not None:
        return known
    if status.creation_requested is None:
        return None
    found = await find()
    return found.id if found is not None else None
