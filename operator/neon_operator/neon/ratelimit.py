"""Client-side rate limiting: stay inside Neon's budget instead of discovering it through 429s.

Neon allows 700 requests per minute per API key and bursts of 40 per second per route. A
:class:`RateLimiter` enforces both with two kinds of token bucket, written in their "virtual
scheduling" form (GCRA): each bucket remembers the theoretical time its next request is due, so
a caller *reserves* its slot in one synchronous step and then sleeps until it. That makes the
limiter fair (first come, first served), free of locks, and exact under an injected clock.

Bucket sizes are chosen so that no window of the server's length ever sees more than its limit:
``burst + rate * window == limit``. Per key: a burst of up to ``burst_per_second`` requests, then
``(per_minute - burst) / 60`` per second. Per route: half the burst at once, then the other half
spread over the second.

Everyone sharing an API key shares one limiter (:class:`LimiterRegistry`, keyed by a hash of
base URL and key: the key itself is never stored). When Neon answers 429 anyway (other clients
use the same key), :meth:`RateLimiter.pause` stops every caller until ``Retry-After`` has passed;
callers already waiting re-reserve, and traffic resumes at the steady rate without a burst.

Requests have a :class:`Priority`. ``WORK`` (what a person waits for: creates, spec changes,
deletes, Secret repairs) reserves its slot at once, first come first served. ``DRIFT`` (periodic
comparisons with Neon) never reserves ahead: it takes a slot only when the slot is free *now* and
no ``WORK`` request is waiting, so a drift sweep of any size delays new work by at most the one
request already sent. The priority is the caller's context (:func:`prioritized`), so reconcilers
need not pass it down to every call. :attr:`RateLimiter.stats` counts requests, seconds waited
and requests waiting per priority, and how often a request went while one of a higher priority
waited (never, by construction: the count is there so that tests and dashboards can see it).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import enum
import hashlib
import math
import time
from collections.abc import Awaitable, Callable, Iterator

from neon_operator.neon.reachability import Reachability

__all__ = [
    "LimiterRegistry",
    "LimiterStats",
    "Priority",
    "RateLimiter",
    "RateLimits",
    "current_priority",
    "prioritized",
    "shared_limiters",
]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Priority(enum.IntEnum):
    """Who is waiting for a request; a lower value goes first."""

    WORK = 0
    """What a person waits for: creates, spec changes, deletes, repairs."""
    DRIFT = 1
    """Periodic comparisons with Neon: only when no ``WORK`` request is waiting."""


_priority: contextvars.ContextVar[Priority] = contextvars.ContextVar(
    "neon_request_priority", default=Priority.WORK
)


def current_priority() -> Priority:
    """The priority of requests sent from the current context (``WORK`` unless told)."""
    return _priority.get()


@contextlib.contextmanager
def prioritized(priority: Priority) -> Iterator[None]:
    """Send the requests of this block (and of tasks it starts) at ``priority``."""
    token = _priority.set(priority)
    try:
        yield
    finally:
        _priority.reset(token)


@dataclasses.dataclass
class LimiterStats:
    """What one priority's requests have met in one limiter."""

    granted: int = 0
    """Requests let through."""
    waited: float = 0.0
    """Seconds they waited in total."""
    waiting: int = 0
    """Requests waiting now."""
    overtook: int = 0
    """Requests of this priority let through while a request of a higher priority waited
    (always 0, by construction)."""


@dataclasses.dataclass(frozen=True)
class RateLimits:
    """The request budget of one API key (NeonConfig's client rate budget)."""

    per_minute: int = 700
    """Requests per minute across all routes; 0 disables this limit."""

    burst_per_second: int = 40
    """Requests per second on one route (method + path template); 0 disables this limit."""

    def __post_init__(self) -> None:
        if self.per_minute < 0 or self.burst_per_second < 0:
            raise ValueError("rate limits must be ≥ 0 (0 disables a limit)")


class _Bucket:
    """At most ``burst + rate * t`` conforming events in any interval of length ``t``."""

    def __init__(self, *, burst: int, rate: float) -> None:
        self.interval = 1.0 / rate
        # A nanosecond of slack absorbs float rounding in ``due``; it admits nothing extra.
        self.tolerance = (burst - 1) * self.interval + 1e-9
        self.due = -math.inf
        """Theoretical arrival time of the next event if the bucket were drained."""

    def earliest(self, now: float) -> float:
        """When the next event may happen."""
        return max(now, self.due - self.tolerance)

    def take(self, at: float) -> None:
        """Record an event at ``at`` (≥ :meth:`earliest`)."""
        self.due = max(self.due, at) + self.interval

    def drain(self, at: float) -> None:
        """Empty the bucket as of ``at``: the next event may happen at ``at``, not earlier,
        and no burst follows."""
        self.due = at + self.tolerance


def _window_bucket(limit: int, window: float, burst: int) -> _Bucket | None:
    """A bucket that admits at most ``limit`` events in any ``window`` seconds."""
    if limit <= 0:
        return None
    burst = max(1, min(burst, limit - 1)) if limit > 1 else 1
    rate = (limit - burst) / window if limit > burst else limit / window
    return _Bucket(burst=burst, rate=rate)


