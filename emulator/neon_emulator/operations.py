"""Neon's asynchronous model: every mutation returns operations that finish later.

A mutation submits a *batch* of :class:`Step` s. Their operations are stored at once as
``scheduling`` and returned to the client; a background task then runs them one after the other,
each ``scheduling`` → ``running`` → ``finished``, sharing the configured operation latency
(``Knobs.operation_latency``, Neon provisions in ~500 ms). While an operation runs, the data plane
hook does its work; when it finishes, the resource states follow (branch ``init`` → ``ready``,
endpoint ``init``/``idle`` → ``active`` or ``active`` → ``idle``).

While any operation of a project is not terminal, a conflicting mutation gets 423 Locked with
Neon's message (:meth:`OperationRunner.ensure_unlocked`). Unfinished operations survive a restart:
:meth:`OperationRunner.resume` picks them up again.

Some operations are *observed* rather than run (:func:`begin_observed`): the data plane does the
work by itself -- a compute waking because a connection arrived, suspending because it sat idle
-- and records it the way Neon lists it (``start_compute``/``suspend_compute``), ``running``
while it happens and ``finished`` once it did. They take no operation latency and lock nothing:
a waking connection waits for the cold start only, and API calls meanwhile are not refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from neon_emulator import clock, errors, ids, records
from neon_emulator.dataplane import DataPlane, check_intent
from neon_emulator.settings import Knobs
from neon_emulator.store import Store

logger = logging.getLogger(__name__)

OBSERVED = "observed"
"""``intent`` of operations the data plane records for work it does by itself."""


@dataclass(frozen=True)
class Step:
    """One operation to schedule: Neon's ``action`` plus what the emulator does (``intent``)."""

    action: str
    intent: str
    branch_id: str | None = None
    endpoint_id: str | None = None
    subject: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_intent(self.intent)  # a typo fails the request that made it, not silently later


