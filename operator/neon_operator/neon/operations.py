"""Waiting for Neon's asynchronous operations to end.

Every mutation returns ``operations``; the resource is usable (and the next conflicting call
will not get 423) only when all of them have succeeded. The waiter polls
``GET /projects/{p}/operations/{id}`` for the operations *still pending* and nothing else: ops
already terminal in the mutation's response cost no request. The interval starts modest and
grows, since provisioning takes ~0.5 s but some operations take minutes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Iterable

from neon_operator.neon import errors
from neon_operator.neon.models import NeonModel, Operation
from neon_operator.neon.session import Session

__all__ = ["OPERATION_ROUTE", "PollPolicy", "wait_for_operations"]

OPERATION_ROUTE = "/projects/{project_id}/operations/{operation_id}"


class _OperationEnvelope(NeonModel):
    operation: Operation


@dataclasses.dataclass(frozen=True)
class PollPolicy:
    """Cadence of :func:`wait_for_operations`."""

    initial_interval: float = 0.5
    """Seconds before the first poll."""

    factor: float = 1.5
    """Each interval is the previous one times this."""

    max_interval: float = 5.0
    """Upper bound of one interval."""

    timeout: float = 300.0
    """Default deadline of one wait, in seconds."""


async def wait_for_operations(
    session: Session,
    operations: Iterable[Operation],
    *,
    timeout: float | None = None,  # noqa: ASYNC109 - ends in a typed OperationTimeout
    poll: PollPolicy = PollPolicy(),
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[Operation]:
    """Wait until every operation succeeded (finished / skipped); return their final states.

    Raises :class:`errors.OperationFailed` as soon as one fails (failed / error / cancelled),
    and :class:`errors.OperationTimeout` (transient) with the still-pending operations when
    ``timeout`` (default ``poll.timeout``) passes first. Order of the result follows the input.
    """
    latest: dict[str, Operation] = {}
    for op in operations:
        latest[op.id] = op
    deadline = clock() + (poll.timeout if timeout is None else timeout)
    interval = poll.initial_interval
    while True:
        for op in latest.values():
            if op.failed:
                raise errors.OperationFailed(op)
        pending = [op for op in latest.values() if not op.succeeded]
        if not pending:
            return list(latest.values())
        remaining = deadline - clock()
        if remaining <= 0:
            raise errors.OperationTimeout(pending, timeout if timeout is not None else poll.timeout)
        await sleep(min(interval, remaining))
        interval = min(poll.max_interval, interval * poll.factor)
        polled = await asyncio.gather(
            *(get_operation(session, op.project_id, op.id) for op in pending)
        )
        for op in polled:
            latest[op.id] = op


async def get_operation(session: Session, project_id: str, operation_id: str) -> Operation:
    """The current state of one operation."""
    envelope = await session.request_model(
        _OperationEnvelope,
        "GET",
        OPERATION_ROUTE,
        {"project_id": project_id, "operation_id": operation_id},
    )
    return envelope.operation
