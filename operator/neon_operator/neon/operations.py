"""Waiting for Neon's asynchronous operations to end.

Every mutation returns ``operations``; the resource is usable (and the next conflicting call
will not get 423) only when all of them have succeeded. The waiter polls only the operations
*still pending* (ops already terminal in the mutation's response cost no request): one pending
operation of a project with ``GET /projects/{p}/operations/{id}``, several with one
``GET /projects/{p}/operations`` (newest first, so they are on its first page; any that is not
is fetched on its own). Creating a project returns two operations, so this halves its polls.
The interval starts modest and grows, since provisioning takes ~0.5 s but some operations take
minutes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Iterable

from neon_operator.neon import errors
from neon_operator.neon.models import NeonModel, Operation
from neon_operator.neon.session import Session

__all__ = ["OPERATIONS_ROUTE", "OPERATION_ROUTE", "PollPolicy", "wait_for_operations"]

OPERATION_ROUTE = "/projects/{project_id}/operations/{operation_id}"
OPERATIONS_ROUTE = "/projects/{project_id}/operations"


class _OperationEnvelope(NeonModel):
    operation: Operation


class _OperationsPage(NeonModel):
    operations: list[Operation]


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
        by_project: dict[str, list[Operation]] = {}
        for op in pending:
            by_project.setdefault(op.project_id, []).append(op)
        polled = await asyncio.gather(
            *(_poll(session, project_id, ops) for project_id, ops in by_project.items())
        )
        for ops in polled:
            for op in ops:
                latest[op.id] = op


async def _poll(session: Session, project_id: str, pending: list[Operation]) -> list[Operation]:
    if len(pending) == 1:
        return [await get_operation(session, project_id, pending[0].id)]
    page = await session.request_model(
        _OperationsPage,
        "GET",
        OPERATIONS_ROUTE,
        {"project_id": project_id},
        params={"limit": max(20, 2 * len(pending))},
    )
    listed = {op.id: op for op in page.operations}
    return [
        listed[op.id] if op.id in listed else await get_operation(session, project_id, op.id)
        for op in pending
    ]


async def get_operation(session: Session, project_id: str, operation_id: str) -> Operation:
    """The current state of one operation."""
    envelope = await session.request_model(
        _OperationEnvelope,
        "GET",
        OPERATION_ROUTE,
        {"project_id": project_id, "operation_id": operation_id},
    )
    return envelope.operation
