"""One scheduler walks every resource for drift checks against Neon, inside a share of the budget.

A drift check compares a resource with Neon (its project and endpoints: two calls when nothing
changed). Neon has no bulk call that returns every project's computes, so at tens of thousands of
resources the checks must be paced: 30,000 resources every hour would be 1,000 calls a minute
against Neon's 700.

:class:`DriftScheduler` keeps one *lane* per NeonConfig (one API key, one budget). Each lane is a
heap of resources by the time their next check is due, and one task that takes them out one at a
time, never closer together than

* ``interval / resources``: every resource once per ``interval``, spread evenly over it
  however the due times cluster (after a restart, or a burst of creates), and
* ``calls * 60 / (share * per_minute)``: the checks spend at most ``share`` of the key's budget
  (``calls`` is what the check just started costs: :attr:`Target.calls`, more with Neon Auth or
  the Data API).

When the budget is the tighter bound, each resource simply comes round less often than
``interval``. The checks themselves run at :attr:`~neon_operator.neon.Priority.DRIFT`, so even
the share they may spend goes to new work first whenever new work is waiting.

The scheduler knows nothing of kopf or Kubernetes: it holds :class:`Target` records (a few
strings per resource) and calls ``check`` with them; ``budget`` tells a lane's requests per minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import heapq
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Final

__all__ = ["CHECK_CALLS", "DriftScheduler", "Target"]

logger = logging.getLogger(__name__)

CHECK_CALLS: Final = 2
"""Neon calls of a drift check that finds nothing to change (the object and its endpoints)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    """One resource the scheduler checks: enough to read it again, and where its budget is."""

    kind: str
    plural: str
    namespace: str
    name: str
    uid: str
    lane: str
    """The NeonConfig whose budget its checks spend."""
    secret: str | None = None
    """The name of its connection Secret, if it has one (for Secret checks from the cache)."""
    calls: int = CHECK_CALLS
    """Neon calls its check costs when nothing changed (Neon Auth adds 3, the Data API 1)."""


Check = Callable[[Target], Awaitable[None]]
Budget = Callable[[str], Awaitable[float | None]]
"""A lane's requests per minute (``None``: unknown right now, pace by the interval alone)."""


@dataclasses.dataclass(slots=True)
class _Entry:
    target: Target
    token: int
    """Which heap item is current: enrolling again leaves the older item stale."""


class _Lane:
    """The resources of one NeonConfig, by due time."""

    def __init__(self) -> None:
        self.heap: list[tuple[float, int, str]] = []
        self.entries: dict[str, _Entry] = {}
        self.changed: asyncio.Event | None = None
        self.task: asyncio.Task[None] | None = None

    def push(self, due: float, uid: str, token: int, *, joined: bool = False) -> None:
        heapq.heappush(self.heap, (due, token, uid))
        if self.changed is not None and (joined or self.heap[0][1] == token):
            # Due first, or one more resource (a shorter spread): the walk must look again.
            self.changed.set()

    def next(self) -> tuple[float, _Entry] | None:
        """The earliest current entry (stale heap items are dropped on the way)."""
        while self.heap:
            due, token, uid = self.heap[0]
            entry = self.entries.get(uid)
            if entry is not None and entry.token == token:
                return due, entry
            heapq.heappop(self.heap)
        return None


