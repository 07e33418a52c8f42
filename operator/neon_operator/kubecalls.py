"""A record of every request the operator's own Kubernetes client sends, by verb and resource.

The apiserver is a shared budget too: steady state must cost it O(changes), not O(resources).
:func:`observe` hooks an observer into a ``kubernetes.aio`` client (an aiohttp trace), so the
operator can count what it asks (``/metrics``). kopf's own watches and patches go through kopf's
session and are not counted here.

Verbs are Kubernetes' (``get``, ``list``, ``watch``, ``create``, ``update``, ``patch``,
``delete``), resources are plural names (``secrets``, ``neonappdatabases``, with
``/status`` for the status subresource): never names or namespaces, so the label space stays small.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Final

import aiohttp
from kubernetes.aio import client

__all__ = ["Observer", "describe", "observe"]

Observer = Callable[[str, str], None]
"""Called with (verb, resource) as each request starts."""

VERBS: Final = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def describe(method: str, path: str, *, watch: bool = False) -> tuple[str, str]:
    """The (verb, resource) of a request to ``path`` (``/api/v1/namespaces/ns/secrets/name``).

    A GET names one object (``get``), a collection (``list``) or, with ``watch``, a stream.
    """
    parts = [part for part in path.split("/") if part]
    # /api/v1/... or /apis/group/version/...; then optional namespaces/<ns>
    rest = parts[2:] if parts[:1] == ["api"] else parts[3:]
    if rest[:1] == ["namespaces"] and len(rest) > 2:
        rest = rest[2:]
    resource = rest[0] if rest else "-"
    named = len(rest) > 1
    if len(rest) > 2:
        resource = f"{resource}/{rest[2]}"
    if method == "GET":
        verb = "watch" if watch else "get" if named else "list"
    else:
        verb = VERBS.get(method, method.lower())
    return verb, resource


def observe(api: client.ApiClient, observer: Observer) -> None:
    """Tell ``observer`` about every request ``api`` sends from now on (before its first)."""

    async def started(
        session: aiohttp.ClientSession,
        context: types.SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        url = params.url
        watch = url.query.get("watch", "").lower() in ("true", "1")
        observer(*describe(params.method, url.path, watch=watch))

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(started)
    configuration = api.rest_client.configuration
    configuration.trace_configs = [*(getattr(configuration, "trace_configs", None) or []), trace]
