"""How kopf watches: bodies without ``metadata.managedFields`` and with their strings shared,
listed in pages, and every namespace that matches ``--namespace`` noticed, however close to a
start it was created.

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
(``cache.TransformStripManagedFields``). The JSON parser also gives every body its own copy of
every key and value: ``"apiVersion"``, ``"observedGeneration"``, a condition's ``"True"`` and
its reason, the namespace, the finalizer. :func:`slim` makes each body share one copy of every
key and short string (:func:`neon_operator.kube.shared`, as the Secret cache does): RSS after
a restart at 30,000 apps went from 590 to 551 MiB, with larger bodies (bench/results/scale.md).
:data:`LIST_PAGE` makes kopf list 500 objects a page, as client-go's pager does, so a restart
never parses one response of every body at once.

Tried and dropped: making kopf's watcher wait while ``worker_limit`` workers were pending. That
bounded the memory, but a LIST read that slowly outlived its continue token (the apiserver
compacts every 5 minutes). kopf answers that ``410 Expired`` by stopping its watcher for good.
At 10,000 apps the operator then stopped reconciling.

With a namespace pattern (``--namespace 't-*'``), kopf lists the namespaces once, then starts
a watch-stream that lists them again and watches from there. kopf's processor of that stream
skips the stream's own listing (events of type ``None``), so a namespace created between the
two lists was never served until it next changed: an app created there at an operator's start
waited, unreconciled, until its namespace was deleted (a CI run: 90 s, then the test failed).
:func:`install` makes kopf revise its namespaces with that second list too; a revision is
idempotent, and costs kopf one pass over its watchers per namespace listed.

This reaches into kopf's internals (``kopf._core.reactor.queueing`` reads
``watching.infinite_watch``; ``kopf._core.reactor.observation`` reads
``process_discovered_namespace_event``). :func:`install` checks they have the shape this
module knows. If they don't, it refuses with an error naming the kopf version, rather than run
without saying so. ``tests/operator/test_kopfwatch.py`` drives kopf's own watcher through it;
``tests/e2e/test_kopf_namespaces.py`` creates a namespace in that gap on a real apiserver.
"""

from __future__ import annotations

import importlib.metadata
import types
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final, NoReturn

import kopf
from kopf._cogs.clients import watching
from kopf._core.reactor import observation, queueing

from neon_operator import kube

__all__ = ["LIST_PAGE", "install", "installed", "slim"]

LIST_PAGE: Final = 500
"""Objects per LIST page when kopf (re)lists a kind, as client-go's pager asks by default."""


def slim(event: Any) -> Any:
    """``event`` with its object's ``metadata.managedFields`` dropped, and its object rebuilt
    to share its keys and short strings with every other slimmed body (in place)."""
    if isinstance(event, dict):
        obj = event.get("object")
        metadata = obj.get("metadata") if isinstance(obj, dict) else None
        if isinstance(metadata, dict):
            metadata.pop("managedFields", None)
            event["object"] = kube.shared(obj)
    return event


def install() -> None:
    """Make kopf's watch multiplexer read slimmed events, and kopf's namespace observer revise
    its namespaces with every list it reads (idempotent)."""
    if not _slimming():
        known = getattr(queueing, "watching", None)
        if not isinstance(known, types.ModuleType) or not callable(
            getattr(known, "infinite_watch", None)
        ):
            _refuse("kopf._core.reactor.queueing reads no watching.infinite_watch")
        module = types.ModuleType(watching.__name__, watching.__doc__)
        module.__dict__.update(vars(watching))
        module.infinite_watch = _slimmed(watching.infinite_watch)  # type: ignore[attr-defined]
        setattr(queueing, "watching", module)  # noqa: B010 (kopf doesn't export the name)
    if not _listing_namespaces():
        shipped = getattr(observation, _NAMESPACE_EVENT, None)
        if not callable(shipped):
            _refuse(f"kopf._core.reactor.observation has no {_NAMESPACE_EVENT}")
        setattr(observation, _NAMESPACE_EVENT, _listed_too(shipped))


def installed() -> bool:
    """Whether kopf reads slimmed events and revises namespaces with every list."""
    return _slimming() and _listing_namespaces()


_NAMESPACE_EVENT: Final = "process_discovered_namespace_event"


def _slimming() -> bool:
    stream = getattr(getattr(queueing, "watching", None), "infinite_watch", None)
    return getattr(stream, "__wrapped__", None) is watching.infinite_watch


def _listing_namespaces() -> bool:
    return hasattr(getattr(observation, _NAMESPACE_EVENT, None), "__wrapped__")


def _refuse(what: str) -> NoReturn:
    raise RuntimeError(
        f"kopf {importlib.metadata.version(kopf.__name__)}: {what}, unlike kopf 1.45; "
        "neon_operator.kopfwatch cannot adjust it: install kopf 1.45"
    )


def _listed_too(process: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    async def process_discovered_namespace_event(*, raw_event: Any, **kwargs: Any) -> None:
        if raw_event["type"] is None:
            # Listed, so it exists: what kopf's own first listing makes of it.
            raw_event = {**raw_event, "type": "ADDED"}
        await process(raw_event=raw_event, **kwargs)

    process_discovered_namespace_event.__wrapped__ = process  # type: ignore[attr-defined]
    return process_discovered_namespace_event


def _slimmed(
    stream: Callable[..., AsyncIterator[Any]],
) -> Callable[..., AsyncIterator[Any]]:
    async def infinite_watch(**kwargs: Any) -> AsyncIterator[Any]:
        async for event in stream(**kwargs):
            yield slim(event)

    infinite_watch.__wrapped__ = stream  # type: ignore[attr-defined]
    return infinite_watch
