"""Moving projects between organizations in batches, as Neon's transfer endpoint allows.

A tier change moves a project to that tier's organization (``POST
/organizations/{source}/projects/transfer`` takes up to 400 project ids per call). Tier changes
tend to arrive together: a GitOps commit that upgrades many apps, a plan migration. Every
NeonAppDatabase reconciles on its own, so :class:`TransferBatcher` coalesces the requests that
arrive within a short window for the same (source, destination) pair into one call, and each
reconcile awaits the outcome for its own project.

When Neon refuses a batch for a reason that may concern only some of its projects (406: the
destination's limits; 422: projects with integrations), each project of the batch is retried
alone, so one bad project fails only its own resource. A transient failure (423, 429, 5xx after
the client's own retries) fails the whole batch; each resource retries later.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

from neon_operator import neon

__all__ = ["TransferBatcher"]

Sleep = Callable[[float], Awaitable[None]]


@dataclasses.dataclass
class _Batch:
    source: str
    destination: str
    waiters: dict[str, asyncio.Future[None]] = dataclasses.field(default_factory=dict)


class TransferBatcher:
    """Coalesces transfers of one Neon client (one API key) into calls of up to ``max_batch``."""

    def __init__(
        self,
        client: neon.NeonClient,
        *,
        window: float = 0.5,
        max_batch: int = neon.TRANSFER_BATCH,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._client = client
        self._window = window
        self._max_batch = max_batch
        self._sleep = sleep
        self._open: dict[tuple[str, str], _Batch] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def transfer(self, source: str, destination: str, project_id: str) -> None:
        """Move ``project_id`` from ``source`` to ``destination``; raise what Neon said of it."""
        key = (source, destination)
        batch = self._open.get(key)
        if batch is None:
            batch = self._open[key] = _Batch(source, destination)
            self._spawn(self._flush_after_window(key, batch))
        waiter = batch.waiters.get(project_id)
        if waiter is None:
            waiter = batch.waiters[project_id] = asyncio.get_running_loop().create_future()
        if len(batch.waiters) >= self._max_batch:
            self._close(key, batch)
        await asyncio.shield(waiter)

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush_after_window(self, key: tuple[str, str], batch: _Batch) -> None:
        await self._sleep(self._window)
        if self._open.get(key) is batch:
            self._close(key, batch)

    def _close(self, key: tuple[str, str], batch: _Batch) -> None:
        del self._open[key]
        self._spawn(self._send(batch))

    async def _send(self, batch: _Batch) -> None:
        ids = list(batch.waiters)
        try:
            await self._client.transfer_projects(batch.source, batch.destination, ids)
        except (neon.InvalidRequestError, neon.PermanentError) as refused:
            if len(ids) == 1:
                _settle(batch.waiters[ids[0]], refused)
                return
            for project_id in ids:
                try:
                    await self._client.transfer_projects(
                        batch.source, batch.destination, [project_id]
                    )
                except neon.NeonError as error:
                    _settle(batch.waiters[project_id], error)
                else:
                    _settle(batch.waiters[project_id], None)
        except BaseException as error:
            for waiter in batch.waiters.values():
                _settle(waiter, error)
            if not isinstance(error, Exception):
                raise
        else:
            for waiter in batch.waiters.values():
                _settle(waiter, None)


def _settle(waiter: asyncio.Future[None], error: BaseException | None) -> None:
    if waiter.done():
        return
    if error is None:
        waiter.set_result(None)
    else:
        waiter.set_exception(error)
        waiter.exception()  # marks it retrieved: a waiter whose caller was cancelled stays quiet
