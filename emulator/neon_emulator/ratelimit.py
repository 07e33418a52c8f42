"""Neon's request budget: 700 requests/minute per API key, bursts of 40/s per route.

Two token buckets guard each request: one per key (refilled at ``per_minute``/60 per second,
holding ``per_minute``) and one per key and route template (holding and refilling
``burst_per_second``). An empty bucket means 429 with ``Retry-After`` in whole seconds -- the time
until a token is back. Limits come from the live :class:`~neon_emulator.settings.RateLimits`, so
the admin API can change them while the server runs.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from neon_emulator import errors
from neon_emulator.settings import RateLimits


@dataclass
class Bucket:
    capacity: float
    rate: float
    tokens: float
    stamp: float

    def take(self, now: float) -> float:
        """Take one token; returns 0, or the seconds until one is available (nothing taken)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class RateLimiter:
    def __init__(self, limits: RateLimits) -> None:
        self._limits = limits
        self._buckets: dict[tuple[str, str], Bucket] = {}

    def _bucket(self, key: tuple[str, str], capacity: float, rate: float, now: float) -> Bucket:
        bucket = self._buckets.get(key)
        if bucket is None or bucket.capacity != capacity or bucket.rate != rate:
            bucket = Bucket(capacity=capacity, rate=rate, tokens=capacity, stamp=now)
            self._buckets[key] = bucket
        return bucket

    def check(self, caller: str, route: str) -> None:
        """Spend one request of ``caller`` on ``route`` or raise 429."""
        now = time.monotonic()
        waits: list[float] = []
        per_minute = self._limits.per_minute
        burst = self._limits.burst_per_second
        if burst > 0:
            waits.append(self._bucket((caller, route), burst, burst, now).take(now))
        if per_minute > 0 and not any(waits):
            waits.append(self._bucket((caller, ""), per_minute, per_minute / 60, now).take(now))
        wait = max(waits, default=0.0)
        if wait > 0:
            raise errors.TooManyRequests(
                "rate limit exceeded, please retry later", retry_after=max(1, math.ceil(wait))
            )
