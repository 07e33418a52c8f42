"""The fence every write of the operator passes: open only while this process surely leads.

A process may change anything (a Kubernetes object, a Neon project) only while it holds the
leadership Lease (see :mod:`neon_operator.leadership`). Holding it is a matter of time: the
fence is open until a monotonic deadline that each successful renewal pushes forward, so a
process that was frozen (SIGSTOP, a long GC pause, a partitioned node) finds its fence closed
the moment it runs again, before its next request leaves, without having to learn anything
from the apiserver first.

The Kubernetes client (:class:`neon_operator.kube.KubeClient`), the Neon client (every request
but ``GET``) and kopf's own HTTP session call :meth:`Fence.check` right before they send; a
closed fence raises :class:`NotLeader` instead.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

__all__ = ["Fence", "NotLeader"]


class NotLeader(Exception):
    """This process does not hold (or can no longer prove that it holds) the leadership Lease,
    so it must not write."""

    def __init__(self, what: str) -> None:
        super().__init__(f"not the leader (any more): {what} refused")
        self.what = what


class Fence:
    """Whether this process may write now: until a deadline on its monotonic clock."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_refused: Callable[[str], None] | None = None,
    ) -> None:
        self._clock = clock
        self._until = -math.inf
        self._on_refused = on_refused
        self.refused = 0
        """Writes refused so far (a stale instance's attempts: they never left the process)."""

    @classmethod
    def unfenced(cls) -> Fence:
        """A fence that is always open: a process that does not take part in an election."""
        fence = cls()
        fence._until = math.inf
        return fence

    def open_until(self, deadline: float) -> None:
        """Allow writes until ``deadline`` (on the fence's clock)."""
        self._until = deadline

    def close(self) -> None:
        """Refuse every write from now on."""
        self._until = -math.inf

    def is_open(self) -> bool:
        return self._clock() < self._until

    def check(self, what: str) -> None:
        """Pass if writes are allowed now; :class:`NotLeader` naming ``what`` otherwise."""
        if not self.is_open():
            self.refused += 1
            if self._on_refused is not None:
                self._on_refused(what)
            raise NotLeader(what)