class DriftScheduler:
    """Checks each enrolled resource about once per ``interval``, within ``share`` of its lane's
    budget, evenly spread; at most ``concurrency`` checks at a time."""

    def __init__(
        self,
        check: Check,
        budget: Budget,
        *,
        interval: float,
        share: float,
        concurrency: int = 8,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._check = check
        self._budget = budget
        self.interval = interval
        self.share = share
        self._clock = clock
        self._sleep = sleep
        self._concurrency = concurrency
        self._slots: asyncio.Semaphore | None = None
        self._lanes: dict[str, _Lane] = {}
        self._lane_of: dict[str, str] = {}
        self._tokens = itertools.count()
        self._running: set[asyncio.Task[None]] = set()
        self.checks = 0
        """Checks started so far."""

    def __len__(self) -> int:
        return len(self._lane_of)

    def targets(self) -> list[Target]:
        """Every enrolled resource."""
        return [entry.target for lane in self._lanes.values() for entry in lane.entries.values()]

    def enroll(self, target: Target, *, due_in: float | None = None) -> None:
        """Check ``target`` from now on, first in ``due_in`` seconds (default: one interval).

        Enrolling a resource again replaces its record (its lane or Secret may have changed)
        and its due time.
        """
        previous = self._lane_of.get(target.uid)
        if previous is not None and previous != target.lane:
            self.withdraw(target.uid)
        lane = self._lanes.get(target.lane)
        if lane is None:
            lane = self._lanes[target.lane] = _Lane()
        token = next(self._tokens)
        joined = target.uid not in lane.entries
        lane.entries[target.uid] = _Entry(target, token)
        self._lane_of[target.uid] = target.lane
        delay = self.interval if due_in is None else max(0.0, due_in)
        lane.push(self._clock() + delay, target.uid, token, joined=joined)
        self._start(target.lane, lane)

    def withdraw(self, uid: str) -> None:
        """Stop checking the resource ``uid`` (deleted, or no longer ours)."""
        name = self._lane_of.pop(uid, None)
        if name is not None:
            self._lanes[name].entries.pop(uid, None)

    def gap(self, lane: str, per_minute: float | None, calls: int = CHECK_CALLS) -> float:
        """Seconds after a check costing ``calls`` before the next of ``lane`` (see the module
        docstring)."""
        count = max(1, len(self._lanes[lane].entries)) if lane in self._lanes else 1
        spread = self.interval / count
        if not per_minute or self.share <= 0:
            return spread
        return max(spread, calls * 60.0 / (self.share * per_minute))

    async def close(self) -> None:
        """Stop every lane and wait for the checks under way to end."""
        tasks = [lane.task for lane in self._lanes.values() if lane.task is not None]
        for task in tasks:
            task.cancel()
        for task in [*tasks, *self._running]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _start(self, name: str, lane: _Lane) -> None:
        if lane.task is None or lane.task.done():
            lane.changed = asyncio.Event()
            lane.task = asyncio.get_running_loop().create_task(
                self._walk(name, lane), name=f"drift lane {name}"
            )

    async def _walk(self, name: str, lane: _Lane) -> None:
        assert lane.changed is not None
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._concurrency)
        last = -float("inf")  # when the last check started, and what it cost
        cost, per_minute = CHECK_CALLS, None
        while True:
            found = lane.next()
            if found is None:
                lane.changed.clear()
                await lane.changed.wait()
                continue
            due, entry = found
            # The gap follows the lane's size now: after a restart the first check starts
            # while kopf is still resuming the rest, one by one.
            at = max(due, last + self.gap(name, per_minute, cost))
            wait = at - self._clock()
            if wait > 0:
                await self._pause(lane.changed, wait)
                continue  # something earlier may have been enrolled: look again
            await self._slots.acquire()
            if lane.next() != found:  # withdrawn or re-enrolled while waiting for a slot
                self._slots.release()
                continue
            heapq.heappop(lane.heap)
            now = self._clock()
            lane.push(now + self.interval, entry.target.uid, entry.token)
            self.checks += 1
            task = asyncio.get_running_loop().create_task(self._run(entry.target))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
            try:
                per_minute = await self._budget(name)
            except Exception:  # an unusable NeonConfig: pace by the interval alone
                per_minute = None
            last, cost = now, entry.target.calls

    async def _pause(self, changed: asyncio.Event, seconds: float) -> None:
        """Sleep ``seconds``, or less if ``changed`` is set meanwhile."""
        changed.clear()
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        waker = asyncio.ensure_future(changed.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()

    async def _run(self, target: Target) -> None:
        assert self._slots is not None
        try:
            await self._check(target)
        except Exception:
            logger.exception("drift check of %s %s/%s failed", *_where(target))
        finally:
            self._slots.release()


def _where(target: Target) -> tuple[str, str, str]:
    return target.kind, target.namespace, target.name
