"""While Neon cannot be reached, one caller probes it and the others do not send at all.

Without this, every reconcile in flight during a Neon outage runs its own retry loop, so the
connection attempts grow with the number of resources (each of them several a minute, for as
long as the outage lasts). :class:`Reachability`, shared by every client of one limiter (one API
key on one base URL), turns that into one probe at a time:

* a request that cannot connect to Neon (connection refused, connect timeout: nothing was
  sent; a full local connection pool is not Neon's fault and does not count) marks Neon
  unreachable; its caller becomes the *prober* and goes on retrying with its
  usual backoff;
* meanwhile every other request is refused before it is sent (:meth:`admit` returns the seconds
  until the next probe is due; the session raises a :class:`~.errors.NetworkError` that says
  so), and its reconcile is retried later like any transient failure;
* when the prober gives up, the next request after a cool-down (doubling from
  ``base_cooldown`` up to ``max_cooldown``) is the next probe: it is sent once, without
  retries of its own (:meth:`probing`), so a long outage costs one attempt per cool-down;
* any answer from Neon, whatever its status, marks it reachable again and lets everyone through.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Reachability"]


class Reachability:
    """Whether Neon answered lately; while it does not, who may probe it."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        base_cooldown: float = 1.0,
        max_cooldown: float = 30.0,
    ) -> None:
        self._clock = clock
        self.base_cooldown = base_cooldown
        self.max_cooldown = max_cooldown
        self._unreachable = False
        self._prober: object | None = None
        self._probe = False
        """Whether the prober was let through as a probe (after a cool-down), rather than
        being the caller that found Neon unreachable."""
        self._failures = 0
        self._next_probe = 0.0
        self.cause = "Neon is unreachable"
        """Why the last probe failed, in words that carry no secret."""

    @property
    def reachable(self) -> bool:
        return not self._unreachable

    def admit(self, caller: object) -> float | None:
        """``None`` if ``caller`` may send now; else the seconds until a probe is due."""
        if not self._unreachable or self._prober is caller:
            return None
        now = self._clock()
        if self._prober is None and now >= self._next_probe:
            self._prober, self._probe = caller, True
            return None
        return max(self._next_probe - now, 0.0)

    def unreachable(self, caller: object, cause: str) -> None:
        """``caller``'s request could not be sent (``cause`` says why, and is what refused
        callers are told too): Neon is unreachable, ``caller`` probes."""
        self.cause = cause
        if not self._unreachable:
            self._unreachable, self._failures = True, 0
        if self._prober is None:
            self._prober, self._probe = caller, False

    def probing(self, caller: object) -> bool:
        """Whether ``caller`` is a probe sent after a cool-down (it does not retry)."""
        return self._unreachable and self._prober is caller and self._probe

    def answered(self) -> None:
        """Neon answered a request: everyone may send again."""
        self._unreachable, self._prober, self._failures = False, None, 0

    def done(self, caller: object) -> None:
        """``caller``'s request is over (answered or given up); if it was the prober and Neon
        is still unreachable, the next probe waits a cool-down that doubles each time."""
        if self._prober is not caller:
            return
        self._prober = None
        if self._unreachable:
            cooldown = min(self.max_cooldown, self.base_cooldown * 2.0**self._failures)
            self._failures += 1
            self._next_probe = self._clock() + cooldown
