"""Backpressure in kopf's watch multiplexer: memory follows ``--max-workers``, not the number
of objects.

kopf (1.45) reads each kind's watch stream, after a LIST, and puts every event into its
object's own queue. A new object's worker goes to a scheduler that runs ``worker_limit`` of them
at once and keeps the rest pending. A pending worker holds the whole body of its object's first
event (about 24 KiB of Python for a Ready NeonAppDatabase, 14 of them its ``managedFields``).
Nothing bounds the pending ones. A restart lists every object at once, so kopf held every body
until a worker took it: 898 MiB of RSS at 30,000 apps, and the allocator kept it afterwards
(bench/results/scale.md).

:func:`install` gives kopf's watcher a scheduler whose ``spawn`` waits while ``worker_limit``
workers are already pending. The watcher then stops reading its stream, and with a paged LIST
(:data:`LIST_PAGE`) the apiserver's next page is fetched only when there is room. In memory at
once: the running workers, as many pending ones, and one page. controller-runtime has the same
shape: a fixed number of workers and a queue the informer feeds. There the queue holds keys, not
bodies; here it holds bodies, so it is bounded.

What waits and where:

- events of an object that already has a worker go straight to its queue, as before;
- the watcher waits only for a *new* object's worker, so the events behind it wait in the
  apiserver's watch stream. If that stream stalls long enough, the apiserver closes it, and
  kopf watches again from the last resource version, or lists again after ``410 Gone``.

This reaches into kopf's internals (``kopf._core.reactor.queueing`` and its ``aiotasks``).
:func:`install` checks that they have the shape this module knows. If they don't, it refuses
with an error that names the kopf version, rather than run unbounded without saying so.
``tests/operator/test_watchqueue.py`` drives kopf's own watcher with and without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import types
from collections.abc import Coroutine
from typing import Any, Final

import kopf
from kopf._cogs.aiokits import aiotasks
from kopf._core.reactor import queueing

__all__ = ["LIST_PAGE", "BoundedScheduler", "install", "installed"]

LIST_PAGE: Final = 500
"""Objects per LIST page when kopf (re)lists a kind, as client-go's pager asks by default.
Unpaged, a restart at 30,000 apps parsed one response of 30,000 bodies at once."""

RECHECK: Final = 1.0
"""Seconds between re-checks for room even if no wake-up came (kopf's spawner takes pending
workers without notifying; a finished worker notifies)."""


class BoundedScheduler(aiotasks.Scheduler):
    """kopf's scheduler, whose :meth:`spawn` waits while as many workers are pending as may
    run (``limit``). Without a limit it is kopf's, unchanged."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        missing = [
            name
            for name in ("_limit", "_closed", "_condition", "_pending_coros")
            if not hasattr(self, name)
        ]
        if missing:
            raise RuntimeError(_unknown(f"its Scheduler has no {', '.join(missing)}"))

    async def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str | None = None) -> None:
        if self._limit is not None:
            try:
                await self._room()
            except BaseException:
                coro.close()  # never to run: close it, as kopf's own cancel_coro does
                raise
        await super().spawn(coro, name=name)

    def pending(self) -> int:
        """Workers waiting for a place."""
        return self._pending_coros.qsize()

    async def _room(self) -> None:
        def has_room() -> bool:
            return self._closed or self.pending() < (self._limit or 0)

        while not has_room():
            async with self._condition:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._condition.wait_for(has_room), RECHECK)


def install() -> None:
    """Make kopf's watch multiplexer use :class:`BoundedScheduler` (idempotent)."""
    if installed():
        return
    if not isinstance(getattr(queueing, "aiotasks", None), types.ModuleType):
        raise RuntimeError(_unknown("kopf._core.reactor.queueing has no aiotasks module"))
    module = types.ModuleType(aiotasks.__name__, aiotasks.__doc__)
    module.__dict__.update(vars(aiotasks))
    module.Scheduler = BoundedScheduler  # type: ignore[attr-defined]
    setattr(queueing, "aiotasks", module)  # noqa: B010 (kopf doesn't export the name)


def installed() -> bool:
    """Whether kopf's watcher spawns its workers through :class:`BoundedScheduler`."""
    return getattr(getattr(queueing, "aiotasks", None), "Scheduler", None) is BoundedScheduler


def _unknown(what: str) -> str:
    return (
        f"kopf {importlib.metadata.version(kopf.__name__)}: {what}, unlike kopf 1.45; "
        "neon_operator.watchqueue cannot bound its queue there: install kopf 1.45"
    )
