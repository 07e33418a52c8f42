"""What kopf keeps of each watched object: bodies without ``metadata.managedFields``, listed
in pages.

kopf (1.45) reads each kind's watch stream, after a LIST, and puts every event into its
object's own queue. A new object's worker waits in a scheduler that runs ``worker_limit``
(``--max-workers``) of them at once, and every waiting worker holds the whole body of its
object's first event. A restart lists every object, so kopf held every listed body until a
worker took it: 898 MiB of RSS at 30,000 apps, and the allocator kept that afterwards
(bench/results/scale.md). A Ready NeonAppDatabase's body is about 24 KiB of Python, and 14 KiB
of that is ``managedFields``: server-side apply's bookkeeping, which neither kopf nor the
operator reads.

:func:`install` wraps the stream kopf's multiplexer reads so each event's body loses its
``managedFields`` before kopf queues it. controller-runtime offers the same for the same reason
(``cache.TransformStripManagedFields``). :data:`LIST_PAGE` makes kopf list 500 objects a
page, as client-go's pager does, so a restart never parses one response of every body at once.

Tried and dropped: making kopf's watcher wait while ``worker_limit`` workers were pending. That
bounded the memory, but a LIST read that slowly outlived its continue token (the apiserver
compacts every 5 minutes). kopf answers that ``410 Expired`` by stopping its watcher for good.
At 10,000 apps the operator then stopped reconciling.

This reaches into kopf's internals (``kopf._core.reactor.queueing`` reads
``watching.infinite_watch``). :func:`install` checks they have the shape this module knows. If
they don't, it refuses with an error naming the kopf version, rather than run without saying
so. ``tests/operator/test_kopfwatch.py`` drives kopf's own watcher through it.
"""

from __future__ import annotations

import importlib.metadata
import types
from collections.abc import AsyncIterator, Callable
from typing import Any, Final

import kopf
from kopf._cogs.clients import watching
from kopf._core.reactor import queueing

__all__ = ["LIST_PAGE", "install", "installed", "slim"]

LIST_PAGE: Final = 500
"""Objects per LIST page when kopf (re)lists a kind, as client-go's pager asks by default."""


def slim(event: Any) -> Any:
    """``event`` with its object's ``metadata.managedFields`` dropped (in place)."""
    if isinstance(event, dict):
        obj = event.get("object")
        metadata = obj.get("metadata") if isinstance(obj, dict) else None
        if isinstance(metadata, dict):
            metadata.pop("managedFields", None)
    return event


def install() -> None:
    """Make kopf's watch multiplexer read slimmed events (idempotent)."""
    if installed():
        return
    known = getattr(queueing, "watching", None)
    if not isinstance(known, types.ModuleType) or not callable(
        getattr(known, "infinite_watch", None)
    ):
        raise RuntimeError(
            f"kopf {importlib.metadata.version(kopf.__name__)}: kopf._core.reactor.queueing "
            "reads no watching.infinite_watch, unlike kopf 1.45; neon_operator.kopfwatch "
            "cannot slim its events there: install kopf 1.45"
        )
    module = types.ModuleType(watching.__name__, watching.__doc__)
    module.__dict__.update(vars(watching))
    module.infinite_watch = _slimmed(watching.infinite_watch)  # type: ignore[attr-defined]
    setattr(queueing, "watching", module)  # noqa: B010 (kopf doesn't export the name)


def installed() -> bool:
    """Whether kopf's multiplexer reads slimmed events."""
    stream = getattr(getattr(queueing, "watching", None), "infinite_watch", None)
    return getattr(stream, "__wrapped__", None) is watching.infinite_watch


def _slimmed(
    stream: Callable[..., AsyncIterator[Any]],
) -> Callable[..., AsyncIterator[Any]]:
    async def infinite_watch(**kwargs: Any) -> AsyncIterator[Any]:
        async for event in stream(**kwargs):
            yield slim(event)

    infinite_watch.__wrapped__ = stream  # type: ignore[attr-defined]
    return infinite_watch
