"""What no real server can be made to do, through ``httpx.MockTransport``.

The emulator covers the HTTP behaviour of Neon (see ``test_neon_client.py``); these tests cover
the rest: connections that fail below HTTP, a malformed ``Retry-After``, an operation that ends
``failed``, and responses that break the contract. Sleeps are faked, so nothing here waits.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from neon_operator.neon import (
    AuthenticationError,
    CallLog,
    LimiterRegistry,
    NeonClient,
    NetworkError,
    Operation,
    OperationFailed,
    OperationTimeout,
    RateLimiter,
    RetryPolicy,
    Role,
    ServerError,
    UnexpectedResponse,
    operations,
    session,
)

pytestmark = pytest.mark.unit

API_KEY = "napi_mocktransportsecretkey0123456789"
Handler = Callable[[httpx.Request], httpx.Response]


class Sleeps:
    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


def make_client(handler: Handler, sleeps: Sleeps, **kw: Any) -> NeonClient:
    return NeonClient(
        API_KEY,
        base_url="http://neon.invalid/api/v2",
        transport=httpx.MockTransport(handler),
        limiters=LimiterRegistry(sleep=sleeps),
        sleep=sleeps,
        calls=CallLog(),
        **kw,
    )


def project_body() -> dict[str, Any]:
    return {
        "project": {
            "id": "cold-bonus-61650555",
            "name": "app",
            "region_id": "aws-us-east-2",
            "pg_version": 17,
            "proxy_host": "us-east-2.aws.neon.tech",
        }
    }


def op(status: str, error: str | None = None) -> dict[str, Any]:
    return {
        "id": "7fda088f-8f28-41c2-9700-085b6d8e5378",
        "project_id": "cold-bonus-61650555",
        "action": "start_compute",
        "status": status,
        "error": error,
        "failures_count": 0,
    }


async def test_connect_failures_are_retried_even_for_a_create() -> None:
    attempts = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        if len(attempts) < 3:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, json=project_body())

    sleeps = Sleeps()
    async with make_client(handler, sleeps) as client:
        project = await client.get_project("cold-bonus-61650555")
    assert project.name == "app"
    assert len(attempts) == 3
    assert client.calls.count("GET", "/projects/{project_id}") == 3
    assert len(sleeps.seconds) == 2


async def test_a_create_whose_response_was_lost_is_not_resent() -> None:
    attempts = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        raise httpx.ReadTimeout("timed out", request=request)

    async with make_client(handler, Sleeps()) as client:
        with pytest.raises(NetworkError, match="ReadTimeout") as caught:
            await client.delete_project("cold-bonus-61650555")
    assert len(attempts) == 1
    assert caught.value.route == "/projects/{project_id}"


async def test_network_failures_give_up_after_the_policy_attempts() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    sleeps = Sleeps()
    client = make_client(handler, sleeps, retry=RetryPolicy(max_attempts=4))
    async with client:
        with pytest.raises(NetworkError):
            await client.get_project("p")
    assert client.calls.total == 4
    assert client.calls.statuses[None] == 4


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_while_neon_is_unreachable_one_caller_probes_and_the_others_send_nothing() -> None:
    sent: list[str] = []
    down = True

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        if down:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, json=project_body())

    clock, sleeps = Clock(), Sleeps()
    client = NeonClient(
        API_KEY,
        base_url="http://neon.invalid/api/v2",
        transport=httpx.MockTransport(handler),
        limiters=LimiterRegistry(clock=clock, sleep=sleeps),
        sleep=sleeps,
        calls=CallLog(),
        retry=RetryPolicy(max_attempts=3),
    )
    async with client:
        # The caller that finds Neon down retries as usual.
        with pytest.raises(NetworkError, match=r"Neon is unreachable \(ConnectError\)"):
            await client.get_project("p")
        assert len(sent) == 3
        # The others are refused without sending, in the same words, until the cool-down
        # has passed ...
        for _ in range(10):
            with pytest.raises(NetworkError, match=r"Neon is unreachable \(ConnectError\)"):
                await client.get_project("p")
        assert len(sent) == 3
        # ... then one probe goes, once, without retries, and the next cool-down is longer.
        clock.now += 1.0
        with pytest.raises(NetworkError, match=r"Neon is unreachable \(ConnectError\)"):
            await client.get_project("p")
        assert len(sent) == 4
        clock.now += 1.0
        with pytest.raises(NetworkError, match="unreachable"):
            await client.get_project("p")
        assert len(sent) == 4
        # Once a probe is answered, everyone sends again.
        clock.now += 1.0
        down = False
        assert (await client.get_project("p")).name == "app"
        assert (await client.get_project("p")).name == "app"
    assert len(sent) == 6
    assert client.calls.total == 6  # refusals are not requests: the metrics count only sent ones


async def test_a_malformed_retry_after_falls_back_to_backoff() -> None:
    responses = iter(
        [
            httpx.Response(503, headers={"Retry-After": "whenever"}, json={"message": "busy"}),
            httpx.Response(200, json=project_body()),
        ]
    )
    sleeps = Sleeps()
    policy = RetryPolicy(base_delay=0.5, max_delay=10.0)
    async with make_client(lambda _: next(responses), sleeps, retry=policy) as client:
        await client.get_project("cold-bonus-61650555")
    assert len(sleeps.seconds) == 1
    assert 0.0 <= sleeps.seconds[0] <= 0.5


async def test_a_non_json_proxy_error_is_a_server_error_with_its_reason() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(524, text="<html>A timeout occurred</html>")

    async with make_client(handler, Sleeps()) as client:
        with pytest.raises(ServerError, match="HTTP 524"):
            await client.create_branch("cold-bonus-61650555")
    assert client.calls.total == 1  # a POST after an unknown 5xx is not resent


async def test_a_refusal_quoting_the_api_key_does_not_pass_it_on() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        quoted = request.headers["Authorization"]
        return httpx.Response(401, json={"message": f"no such key: {quoted!r}", "code": ""})

    async with make_client(handler, Sleeps()) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.get_project("cold-bonus-61650555")
    assert "no such key: 'Bearer [redacted]'" in str(caught.value)
    assert API_KEY not in str(caught.value)


async def test_an_operation_that_fails_ends_the_wait_with_neons_error() -> None:
    polls = iter([op("running"), op("failed", error="compute start timed out")])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"operation": next(polls)})

    sleeps = Sleeps()
    async with make_client(handler, sleeps) as client:
        with pytest.raises(OperationFailed, match="compute start timed out") as caught:
            await client.wait_for_operations([Operation.model_validate(op("scheduling"))])
    assert caught.value.operation.status == "failed"
    assert client.calls.count("GET", "/projects/{project_id}/operations/{operation_id}") == 2


async def test_an_operation_already_failed_in_the_response_costs_no_poll() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    async with make_client(handler, Sleeps()) as client:
        with pytest.raises(OperationFailed):
            await client.wait_for_operations([Operation.model_validate(op("error"))])


async def test_operations_still_running_at_the_deadline_time_out_transiently() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"operation": op("running")})

    class Clock:
        now = 0.0

    clock = Clock()

    async def sleep(seconds: float) -> None:
        clock.now += seconds

    http = httpx.AsyncClient(
        base_url="http://neon.invalid/api/v2", transport=httpx.MockTransport(handler)
    )
    neon_session = session.Session(
        http, limiter=RateLimiter(), retry=RetryPolicy(), calls=CallLog(), sleep=sleep
    )
    async with http:
        with pytest.raises(OperationTimeout) as caught:
            await operations.wait_for_operations(
                neon_session,
                [Operation.model_validate(op("running"))],
                timeout=10.0,
                sleep=sleep,
                clock=lambda: clock.now,
            )
    assert [o.status for o in caught.value.pending] == ["running"]


async def test_a_success_body_that_breaks_the_contract_never_echoes_its_values(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = {"project": {"id": "p", "name": "app"}, "roles": [{"password": "npg_leakme123"}]}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, json=body)

    caplog.set_level(logging.DEBUG, logger="neon_operator.neon")
    async with make_client(handler, Sleeps()) as client:
        with pytest.raises(UnexpectedResponse) as caught:
            await client.create_project(_project_create())
    assert "does not match CreatedProject" in str(caught.value)
    assert "npg_leakme123" not in str(caught.value)
    assert "npg_leakme123" not in caplog.text


def test_a_mistyped_secret_field_is_named_but_not_shown() -> None:
    body = {"branch_id": "br-a", "name": "neondb_owner", "password": ["npg_leakme123"]}
    with pytest.raises(UnexpectedResponse, match="password: Input should be a valid string") as e:
        session.parse(Role, body, method="POST", route="/x")
    assert "npg_leakme123" not in str(e.value)


async def test_a_success_body_that_is_not_json_is_unexpected() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>maintenance</html>")

    async with make_client(handler, Sleeps()) as client:
        with pytest.raises(UnexpectedResponse, match="not JSON"):
            await client.get_project("p")


async def test_requests_carry_the_key_wrapper_and_a_request_id() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"uri": "postgresql://u:pw@h/db"})

    async with make_client(handler, Sleeps()) as client:
        uri = await client.connection_uri(
            "p", database_name="neondb", role_name="neondb_owner", pooled=True
        )
    assert uri.get_secret_value() == "postgresql://u:pw@h/db"
    (request,) = seen
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["X-Request-ID"]
    assert request.url.params["pooled"] == "true"
    assert "branch_id" not in request.url.params


async def test_transfer_sends_at_most_400_ids_per_call() -> None:
    batches: list[list[str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        batches.append(json.loads(request.content)["project_ids"])
        return httpx.Response(200, json={})

    ids = [f"project-{i}" for i in range(1001)]
    async with make_client(handler, Sleeps()) as client:
        calls = await client.transfer_projects("org-a", "org-b", [*ids, ids[0]])
    assert calls == 3
    assert [len(b) for b in batches] == [400, 400, 201]
    assert [i for b in batches for i in b] == ids


def _project_create() -> Any:
    from neon_operator.neon import ProjectCreate

    return ProjectCreate(name="app")


async def test_pending_operations_missing_from_the_list_are_fetched_one_by_one() -> None:
    """Several operations of one project are polled with one list call; one that the list
    does not hold (pushed off its first page by other operations, which a test server cannot
    be made to do on cue) is fetched alone."""
    listed = {**op("finished"), "id": "00000000-0000-4000-8000-000000000001"}
    missing = {**op("finished"), "id": "00000000-0000-4000-8000-000000000002"}
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path.endswith("/operations"):
            return httpx.Response(200, json={"operations": [listed]})
        return httpx.Response(200, json={"operation": missing})

    pending = [
        Operation.model_validate({**listed, "status": "running"}),
        Operation.model_validate({**missing, "status": "running"}),
    ]
    async with make_client(handler, Sleeps()) as client:
        done = await client.wait_for_operations(pending)

    assert [o.status for o in done] == ["finished", "finished"]
    assert seen == [
        "/api/v2/projects/cold-bonus-61650555/operations",
        f"/api/v2/projects/cold-bonus-61650555/operations/{missing['id']}",
    ]
