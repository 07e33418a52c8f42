"""Room for project creates: in the operator (creates in flight) and in an organization (its
project limit). One :class:`Capacity` per API key (:class:`~neon_operator.accounts.Account`).

**Creates in flight.** A GitOps sync can apply thousands of NeonAppDatabases at once. The rate
limiter spaces their requests, but without a bound every create would be under way at once:
thousands of requests queued in the limiter and in the HTTP connection pool, where they time
out when Neon answers slowly, and each timed-out create then pays a recovery (look the project
up again, poll again). :meth:`Capacity.creating` lets :func:`in_flight_for` creates run at once,
sized from the key's budget: a create costs about two requests (the create, one operations
poll), so the budget serves ``per_minute / 120`` creates a second; ``per_minute / 15`` in flight
keeps it busy while each create takes up to 8 s (the limiter's queue, Neon's operations, the
status and Secret writes on a loaded apiserver), and no more is queued than the budget serves in
about four seconds. (``per_minute / 30`` measured 1.25x the budget's bound at 1,000 apps on a
loaded machine: the cap, not the budget, set the pace; ``bench/results/scale.md``.)

**A full organization.** Neon answers a create in an organization at its project limit with
422 (:class:`neon.OrganizationFull`). Room appears when a project leaves (deleted, moved to
another tier) or someone raises the limit. Retrying every waiting resource on its own would be a
storm of doomed creates (and, after the claim, a project lookup each), so the waiting is per
organization:

* the 422 marks the organization full; while it is full, creates for it are refused here without
  asking Neon (``Ready=False``, reason ``OrganizationFull``) and the resource looks again after
  the caller's ``recheck`` delay (an in-memory check, no Neon request);
* one create per organization probes Neon after a backoff that starts at :data:`PROBE_BACKOFF`
  seconds and doubles up to :data:`PROBE_BACKOFF_CAP` (a limit raised by hand is noticed within
  that); a probe that succeeds ends the waiting for everyone;
* :meth:`Capacity.room` (this operator deleted a project of the organization or moved one out)
  admits one create at once per project that left, so a waiter takes the free place at its next
  look, without waiting for the probe.

The state is in memory: a restart forgets it and each waiter tries once more (one 422 each),
then waits again.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from typing import Final

from neon_operator import errors, neon

__all__ = [
    "PROBE_BACKOFF",
    "PROBE_BACKOFF_CAP",
    "REASON",
    "Capacity",
    "in_flight_for",
]

REASON: Final = "OrganizationFull"
"""The condition reason of a resource waiting for room in its tier's organization."""
PROBE_BACKOFF: Final = 30.0
"""Seconds after a 422 before one waiting create asks Neon again."""
PROBE_BACKOFF_CAP: Final = 300.0
"""The longest wait between two probes of a full organization."""
MIN_IN_FLIGHT: Final = 4
MAX_IN_FLIGHT: Final = 64


def in_flight_for(limits: neon.RateLimits) -> int:
    """How many creates run at once for a key with ``limits`` (see the module docstring)."""
    if limits.per_minute <= 0:
        return MAX_IN_FLIGHT
    return max(MIN_IN_FLIGHT, min(MAX_IN_FLIGHT, limits.per_minute // 15))


@dataclasses.dataclass
class _Full:
    said: str
    """Neon's words in the 422."""
    backoff: float
    probe_at: float
    credits: int = 0
    """Projects that left the organization since: creates admitted at once."""


class Capacity:
    """Creates in flight and full organizations of one API key."""

    def __init__(self, in_flight: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.in_flight = in_flight
        self._slots = asyncio.Semaphore(in_flight)
        self.clock = clock
        """Monotonic seconds (tests move it)."""
        self._full: dict[str, _Full] = {}

    def full(self, org_id: str) -> bool:
        """Whether ``org_id`` is known to be at its project limit."""
        return org_id in self._full

    @contextlib.asynccontextmanager
    async def creating(self, org_id: str, *, where: str, recheck: float) -> AsyncIterator[None]:
        """Hold a place for one project create in ``org_id`` for the block.

        Raises :class:`errors.RetryLater` (reason :data:`REASON`, delay ``recheck``) instead of
        running the block while the organization is full, and turns the block's
        :class:`neon.OrganizationFull` into the same. ``where`` names the organization for
        people (its tier and NeonConfig).
        """
        probing = self._admit(org_id, where, recheck)
        async with self._slots:
            try:
                yield
            except neon.OrganizationFull as error:
                self._filled(org_id, error.message)
                raise self._waiting(org_id, where, recheck) from None
        if probing:
            self._full.pop(org_id, None)  # the probe found room: nobody waits any more

    def room(self, org_id: str) -> None:
        """A project left ``org_id``: admit one waiting create at once."""
        state = self._full.get(org_id)
        if state is not None:
            state.credits += 1

    def _admit(self, org_id: str, where: str, recheck: float) -> bool:
        """Let a create go (``True`` when it probes a full organization) or raise."""
        state = self._full.get(org_id)
        if state is None:
            return False
        if state.credits > 0:
            state.credits -= 1
            return False
        now = self.clock()
        if now < state.probe_at:
            raise self._waiting(org_id, where, recheck)
        state.probe_at = now + state.backoff  # one probe per backoff, whoever comes first
        return True

    def _filled(self, org_id: str, said: str) -> None:
        state = self._full.get(org_id)
        if state is None:
            self._full[org_id] = _Full(said, PROBE_BACKOFF, self.clock() + PROBE_BACKOFF)
            return
        state.said = said
        state.backoff = min(PROBE_BACKOFF_CAP, state.backoff * 2)
        state.probe_at = self.clock() + state.backoff

    def _waiting(self, org_id: str, where: str, recheck: float) -> errors.RetryLater:
        said = self._full[org_id].said
        message = (
            f"organization {org_id} ({where}) is at its project limit (Neon: {said}); "
            "waiting for room, trying again when a project of this tier is deleted or moved "
            f"out and at least every {PROBE_BACKOFF_CAP:g}s. To go on: raise the "
            "organization's project limit, delete projects in it, or move this app to "
            "another tier (spec.tier)"
        )
        return errors.RetryLater(REASON, message, delay=recheck)
