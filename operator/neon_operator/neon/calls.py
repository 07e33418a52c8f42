"""A record of every HTTP request the client sends: Neon's API budget, made countable.

Each attempt counts (a retried call costs Neon twice). Counts are keyed by method and route
template (``GET /projects/{project_id}``), never by concrete ids, so the key space stays small
enough for metrics labels. Observers (e.g. the operator's Prometheus metrics) subscribe with
:meth:`CallLog.subscribe`.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable

from neon_operator.neon.ratelimit import Priority

__all__ = ["ApiCall", "CallLog"]


@dataclasses.dataclass(frozen=True)
class ApiCall:
    """One HTTP request to Neon and what came of it."""

    method: str
    route: str
    """The path template, e.g. ``/projects/{project_id}/branches``."""
    status: int | None
    """HTTP status; ``None`` when the request failed below HTTP."""
    duration: float
    """Seconds from sending to the response headers (limiter waits excluded)."""
    attempt: int
    """1 for the first try of a call, 2 for its first retry, …"""
    request_id: str | None = None
    priority: Priority = Priority.WORK
    """Whose request it was (see :class:`~neon_operator.neon.ratelimit.Priority`)."""
    waited: float = 0.0
    """Seconds the request waited for the rate limiter before it was sent."""


class CallLog:
    """Counts :class:`ApiCall` per (method, route) and tells observers about each one."""

    def __init__(self) -> None:
        self.counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self.statuses: collections.Counter[int | None] = collections.Counter()
        self._observers: list[Callable[[ApiCall], None]] = []

    def __repr__(self) -> str:
        return f"CallLog(total={self.total})"

    @property
    def total(self) -> int:
        """Requests sent so far."""
        return sum(self.counts.values())

    def count(self, method: str | None = None, route: str | None = None) -> int:
        """Requests matching ``method`` and/or ``route`` (``None`` matches any)."""
        return sum(
            n
            for (m, r), n in self.counts.items()
            if (method is None or m == method) and (route is None or r == route)
        )

    def subscribe(self, observer: Callable[[ApiCall], None]) -> Callable[[], None]:
        """Call ``observer`` after every request; returns a function that unsubscribes."""
        self._observers.append(observer)
        return lambda: self._observers.remove(observer)

    def record(self, call: ApiCall) -> None:
        """Count ``call`` and notify observers."""
        self.counts[(call.method, call.route)] += 1
        self.statuses[call.status] += 1
        for observer in list(self._observers):
            observer(call)

    def reset(self) -> None:
        """Forget the counts (observers stay)."""
        self.counts.clear()
        self.statuses.clear()
