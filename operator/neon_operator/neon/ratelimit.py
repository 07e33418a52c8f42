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
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import math
import time
from collections.abc import Awaitable, Callable

__all__ = ["LimiterRegistry", "RateLimiter", "RateLimits", "shared_limiters"]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


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

    def reserve(self, route: str) -> float:
        """Claim the next slot for ``route``; returns the seconds to wait before sending."""
        now = self._clock()
        buckets = [b for b in (self._global, self._route_bucket(route)) if b is not None]
        at = max([now, self._paused_until, *(b.earliest(now) for b in buckets)])
        for bucket in buckets:
            bucket.take(at)
        return at - now

    async def acquire(self, route: str) -> float:
        """Wait until a request on ``route`` fits the budget; returns the seconds waited.

        A pause that starts while the caller waits voids its reservation: the caller reserves
        again, behind the pause.
        """
        waited = 0.0
        while True:
            generation = self._generation
            delay = self.reserve(route)
            if delay <= 0:
                return waited
            await self._sleep(delay)
            waited += delay
            if generation == self._generation:
                return waited

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