class OperationRunner:
    def __init__(self, store: Store, knobs: Knobs, dataplane: DataPlane) -> None:
        self._store = store
        self._knobs = knobs
        self._dataplane = dataplane
        self._tasks: set[asyncio.Task[None]] = set()

    def is_busy(self, project_id: str) -> bool:
        return any(
            op.status in records.RUNNING_STATUSES and op.intent != OBSERVED
            for op in self._store.operations.in_project(project_id)
        )

    def ensure_unlocked(self, project_id: str) -> None:
        """Raise 423 when the project has operations in flight (the mutation is not applied)."""
        if self.is_busy(project_id):
            raise errors.Locked(errors.CONFLICTING_OPERATIONS)

    def submit(self, project_id: str, steps: Sequence[Step]) -> list[records.Operation]:
        """Store the batch's operations as ``scheduling`` and start running them."""
        if not steps:
            return []
        batch_id = ids.operation_id()
        stamp = clock.now_iso()
        operations = [
            self._store.operations.put(
                records.Operation(
                    id=ids.operation_id(),
                    project_id=project_id,
                    branch_id=step.branch_id,
                    endpoint_id=step.endpoint_id,
                    action=step.action,
                    created_at=stamp,
                    updated_at=stamp,
                    batch_id=batch_id,
                    seq=index,
                    intent=step.intent,
                    subject=dict(step.subject),
                )
            )
            for index, step in enumerate(steps)
        ]
        self._spawn([op.id for op in operations])
        return operations

    def resume(self) -> None:
        """Restart the batches a previous process left unfinished."""
        batches: dict[str, list[records.Operation]] = defaultdict(list)
        for op in self._store.operations:
            if op.status in records.RUNNING_STATUSES:
                batches[op.batch_id].append(op)
        for batch in batches.values():
            batch.sort(key=lambda op: op.seq)
            self._spawn([op.id for op in batch])

    def _spawn(self, operation_ids: list[str]) -> None:
        task = asyncio.get_running_loop().create_task(self._run(operation_ids))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, operation_ids: list[str]) -> None:
        share = 1.0 / len(operation_ids)
        failed = False
        for operation_id in operation_ids:
            op = self._store.operations.get(operation_id)
            if op is None:
                continue
            if failed:
                self._finish(op, "cancelled")
                continue
            await self._pause(share * 0.2)
            op.status = "running"
            op.updated_at = clock.now_iso()
            op.started = time.monotonic()
            self._store.operations.put(op)
            self._store.commit()
            await self._pause(share * 0.8)
            try:
                await self._dataplane.run(op, self._store)
            except Exception as exc:  # the data plane's failure becomes the operation's
                logger.exception("operation %s (%s) failed", op.id, op.intent)
                op.error = str(exc) or type(exc).__name__
                op.failures_count += 1
                self._finish(op, "failed")
                failed = True
                continue
            settle(self._store, op)
            self._finish(op, "finished")

    async def _pause(self, fraction: float) -> None:
        """Sleep ``fraction`` of the operation latency, following changes made meanwhile."""
        started = time.monotonic()
        while True:
            target = max(self._knobs.operation_latency, 0.0) * fraction
            remaining = target - (time.monotonic() - started)
            if remaining <= 0:
                await asyncio.sleep(0)
                return
            await asyncio.sleep(min(remaining, 0.1))

    def _finish(self, op: records.Operation, status: str) -> None:
        finish(self._store, op, status)

    async def drain(self) -> None:
        """Wait for every running batch (used by tests of the runner and on shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task


def begin_observed(
    store: Store,
    project_id: str,
    action: str,
    *,
    branch_id: str | None = None,
    endpoint_id: str | None = None,
) -> records.Operation:
    """Record a ``running`` operation for work the caller is doing now; :func:`finish` it."""
    stamp = clock.now_iso()
    op = records.Operation(
        id=ids.operation_id(),
        project_id=project_id,
        branch_id=branch_id,
        endpoint_id=endpoint_id,
        action=action,
        status="running",
        created_at=stamp,
        updated_at=stamp,
        batch_id=ids.operation_id(),
        seq=0,
        started=time.monotonic(),
        intent=OBSERVED,
    )
    store.operations.put(op)
    store.commit()
    return op


def finish(
    store: Store, op: records.Operation, status: str = "finished", error: str | None = None
) -> None:
    """Put ``op`` in a terminal (or failed) ``status``, with its duration."""
    op.status = status
    op.updated_at = clock.now_iso()
    if error is not None:
        op.error = error
        op.failures_count += 1
    if op.started:
        op.total_duration_ms = int((time.monotonic() - op.started) * 1000)
    store.operations.put(op)
    store.commit()


def settle(store: Store, op: records.Operation) -> None:
    """Move the resources an operation touched into the state it leads to."""
    stamp = clock.now_iso()
    if op.intent in {"create_branch", "restore_branch"} and op.branch_id:
        branch = store.branches.get(op.branch_id)
        if branch is not None and not branch.deleted:
            branch.current_state = "ready"
            branch.pending_state = None
            branch.state_changed_at = stamp
            store.branches.put(branch)
    elif op.intent == "start_compute" and op.endpoint_id:
        endpoint = store.endpoints.get(op.endpoint_id)
        if endpoint is not None:
            activate(store, endpoint)
    elif op.intent == "suspend_compute" and op.endpoint_id:
        endpoint = store.endpoints.get(op.endpoint_id)
        if endpoint is not None:
            deactivate(store, endpoint)


def activate(store: Store, endpoint: records.Endpoint) -> None:
    """The endpoint's compute is up: ``active`` (since now, unless it already was)."""
    stamp = clock.now_iso()
    if endpoint.current_state != "active":
        endpoint.started_at = stamp
    endpoint.current_state = "active"
    endpoint.pending_state = None
    endpoint.last_active = stamp
    endpoint.updated_at = stamp
    store.endpoints.put(endpoint)
    project = store.projects.get(endpoint.project_id)
    if project is not None:
        project.compute_last_active_at = stamp
        store.projects.put(project)


def deactivate(store: Store, endpoint: records.Endpoint) -> None:
    """The endpoint's compute is suspended: ``idle``, its active time banked."""
    stamp = clock.now_iso()
    if endpoint.current_state == "active" and endpoint.started_at:
        started = clock.parse(endpoint.started_at)
        endpoint.active_seconds += max((clock.now() - started).total_seconds(), 0.0)
    endpoint.current_state = "idle"
    endpoint.pending_state = None
    endpoint.suspended_at = stamp
    endpoint.updated_at = stamp
    store.endpoints.put(endpoint)
