"""One authenticated channel to the Neon API: rate limit, send, retry, count, map errors.

:class:`Session` is what every typed method of :class:`~neon_operator.neon.client.NeonClient`
goes through. It knows routes only as templates (``/projects/{project_id}``) plus their
parameters, so limiter buckets, call counts and log lines are keyed by the template.

Logging (logger ``neon_operator.neon``): one DEBUG line per request with method, route template,
status, Neon's request id, attempt and duration; a WARNING per retry. Bodies, query strings and
headers are never logged: they carry passwords, connection URIs and the key.

Neon's error messages are kept (they name the field at fault), but not what they quote of the
request: schema validation answers 400 with the refused value, and a value may be a secret the
operator sent (an OAuth client secret, an SMTP password). Every value of a secret-named field of
the request body, and the API key, are cut out of the message before it becomes an exception
that reaches status, Events and logs.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import json as jsonlib
import logging
import random
import re
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, TypeVar

import httpx
import pydantic

from neon_operator.neon import errors, retries
from neon_operator.neon.calls import ApiCall, CallLog
from neon_operator.neon.ratelimit import Priority, RateLimiter, current_priority

__all__ = ["Params", "Session"]

logger = logging.getLogger("neon_operator.neon")

Params = Mapping[str, str | int | float | bool | None]
M = TypeVar("M", bound=pydantic.BaseModel)

REQUEST_ID_HEADER: Final = "X-Request-ID"
RESPONSE_ID_HEADER: Final = "X-Neon-Ret-Request-Id"
REDACTED: Final = "[redacted]"
SECRET_FIELD: Final = re.compile(r"secret|password|passwd|token|api_?key|private", re.IGNORECASE)
"""Request body fields whose values never appear in an error message."""


def secret_values(body: Any) -> set[str]:
    """The string values of secret-named fields anywhere in a request body."""
    found: set[str] = set()
    if isinstance(body, dict):
        for name, value in body.items():
            if isinstance(value, str) and value and SECRET_FIELD.search(str(name)):
                found.add(value)
            else:
                found |= secret_values(value)
    elif isinstance(body, list):
        for item in body:
            found |= secret_values(item)
    return found


def redact(message: str, secrets: set[str]) -> str:
    """``message`` without any of ``secrets``, raw or as JSON quotes them (longest first)."""
    forms = {form for value in secrets for form in (value, jsonlib.dumps(value)[1:-1]) if form}
    for form in sorted(forms, key=len, reverse=True):
        message = message.replace(form, REDACTED)
    return message


def _query(params: Params | None) -> dict[str, str]:
    """Query parameters as strings, booleans in lower case, ``None`` left out."""
    query: dict[str, str] = {}
    for name, value in (params or {}).items():
        if value is None:
            continue
        query[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return query


class Session:
    """Sends requests for one API key through its shared limiter, with retries."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        limiter: RateLimiter,
        retry: retries.RetryPolicy,
        calls: CallLog,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = random.random,
        write_guard: Callable[[str], None] | None = None,
    ) -> None:
        self.http = http
        self.limiter = limiter
        self.retry = retry
        self.calls = calls
        self._sleep = sleep
        self._clock = clock
        self._random = random
        self._write_guard = write_guard

    async def request(
        self,
        method: str,
        route: str,
        path: Mapping[str, str] | None = None,
        *,
        params: Params | None = None,
        json: Any = None,
    ) -> Any:
        """Send ``method route`` (``route`` formatted with ``path``) and return the JSON body.

        Returns ``None`` for an empty body (e.g. 204). Raises a :class:`errors.NeonError`
        subclass once retries are exhausted or the failure is not retryable, and whatever the
        write guard raises when it stops a request that may change something.
        """
        url = route.format_map({k: urllib.parse.quote(v, safe="") for k, v in (path or {}).items()})
        headers = {REQUEST_ID_HEADER: str(uuid.uuid4())}
        query = _query(params)
        attempt = 0
        priority = current_priority()
        caller = object()
        try:
            while True:
                attempt += 1
                probe_in = self.limiter.reachability.admit(caller)
                if probe_in is not None:
                    logger.debug("%s %s not sent: Neon is unreachable", method, route)
                    # The prober's words: a status that quotes the error does not change (and
                    # cost a write) with each refusal.
                    raise errors.NetworkError(
                        self.limiter.reachability.cause, method=method, route=route
                    )
                waited = await self.limiter.acquire(f"{method} {route}", priority)
                if self._write_guard is not None and method != "GET":
                    self._write_guard(f"{method} {route}")  # checked per attempt, right before it
                started = self._clock()
                record = functools.partial(
                    self._record, method, route, attempt=attempt, priority=priority, waited=waited
                )
                try:
                    response = await self.http.request(
                        method, url, params=query, json=json, headers=headers
                    )
                except httpx.TransportError as exc:
                    record(None, started, None)
                    failure = errors.NetworkError(
                        f"{type(exc).__name__} talking to Neon", method=method, route=route
                    )
                    reachability = self.limiter.reachability
                    if retries.is_unreachable(exc):
                        reachability.unreachable(
                            caller, f"Neon is unreachable ({type(exc).__name__})"
                        )
                        failure = errors.NetworkError(
                            reachability.cause, method=method, route=route
                        )
                        if reachability.probing(caller):
                            raise failure from exc  # one probe per cool-down, no retries
                    if not retries.is_retryable_transport_error(exc, method):
                        raise failure from exc
                    delay = retries.backoff_delay(self.retry, attempt, rand=self._random)
                    if delay is None:
                        raise failure from exc
                    await self._wait(failure, attempt, delay)
                    continue
                self.limiter.reachability.answered()
                request_id = response.headers.get(RESPONSE_ID_HEADER)
                record(response.status_code, started, request_id)
                if response.status_code < 400:
                    return self._body(response, method, route, request_id)
                error = self._error(response, method, route, request_id, json)
                if error.status == 429:
                    # Everyone on this key slows down, not just this caller.
                    self.limiter.pause(error.retry_after or self.retry.base_delay * 2.0**attempt)
                if not retries.is_retryable_status(response.status_code, method):
                    raise error
                delay = retries.backoff_delay(
                    self.retry, attempt, retry_after=error.retry_after, rand=self._random
                )
                if delay is None:
                    raise error
                await self._wait(error, attempt, delay)
        finally:
            self.limiter.reachability.done(caller)

    async def request_model(
        self,
        model: type[M],
        method: str,
        route: str,
        path: Mapping[str, str] | None = None,
        *,
        params: Params | None = None,
        json: Any = None,
    ) -> M:
        """:meth:`request`, with the body parsed as ``model``."""
        body = await self.request(method, route, path, params=params, json=json)
        return parse(model, body, method=method, route=route)

    def _record(
        self,
        method: str,
        route: str,
        status: int | None,
        started: float,
        request_id: str | None,
        *,
        attempt: int,
        priority: Priority,
        waited: float,
    ) -> None:
        duration = self._clock() - started
        logger.debug(
            "%s %s -> %s in %.3fs (attempt %d, request id %s)",
            method,
            route,
            status if status is not None else "no response",
            duration,
            attempt,
            request_id,
        )
        self.calls.record(
            ApiCall(method, route, status, duration, attempt, request_id, priority, waited)
        )

    async def _wait(self, error: errors.NeonError, attempt: int, delay: float) -> None:
        logger.warning("%s; retrying in %.2fs (attempt %d failed)", error, delay, attempt)
        await self._sleep(delay)

    def _body(self, response: httpx.Response, method: str, route: str, rid: str | None) -> Any:
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise errors.UnexpectedResponse(
                "response body is not JSON",
                status=response.status_code,
                method=method,
                route=route,
                request_id=rid,
            ) from None

    def _error(
        self, response: httpx.Response, method: str, route: str, rid: str | None, sent: Any
    ) -> errors.NeonError:
        message = response.reason_phrase or "error"
        code: str | None = None
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            if isinstance(body.get("message"), str) and body["message"]:
                message = body["message"]
            if isinstance(body.get("code"), str):
                code = body["code"]
            if rid is None and isinstance(body.get("request_id"), str):
                rid = body["request_id"]
        retry_after = retries.parse_retry_after(
            response.headers.get("Retry-After"), now=datetime.datetime.now(datetime.UTC)
        )
        key = self.http.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return errors.error_for_status(
            response.status_code,
            redact(message, secret_values(sent) | ({key} if key else set())),
            method=method,
            route=route,
            request_id=rid,
            code=code,
            retry_after=retry_after,
        )


def parse(model: type[M], body: Any, *, method: str, route: str) -> M:
    """Validate ``body`` as ``model``; a mismatch raises :class:`errors.UnexpectedResponse`
    naming the fields, never their values (they may be passwords)."""
    try:
        return model.model_validate(body)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or '<body>'}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)[:5]
        )
        raise errors.UnexpectedResponse(
            f"response does not match {model.__name__}: {problems}", method=method, route=route
        ) from None
