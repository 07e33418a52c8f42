"""One watch on the operator's own Secrets: a shared cache for reads, events for repairs.

Every connection Secret the operator writes carries the label
``app.kubernetes.io/managed-by=neon-operator``. :class:`SecretWatch` lists those Secrets once (in
pages) and then watches them, per served namespace (one stream for all of them when the operator
serves every namespace or a glob): steady state costs the apiserver a few long-lived streams,
whatever the number of resources. It keeps

* a cache of each Secret as :class:`~neon_operator.kube.SecretState` (decoded data, labels,
  annotations, controller; nothing else of the object), which :class:`CachedKubeClient` serves
  to the reconcilers instead of one GET per object, and
* an index from each controller's uid to its Secrets, so "does this resource still have its
  Secret?" needs no request at all.

Each change it sees goes to ``listener(namespace, previous, current, owner)`` (``current`` is
``None`` when the Secret was deleted or lost the label): the handlers decide whether the owner
needs a repair. A watch that expires (410) or breaks lists again and reports what changed in
between as changes, as Kubernetes' informers do. There are no kopf handlers on Secrets: this
watch is the operator's own, and it writes nothing.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import fnmatch
import json
import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any, Final

from kubernetes.aio import client
from kubernetes.aio.client.exceptions import ApiException

from neon_operator import kube

__all__ = ["MANAGED_BY", "CachedKubeClient", "Owner", "SecretWatch"]

logger = logging.getLogger(__name__)

MANAGED_BY: Final = "app.kubernetes.io/managed-by=neon-operator"
"""The label selector of every Secret the operator writes."""

PAGE: Final = 500
"""Secrets per list request."""

WATCH_SECONDS: Final = 300
"""How long the apiserver keeps one watch request open before the operator renews it."""


@dataclasses.dataclass(frozen=True, slots=True)
class Owner:
    """The controller of a Secret, from its ``ownerReferences``."""

    kind: str
    name: str
    uid: str


@dataclasses.dataclass(frozen=True, slots=True)
class _Cached:
    state: kube.SecretState
    owner: Owner | None
    version: str


Listener = Callable[[str, kube.SecretState | None, kube.SecretState | None, Owner | None], None]
"""Called with the namespace, the previous and current state of a changed Secret and its (last)
controller."""


class _Expired(Exception):
    """The watch's resource version is too old: list again."""


def _parse(obj: dict[str, Any]) -> _Cached:
    meta = obj.get("metadata", {})
    controller = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)
    owner = (
        Owner(sys.intern(controller["kind"]), controller["name"], controller["uid"])
        if controller
        else None
    )
    data = {
        sys.intern(k): base64.b64decode(v).decode("utf-8", "replace")
        for k, v in (obj.get("data") or {}).items()
    }
    state = kube.SecretState(
        name=meta["name"],
        data=data,
        labels=kube.shared(meta.get("labels") or {}),
        annotations=kube.shared(meta.get("annotations") or {}),
        controller_uid=owner.uid if owner else None,
        owner_references=tuple(meta.get("ownerReferences") or ()),
        uid=meta.get("uid", ""),
        resource_version=meta.get("resourceVersion", ""),
    )
    return _Cached(state, owner, meta.get("resourceVersion", ""))


def serves(patterns: Iterable[str], namespace: str) -> bool:
    """Whether ``namespace`` matches the operator's ``--namespace`` patterns (globs; ``!``
    excludes), as kopf matches them; no patterns means every namespace."""
    patterns = list(patterns)
    if not patterns:
        return True
    included = any(fnmatch.fnmatchcase(namespace, p) for p in patterns if not p.startswith("!"))
    excluded = any(fnmatch.fnmatchcase(namespace, p[1:]) for p in patterns if p.startswith("!"))
    return included and not excluded


def _exact(patterns: Iterable[str]) -> bool:
    return all(not any(c in p for c in "*?[!") for p in patterns)


