"""How reconcilers name objects: references to them, their namespace, the NeonConfig a resource
uses, and reading a resource another one names and waits on until it is Ready.

* :func:`object_ref` — the reference status patches, Events, Secrets' owners use.
* :func:`reference` — a resource named by another one (``appDatabaseRef``, ``snapshotRef`` …).
* :func:`namespace_of` and :func:`config_name` — the one place for their ``"default"``.
* :func:`read_ready` — read a referenced resource; ``Ready=False`` ``ParentNotFound`` /
  ``ParentNotReady`` (waiting, not failed) while it is missing, being deleted or not Ready.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol, TypeVar

from neon_operator import kube
from neon_operator.models import (
    READY,
    ObjectMeta,
    Status,
    appdatabase,
    branch,
    restore,
    schedule,
    snapshot,
)
from neon_operator.reconcilers.context import Context
from neon_operator.reconcilers.reporting import Report

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_NAMESPACE",
    "PLURALS",
    "config_name",
    "namespace_of",
    "object_ref",
    "read_ready",
    "reference",
]

PLURALS: Final = {
    appdatabase.KIND: "neonappdatabases",
    branch.KIND: "neonbranches",
    snapshot.KIND: "neonsnapshots",
    restore.KIND: "neonrestores",
    schedule.KIND: "neonsnapshotschedules",
}
"""Each namespaced kind's plural (its REST path)."""
DEFAULT_NAMESPACE: Final = "default"
DEFAULT_CONFIG: Final = "default"
"""The NeonConfig a dependent blames before its status records the one it uses."""


class Resource(Protocol):
    """A parsed namespaced custom resource."""

    @property
    def kind(self) -> str: ...
    @property
    def metadata(self) -> ObjectMeta: ...


class _WithStatus(Resource, Protocol):
    @property
    def status(self) -> Status: ...


R = TypeVar("R", bound=_WithStatus)


def object_ref(resource: Resource) -> kube.ObjectRef:
    """The reference Secrets, status patches and Events use."""
    return kube.ObjectRef(
        kind=resource.kind,
        plural=PLURALS[resource.kind],
        name=resource.metadata.name,
        namespace=resource.metadata.namespace,
        uid=resource.metadata.uid or "",
    )


def reference(kind: str, name: str, namespace: str) -> kube.ObjectRef:
    """The resource ``name`` of ``kind`` in ``namespace``, as another resource names it."""
    return kube.ObjectRef(kind=kind, plural=PLURALS[kind], name=name, namespace=namespace, uid="")


def namespace_of(resource: Resource | kube.ObjectRef) -> str:
    """The namespace of a resource or of a reference to one (every kind but NeonConfig has
    one)."""
    if isinstance(resource, kube.ObjectRef):
        return resource.namespace or DEFAULT_NAMESPACE
    return resource.metadata.namespace or DEFAULT_NAMESPACE


def config_name(status: Any) -> str:
    """The NeonConfig a dependent's status records (``status.configName``), else the default."""
    name: str | None = status.config_name
    return name or DEFAULT_CONFIG


async def read_ready(
    ctx: Context,
    report: Report[Any],
    ref: kube.ObjectRef,
    *,
    parse: Callable[[dict[str, Any]], R],
    label: str,
    made: Callable[[R], object],
    check: Callable[[R], Awaitable[None]] | None = None,
) -> R:
    """The resource ``ref`` once it exists, is not being deleted, has made what ``made``
    returns (an id in its status; ``None`` while not yet) and is Ready. ``check`` (e.g. it
    belongs to the same project) runs on it as read; ``label`` names it in messages
    (``NeonSnapshot``, ``parent NeonBranch`` …)."""
    body = await ctx.kube.read_object(ref)
    where = f"{label} {ref.name!r}"
    if body is None:
        raise await report.waiting(
            "ParentNotFound",
            f"{where} does not exist in namespace {ref.namespace!r} (references never leave "
            "the namespace); waiting for it to be created",
        )
    found = parse(body)
    if check is not None:
        await check(found)
    ready = found.status.condition(READY)
    deleted = found.metadata.deletion_timestamp is not None
    if deleted or made(found) is None or ready is None or ready.status != "True":
        why = "is being deleted" if deleted else "is not Ready yet"
        detail = f" ({ready.reason}: {ready.message})" if ready and ready.status != "True" else ""
        raise await report.waiting("ParentNotReady", f"{where} {why}{detail}; waiting")
    return found
