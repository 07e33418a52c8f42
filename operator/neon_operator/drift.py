"""A ceiling on what periodic drift checks may spend of a key's Neon request budget.

Comparing a resource with Neon costs two calls (the project, its endpoints), and Neon has no bulk
call that returns every project's computes. At tens of thousands of resources a fixed interval
would overrun the key's budget (30,000 resources every hour = 1,000 calls a minute against
Neon's 700) and starve the work people wait for: creating projects, applying changes.

:class:`DriftBudget` gives drift checks a share of the key's per-minute budget as a token
bucket. A resync that finds the bucket empty checks only the Secret (from Kubernetes, free)
and tries Neon again on its next turn, so with many resources the Neon check of each one simply
comes round less often, and never at the expense of user-driven changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["DriftBudget"]


class DriftBudget:
    """Token bucket refilled at ``per_minute / 60`` tokens a second, holding at most
    ``burst_seconds`` worth of them."""

    def __init__(
        self,
        per_minute: float,
        *,
        burst_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = per_minute / 60.0
        self._capacity = max(self._rate * burst_seconds, 4.0)  # room for one check at least
        self._tokens = self._capacity
        self._clock = clock
        self._updated = clock()

    def try_spend(self, calls: int) -> bool:
        """Take ``calls`` tokens if there are that many; say whether they were taken."""
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        if self._tokens < calls:
            return False
        self._tokens -= calls
        return True
