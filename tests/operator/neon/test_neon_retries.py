"""Retry rules and backoff arithmetic (pure functions)."""

from __future__ import annotations

import datetime

import httpx
import pytest

from neon_operator.neon import retries
from neon_operator.neon.retries import RetryPolicy, backoff_delay, parse_retry_after

pytestmark = pytest.mark.unit

NOW = datetime.datetime(2025, 1, 16, 21, 2, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("3", 3.0),
        (" 2 ", 2.0),
        ("0.5", 0.5),
        ("-4", 0.0),
        ("Thu, 16 Jan 2025 21:02:07 GMT", 7.0),
        ("Thu, 16 Jan 2025 21:01:00 GMT", 0.0),
        (None, None),
        ("soon", None),
        ("", None),
        ("nan", None),
    ],
)
def test_retry_after_reads_delta_seconds_and_http_dates(
    header: str | None, seconds: float | None
) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


@pytest.mark.parametrize(
    ("status", "method", "retryable"),
    [
        (423, "POST", True),
        (429, "PATCH", True),
        (503, "DELETE", True),
        (500, "GET", True),
        (502, "GET", True),
        (500, "POST", False),
        (504, "PATCH", False),
        (400, "GET", False),
        (404, "GET", False),
        (409, "POST", False),
    ],
)
def test_only_unapplied_or_idempotent_requests_are_retried(
    status: int, method: str, retryable: bool
) -> None:
    assert retries.is_retryable_status(status, method) is retryable


def test_a_request_that_never_left_may_be_resent_whatever_its_method() -> None:
    request = httpx.Request("POST", "http://neon/projects")
    assert retries.is_retryable_transport_error(httpx.ConnectError("x", request=request), "POST")
    assert not retries.is_retryable_transport_error(httpx.ReadTimeout("x", request=request), "POST")
    assert retries.is_retryable_transport_error(httpx.ReadTimeout("x", request=request), "GET")


def test_only_a_failed_connection_says_neon_is_unreachable() -> None:
    request = httpx.Request("GET", "http://neon/projects")
    assert retries.is_unreachable(httpx.ConnectError("refused", request=request))
    assert retries.is_unreachable(httpx.ConnectTimeout("x", request=request))
    assert not retries.is_unreachable(httpx.PoolTimeout("our own pool is full", request=request))
    assert not retries.is_unreachable(httpx.ReadTimeout("x", request=request))


def test_backoff_ceiling_doubles_per_attempt_up_to_max_delay() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay=0.5, max_delay=3.0)
    ceilings = [backoff_delay(policy, n, rand=lambda: 1.0) for n in range(1, 7)]
    assert ceilings == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


def test_backoff_is_full_jitter_between_zero_and_the_ceiling() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay=0.5, max_delay=10.0)
    assert backoff_delay(policy, 3, rand=lambda: 0.0) == 0.0
    assert backoff_delay(policy, 3, rand=lambda: 0.25) == 0.5


def test_no_retry_once_attempts_are_used_up() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert backoff_delay(policy, 2) is not None
    assert backoff_delay(policy, 3) is None
    assert backoff_delay(RetryPolicy(max_attempts=1), 1) is None


def test_retry_after_is_never_undercut() -> None:
    policy = RetryPolicy(max_attempts=5, base_delay=0.5, max_delay=10.0)
    assert backoff_delay(policy, 1, retry_after=2.0, rand=lambda: 0.0) == 2.0
    delay = backoff_delay(policy, 4, retry_after=2.0, rand=lambda: 1.0)
    assert delay is not None
    assert 2.0 <= delay <= 2.5


def test_retry_after_beyond_max_delay_gives_up_instead_of_holding_a_worker() -> None:
    policy = RetryPolicy(max_attempts=5, max_delay=10.0)
    assert backoff_delay(policy, 1, retry_after=30.0) is None


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
