"""The error tree: which HTTP status becomes which kind of failure, and what a message says."""

from __future__ import annotations

import pytest

from neon_operator.neon import errors
from neon_operator.neon.models import Operation

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("status", "kind", "family"),
    [
        (400, errors.InvalidRequestError, errors.InvalidRequestError),
        (401, errors.AuthenticationError, errors.PermanentError),
        (403, errors.ForbiddenError, errors.PermanentError),
        (404, errors.NotFound, errors.PermanentError),
        (406, errors.InvalidRequestError, errors.InvalidRequestError),
        (409, errors.Conflict, errors.PermanentError),
        (412, errors.ForbiddenError, errors.PermanentError),
        (418, errors.PermanentError, errors.PermanentError),
        (422, errors.InvalidRequestError, errors.InvalidRequestError),
        (423, errors.LockedError, errors.TransientError),
        (429, errors.RateLimitedError, errors.TransientError),
        (500, errors.ServerError, errors.TransientError),
        (503, errors.ServerError, errors.TransientError),
        (524, errors.ServerError, errors.TransientError),
    ],
)
def test_each_status_maps_to_one_kind_of_failure(
    status: int, kind: type[errors.NeonError], family: type[errors.NeonError]
) -> None:
    error = errors.error_for_status(status, "boom", method="GET", route="/projects")
    assert type(error) is kind
    assert isinstance(error, family)
    assert error.status == status


def test_the_three_families_are_disjoint() -> None:
    families = (errors.TransientError, errors.PermanentError, errors.InvalidRequestError)
    for family in families:
        others = tuple(f for f in families if f is not family)
        assert not issubclass(family, others)


def test_branch_not_ready_yet_is_transient_although_422() -> None:
    error = errors.error_for_status(
        422, "branch not ready yet", method="POST", route="/projects/{project_id}/endpoints"
    )
    assert isinstance(error, errors.TransientError)


def test_message_names_call_status_neon_message_and_request_id() -> None:
    error = errors.error_for_status(
        400,
        "invalid request: pg_version must be between 14 and 18",
        method="POST",
        route="/projects",
        request_id="req-1",
        retry_after=None,
    )
    assert str(error) == (
        "POST /projects: HTTP 400: invalid request: pg_version must be between 14 and 18"
        " (request id req-1)"
    )
    assert error.message == "invalid request: pg_version must be between 14 and 18"


def test_transient_error_carries_retry_after() -> None:
    error = errors.error_for_status(429, "slow down", method="GET", route="/x", retry_after=3.0)
    assert error.retry_after == 3.0


def test_operation_failure_says_which_operation_and_why() -> None:
    op = Operation(
        id="op-1", project_id="p", action="start_compute", status="failed", error="no capacity"
    )
    error = errors.OperationFailed(op)
    assert isinstance(error, errors.PermanentError)
    assert error.operation is op
    assert "start_compute op-1 failed: no capacity" in str(error)
