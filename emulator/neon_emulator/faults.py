"""Injected faults, for exercising clients' retries (knobs in ``Knobs.faults``).

Applied to ``/api/v2`` requests after authentication and rate limiting, before the handler: an
added delay, a chance of 503 (``Retry-After: 1``), and for mutating project requests a chance of
423 Locked with Neon's conflicting-operations message, and for requests with a body a chance of
400 quoting that body, as Neon's schema validation quotes the value it refused (kin-openapi's
``Value:`` section): a client must not pass such a message on where secrets must not go. Nothing
is applied when a fault fires.
"""

from __future__ import annotations

import asyncio
import random

from aiohttp import web

from neon_emulator import errors
from neon_emulator.settings import Faults

MUTATING = frozenset({"POST", "PATCH", "PUT", "DELETE"})


async def inject(faults: Faults, request: web.Request, prefix: str) -> None:
    method, path = request.method, request.path
    if faults.latency_seconds > 0:
        await asyncio.sleep(faults.latency_seconds)
    if faults.error_5xx_probability > 0 and random.random() < faults.error_5xx_probability:
        raise errors.Unavailable("service temporarily unavailable (injected fault)", retry_after=1)
    if (
        faults.locked_probability > 0
        and method in MUTATING
        and path.startswith(f"{prefix}/projects/")
        and random.random() < faults.locked_probability
    ):
        raise errors.Locked(errors.CONFLICTING_OPERATIONS, retry_after=1)
    if (
        faults.echo_body_probability > 0
        and method in MUTATING
        and request.can_read_body
        and random.random() < faults.echo_body_probability
    ):
        body = (await request.read()).decode(errors="replace")
        raise errors.BadRequest(
            f"request body has an error: doesn't match schema (injected fault)\nValue:\n  {body}\n"
        )