class RateLimiter:
    """The budget of one API key, shared by every client using that key."""

    def __init__(
        self,
        limits: RateLimits = RateLimits(),
        *,
        name: str = "",
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.name = name
        """A non-secret label (a fingerprint of base URL and key), for logs and metrics."""
        self._clock = clock
        self._sleep = sleep
        self._paused_until = -math.inf
        self._generation = 0
        self._idle: list[asyncio.Future[None]] = []
        """Futures of ``DRIFT`` callers waiting until no ``WORK`` caller waits."""
        self.stats = {priority: LimiterStats() for priority in Priority}
        self.reachability = Reachability(clock=clock)
        """Whether Neon answers these requests; while it does not, who may probe it."""
        self.configure(limits)

    def __repr__(self) -> str:
        return f"RateLimiter(name={self.name!r}, limits={self.limits!r})"

    def configure(self, limits: RateLimits) -> None:
        """Adopt a new budget (e.g. NeonConfig changed); a no-op when it is the same."""
        if getattr(self, "limits", None) == limits:
            return
        self.limits = limits
        self._global = _window_bucket(
            limits.per_minute, 60.0, limits.burst_per_second or limits.per_minute
        )
        self._routes: dict[str, _Bucket | None] = {}

    def _route_bucket(self, route: str) -> _Bucket | None:
        if route not in self._routes:
            burst = self.limits.burst_per_second
            self._routes[route] = _window_bucket(burst, 1.0, burst // 2)
        return self._routes[route]

    def _buckets(self, route: str) -> list[_Bucket]:
        return [b for b in (self._global, self._route_bucket(route)) if b is not None]

    def reserve(self, route: str) -> float:
        """Claim the next slot for ``route``; returns the seconds to wait before sending."""
        now = self._clock()
        buckets = self._buckets(route)
        at = max([now, self._paused_until, *(b.earliest(now) for b in buckets)])
        for bucket in buckets:
            bucket.take(at)
        return at - now

    def free_in(self, route: str) -> float:
        """Seconds until a request on ``route`` could go, without claiming anything."""
        now = self._clock()
        return (
            max([now, self._paused_until, *(b.earliest(now) for b in self._buckets(route))]) - now
        )

    async def acquire(self, route: str, priority: Priority | None = None) -> float:
        """Wait until a request on ``route`` fits the budget; returns the seconds waited.

        ``priority`` defaults to the caller's context (:func:`prioritized`). A ``WORK`` request
        reserves the next slot; a pause that starts while it waits voids its reservation and it
        reserves again, behind the pause. A ``DRIFT`` request waits until no ``WORK`` request
        waits and a slot is free, then takes it.
        """
        priority = current_priority() if priority is None else priority
        stats = self.stats[priority]
        started = self._clock()
        stats.waiting += 1
        try:
            if priority == Priority.WORK:
                await self._reserved(route)
            else:
                await self._when_idle(route)
        finally:
            stats.waiting -= 1
            if priority == Priority.WORK and stats.waiting == 0:
                self._wake_idle()
        waited = self._clock() - started
        stats.granted += 1
        stats.waited += waited
        if any(self.stats[higher].waiting for higher in Priority if higher < priority):
            stats.overtook += 1
        return waited

    async def _reserved(self, route: str) -> None:
        while True:
            generation = self._generation
            delay = self.reserve(route)
            if delay <= 0:
                return
            await self._sleep(delay)
            if generation == self._generation:
                return

    async def _when_idle(self, route: str) -> None:
        while True:
            if self.stats[Priority.WORK].waiting:
                idle = asyncio.get_running_loop().create_future()
                self._idle.append(idle)
                await idle
                continue
            delay = self.free_in(route)
            if delay <= 0:
                self.reserve(route)
                return
            await self._sleep(delay)

    def _wake_idle(self) -> None:
        waiters, self._idle = self._idle, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def pause(self, seconds: float) -> None:
        """Hold every request on this key for ``seconds`` (a 429's ``Retry-After``)."""
        until = self._clock() + max(0.0, seconds)
        if until <= self._paused_until:
            return
        self._paused_until = until
        self._generation += 1
        for bucket in (self._global, *self._routes.values()):
            if bucket is not None:
                bucket.drain(until)

    @property
    def paused_for(self) -> float:
        """Seconds left of the current pause (0 when not paused)."""
        return max(0.0, self._paused_until - self._clock())


def fingerprint(base_url: str, api_key: str) -> str:
    """A short, non-reversible label of (base URL, key); safe to log."""
    digest = hashlib.sha256(f"{base_url.rstrip('/')}\n{api_key}".encode()).hexdigest()
    return digest[:12]


class LimiterRegistry:
    """One :class:`RateLimiter` per (base URL, API key), created on first use."""

    def __init__(self, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._limiters: dict[str, RateLimiter] = {}

    def __len__(self) -> int:
        return len(self._limiters)

    def __iter__(self) -> Iterator[RateLimiter]:
        return iter(list(self._limiters.values()))

    def get(self, base_url: str, api_key: str, limits: RateLimits = RateLimits()) -> RateLimiter:
        """The limiter of this key, reconfigured to ``limits`` if they changed."""
        name = fingerprint(base_url, api_key)
        limiter = self._limiters.get(name)
        if limiter is None:
            limiter = RateLimiter(limits, name=name, clock=self._clock, sleep=self._sleep)
            self._limiters[name] = limiter
        else:
            limiter.configure(limits)
        return limiter


shared_limiters = LimiterRegistry()
"""The process-wide registry :class:`~neon_operator.neon.client.NeonClient` uses by default."""