class SecretWatch:
    """The operator's Secrets in the served namespaces, listed once and watched."""

    def __init__(
        self,
        api: client.ApiClient | None,
        *,
        namespaces: tuple[str, ...] = (),
        selector: str = MANAGED_BY,
        listener: Listener | None = None,
        retry_delay: float = 5.0,
    ) -> None:
        self.core = client.CoreV1Api(api) if api is not None else None
        """``None``: nothing to list or watch (the cache is fed by :meth:`replace` and
        :meth:`observe` alone)."""
        self.namespaces = namespaces
        self.selector = selector
        self.listener = listener
        self.retry_delay = retry_delay
        self._scopes: list[str | None] = (
            list(namespaces) if namespaces and _exact(namespaces) else [None]
        )
        self._items: dict[tuple[str, str], _Cached] = {}
        self._by_owner: dict[str, set[tuple[str, str]]] = {}
        self._synced: set[str | None] = set()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def synced(self) -> bool:
        """Whether every stream has listed once (the cache is complete)."""
        return self._ready.is_set()

    async def wait_synced(self) -> None:
        """Wait until :attr:`synced`."""
        await self._ready.wait()

    def covers(self, namespace: str) -> bool:
        """Whether reads of Secrets in ``namespace`` can be served from the cache."""
        return self.synced and serves(self.namespaces, namespace)

    def get(self, namespace: str, name: str) -> kube.SecretState | None:
        """The cached Secret (``None``: not cached: absent, not labelled, or just written)."""
        cached = self._items.get((namespace, name))
        return cached.state if cached is not None else None

    def owned_by(self, uid: str) -> list[kube.SecretState]:
        """The cached Secrets whose controller is ``uid``."""
        keys = self._by_owner.get(uid, ())
        return [self._items[key].state for key in keys if key in self._items]

    def version(self, namespace: str, name: str) -> str | None:
        """The ``resourceVersion`` of the cached Secret (``None``: not cached)."""
        cached = self._items.get((namespace, name))
        return cached.version if cached is not None else None

    def written(self, namespace: str, name: str, before: str | None) -> None:
        """The operator just wrote or deleted a Secret that was cached at version ``before``
        when it began (``None``: not cached). Unless the watch has reported a change since,
        drop the cached copy: the next read goes to the apiserver until the watch reports the
        new state. The write's own event may well arrive before its response; dropping the
        copy then would leave the Secret out of the cache, repaired by every sweep, for good."""
        cached = self._items.get((namespace, name))
        if cached is not None and cached.version == before:
            self._drop((namespace, name))

    async def run(self) -> None:
        """List and watch until cancelled."""
        await asyncio.gather(*(self._stream(scope) for scope in self._scopes))

    # -- one stream -------------------------------------------------------------------------

    async def _stream(self, namespace: str | None) -> None:
        failures = 0
        while True:
            try:
                version = await self._list(namespace)
                failures = 0
                while True:
                    version = await self._watch(namespace, version)
            except asyncio.CancelledError:
                raise
            except _Expired:
                logger.info("Secret watch of %s expired; listing again", namespace or "all")
            except Exception as error:
                failures += 1
                delay = min(self.retry_delay * 2 ** min(failures - 1, 4), 60.0)
                status = f"HTTP {error.status}" if isinstance(error, ApiException) else error
                logger.warning(
                    "Secret watch of %s failed (%s); retrying in %.0fs",
                    namespace or "all namespaces",
                    status,
                    delay,
                )
                await asyncio.sleep(delay)

    async def _request(self, namespace: str | None, **params: Any) -> Any:
        assert self.core is not None, "a SecretWatch without an API client cannot list"
        params = {"label_selector": self.selector, **params}
        if namespace is None:
            return await self.core.list_secret_for_all_namespaces_without_preload_content(**params)
        return await self.core.list_namespaced_secret_without_preload_content(namespace, **params)

    async def _list(self, namespace: str | None) -> str:
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            response = await self._request(namespace, limit=PAGE, _continue=token)
            if response.status >= 400:
                raise ApiException(status=response.status, reason=response.reason)
            page = json.loads(await response.read())
            items.extend(page.get("items") or [])
            token = page.get("metadata", {}).get("continue")
            if not token:
                self.replace(namespace, items)
                return str(page.get("metadata", {}).get("resourceVersion", ""))

    async def _watch(self, namespace: str | None, version: str) -> str:
        response = await self._request(
            namespace,
            watch=True,
            resource_version=version,
            allow_watch_bookmarks=True,
            timeout_seconds=WATCH_SECONDS,
            _request_timeout=WATCH_SECONDS + 60.0,
        )
        try:
            if response.status == 410:
                raise _Expired()
            if response.status >= 400:
                raise ApiException(status=response.status, reason=response.reason)
            while line := await response.content.readline():
                event = json.loads(line)
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise _Expired()
                    raise ApiException(status=obj.get("code"), reason=obj.get("message"))
                version = obj.get("metadata", {}).get("resourceVersion") or version
                if kind != "BOOKMARK":
                    self.observe(kind, obj)
        finally:
            response.release()
        return version

    # -- the cache --------------------------------------------------------------------------

    def replace(self, namespace: str | None, items: list[dict[str, Any]]) -> None:
        """The Secrets of ``namespace`` (``None``: all) as just listed: what the cache held
        there and the list lacks was deleted meanwhile."""
        seen: dict[tuple[str, str], _Cached] = {}
        for obj in items:
            where = obj.get("metadata", {}).get("namespace", "")
            if serves(self.namespaces, where):
                cached = _parse(obj)
                seen[(sys.intern(where), cached.state.name)] = cached
        for key in [k for k in self._items if namespace is None or k[0] == namespace]:
            if key not in seen:
                self._apply(key, None)
        for key, cached in seen.items():
            self._apply(key, cached)
        self._synced.add(namespace)
        if len(self._synced) == len(self._scopes):
            self._ready.set()

    def observe(self, event: str, obj: dict[str, Any]) -> None:
        """One watch event (``ADDED``, ``MODIFIED``, ``DELETED``) of the Secret ``obj``."""
        where = obj.get("metadata", {}).get("namespace", "")
        if not serves(self.namespaces, where):
            return
        cached = _parse(obj)
        self._apply((sys.intern(where), cached.state.name), None if event == "DELETED" else cached)

    def _apply(self, key: tuple[str, str], cached: _Cached | None) -> None:
        previous = self._items.get(key)
        if previous is not None and cached is not None and previous.version == cached.version:
            return
        if cached is None:
            if previous is None:
                return
            self._drop(key)
        else:
            self._drop(key)
            self._items[key] = cached
            if cached.owner is not None:
                self._by_owner.setdefault(cached.owner.uid, set()).add(key)
        if self.listener is not None:
            owner = (cached.owner if cached is not None else None) or (
                previous.owner if previous is not None else None
            )
            self.listener(
                key[0],
                previous.state if previous is not None else None,
                cached.state if cached is not None else None,
                owner,
            )
            moved = previous is not None and cached is not None and previous.owner != cached.owner
            if moved and previous is not None and previous.owner is not None:
                # the Secret changed hands: its former controller may need a new one
                self.listener(key[0], previous.state, None, previous.owner)

    def _drop(self, key: tuple[str, str]) -> None:
        previous = self._items.pop(key, None)
        if previous is not None and previous.owner is not None:
            keys = self._by_owner.get(previous.owner.uid)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_owner[previous.owner.uid]


class CachedKubeClient(kube.KubeClient):
    """:class:`~neon_operator.kube.KubeClient` whose Secret reads come from a
    :class:`SecretWatch` when it holds them; writes and deletes drop the cached copy."""

    secrets: SecretWatch | None = None

    async def read_secret(self, namespace: str, name: str) -> kube.SecretState | None:
        if self.secrets is not None and self.secrets.covers(namespace):
            cached = self.secrets.get(namespace, name)
            if cached is not None:
                return cached
        return await super().read_secret(namespace, name)

    async def write_secret(self, namespace: str, name: str, **fields: Any) -> None:
        before = self.secrets.version(namespace, name) if self.secrets is not None else None
        try:
            await super().write_secret(namespace, name, **fields)
        finally:
            if self.secrets is not None:
                self.secrets.written(namespace, name, before)

    async def delete_secret(
        self, namespace: str, name: str, *, current: kube.SecretState | None = None
    ) -> None:
        before = self.secrets.version(namespace, name) if self.secrets is not None else None
        try:
            await super().delete_secret(namespace, name, current=current)
        finally:
            if self.secrets is not None:
                self.secrets.written(namespace, name, before)
