"""When to retry a failed call, and how long to wait first.

The rules follow Neon's contract (``components.responses.GeneralError``): **423 and 503 are
always safe to retry** (the request was not applied), 429 asks us to slow down, and other 5xx
answers or broken connections are retried only where repeating the request cannot do anything
twice: idempotent methods, or a request that never left (connect failure).

Waits use full-jitter exponential backoff (``random() * min(max_delay, base * 2^n)``) so that many
reconcilers hitting the same lock do not retry in lockstep. A ``Retry-After`` header wins over
the backoff (we never wait less than asked, plus a little jitter); when it asks for more than
``max_delay`` the call gives up at once and the error carries ``retry_after``, so the reconciler
can come back later instead of holding a worker.
"""

from __future__ import annotations

import dataclasses
import datetime
import email.utils
import random
from collections.abc import Callable

import httpx

__all__ = [
    "ALWAYS_RETRYABLE_STATUSES",
    "IDEMPOTENT_METHODS",
    "RetryPolicy",
    "backoff_delay",
    "is_retryable_status",
    "is_retryable_transport_error",
    "is_unreachable",
    "parse_retry_after",
]

ALWAYS_RETRYABLE_STATUSES = frozenset({423, 429, 503})
"""Statuses after which the request is known not to have been applied."""
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods Neon declares idempotent (PUT, PATCH, DELETE and POST are not)."""

_UNSENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
"""Transport failures that happen before any byte of the request reaches the server."""


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How persistent one API call is."""

    max_attempts: int = 6
    """Attempts in total, the first included; 1 disables retries."""

    base_delay: float = 0.5
    """Backoff scale in seconds: attempt ``n`` (from 1) waits up to ``base * 2^(n-1)``."""

    max_delay: float = 10.0
    """Cap of one wait; a ``Retry-After`` above it ends the retries."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("max_attempts must be ≥ 1 and delays ≥ 0")


def is_retryable_status(status: int, method: str) -> bool:
    """Whether a response with ``status`` to ``method`` may be sent again unchanged."""
    if status in ALWAYS_RETRYABLE_STATUSES:
        return True
    return status >= 500 and method.upper() in IDEMPOTENT_METHODS


def is_retryable_transport_error(error: httpx.TransportError, method: str) -> bool:
    """Whether a request that failed with ``error`` may be sent again unchanged."""
    return isinstance(error, _UNSENT_ERRORS) or method.upper() in IDEMPOTENT_METHODS


def is_unreachable(error: httpx.TransportError) -> bool:
    """Whether ``error`` says the server could not be reached at all (refused, or no
    connection within the timeout); a full local connection pool does not count."""
    return isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout))


def parse_retry_after(value: str | None, *, now: datetime.datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date).

    Returns ``None`` when the header is absent or unreadable (the caller falls back to
    backoff), and ``0.0`` for a date in the past.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds and seconds != float("inf") else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - now).total_seconds())


def backoff_delay(
    policy: RetryPolicy,
    attempt: int,
    *,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float | None:
    """How long to wait after failed attempt number ``attempt`` (from 1).

    ``None`` means "do not retry": the attempts are used up, or ``retry_after`` exceeds
    ``policy.max_delay``.
    """
    if attempt >= policy.max_attempts:
        return None
    ceiling = min(policy.max_delay, policy.base_delay * 2.0 ** (attempt - 1))
    if retry_after is None:
        return rand() * ceiling
    if retry_after > policy.max_delay:
        return None
    return retry_after + rand() * min(ceiling, policy.base_delay)
