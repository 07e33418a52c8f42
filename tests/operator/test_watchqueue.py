"""kopf's own watch multiplexer (``kopf._core.reactor.queueing.watcher``), fed a LIST of many
objects, with and without :mod:`neon_operator.watchqueue`: how many bodies it takes from the
stream while every worker is busy. Without the bound it drains the whole stream (what a restart
at 30,000 apps did); with it, it stops at the running and pending workers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import kopf
import pytest
from kopf._cogs.aiokits import aiotasks
from kopf._cogs.structs import references
from kopf._core.reactor import queueing

from neon_operator import runner, watchqueue
from neon_operator.settings import Settings

pytestmark = pytest.mark.unit

OBJECTS = 200
WORKERS = 4

RESOURCE = references.Resource(
    group="neon.operator.dev",
    version="v1alpha1",
    plural="neonappdatabases",
    namespaced=True,
)


@pytest.fixture
def unbounded() -> Iterator[None]:
    """kopf's multiplexer as kopf ships it, whatever an earlier test installed."""
    installed = queueing.aiotasks
    queueing.aiotasks = aiotasks
    yield
    queueing.aiotasks = installed


@pytest.fixture
def bounded(unbounded: None) -> None:
    watchqueue.install()


async def _taken_while_busy(monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    """(objects the watcher took from a LIST of OBJECTS while WORKERS workers were stuck,
    objects processed once they were let go)."""
    taken = 0
    processed = 0
    release = asyncio.Event()

    async def listing(**_: Any) -> AsyncIterator[Any]:
        nonlocal taken
        for index in range(OBJECTS):
            taken += 1
            yield {"type": None, "object": {"metadata": {"uid": f"uid-{index}"}}}
        await asyncio.Event().wait()  # the watch that follows: nothing more

    async def processor(**_: Any) -> None:
        nonlocal processed
        await release.wait()
        processed += 1

    monkeypatch.setattr(queueing.watching, "infinite_watch", listing)
    settings = kopf.OperatorSettings()
    settings.queueing.worker_limit = WORKERS
    settings.queueing.idle_timeout = 0.01
    watcher = asyncio.create_task(
        queueing.watcher(namespace=None, settings=settings, resource=RESOURCE, processor=processor)
    )
    for _ in range(100):  # let the watcher take all it will
        await asyncio.sleep(0.005)
    while_busy = taken
    release.set()
    for _ in range(2_000):
        if processed == OBJECTS:
            break
        await asyncio.sleep(0.005)
    watcher.cancel()
    with pytest.raises(asyncio.CancelledError):
        await watcher
    return while_busy, processed


async def test_kopf_alone_takes_every_listed_body_while_its_workers_are_busy(
    unbounded: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    while_busy, processed = await _taken_while_busy(monkeypatch)
    assert while_busy == OBJECTS
    assert processed == OBJECTS


async def test_with_the_bound_it_takes_only_the_running_and_the_pending_workers(
    bounded: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    while_busy, processed = await _taken_while_busy(monkeypatch)
    # WORKERS running, WORKERS pending, and the one whose spawn waits for room.
    assert while_busy == 2 * WORKERS + 1
    assert processed == OBJECTS  # and once they go on, every object is processed


async def test_a_scheduler_without_a_limit_never_waits(bounded: None) -> None:
    scheduler = watchqueue.BoundedScheduler()
    done = asyncio.Event()
    blockers = [asyncio.Event() for _ in range(50)]
    for blocker in blockers:
        await scheduler.spawn(blocker.wait())
    await scheduler.spawn(_set(done))
    await asyncio.wait_for(done.wait(), 1)
    for blocker in blockers:
        blocker.set()
    await scheduler.close()


async def test_a_spawn_cancelled_while_waiting_closes_its_coroutine(bounded: None) -> None:
    scheduler = watchqueue.BoundedScheduler(limit=1)
    gate = asyncio.Event()
    await scheduler.spawn(gate.wait())  # runs
    await scheduler.spawn(gate.wait())  # pending
    waiting_for_room = gate.wait()
    spawning = asyncio.create_task(scheduler.spawn(waiting_for_room))
    await asyncio.sleep(0.01)
    assert not spawning.done()
    spawning.cancel()
    with pytest.raises(asyncio.CancelledError):
        await spawning
    assert waiting_for_room.cr_frame is None  # closed: no "never awaited" warning
    gate.set()
    await scheduler.close()


def test_installing_twice_is_installing_once(bounded: None) -> None:
    watchqueue.install()
    assert watchqueue.installed()
    assert queueing.aiotasks.Scheduler is watchqueue.BoundedScheduler
    assert queueing.aiotasks.Scheduler is not aiotasks.Scheduler  # kopf's own is untouched


def test_kopf_lists_in_pages() -> None:
    assert runner.kopf_settings(Settings()).watching.chunk_size == watchqueue.LIST_PAGE


async def _set(event: asyncio.Event) -> None:
    event.set()
