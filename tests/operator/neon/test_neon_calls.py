"""The call log: what metrics will count, per method and route template."""

from __future__ import annotations

import pytest

from neon_operator.neon import ApiCall, CallLog

pytestmark = pytest.mark.unit


def call(method: str, route: str, status: int | None = 200, attempt: int = 1) -> ApiCall:
    return ApiCall(method, route, status, duration=0.01, attempt=attempt)


def test_counts_by_method_and_route_template() -> None:
    log = CallLog()
    log.record(call("GET", "/projects/{project_id}"))
    log.record(call("GET", "/projects/{project_id}", status=423, attempt=1))
    log.record(call("POST", "/projects", status=None))
    assert log.total == 3
    assert log.count("GET") == 2
    assert log.count(route="/projects") == 1
    assert log.count("POST", "/projects/{project_id}") == 0
    assert log.statuses == {200: 1, 423: 1, None: 1}


def test_observers_see_every_call_until_they_unsubscribe() -> None:
    log = CallLog()
    seen: list[ApiCall] = []
    unsubscribe = log.subscribe(seen.append)
    log.record(call("GET", "/projects"))
    unsubscribe()
    log.record(call("GET", "/projects"))
    assert [c.route for c in seen] == ["/projects"]
    log.reset()
    assert log.total == 0
