"""kopf's namespace observer on the real apiserver, with a namespace created in the gap between
its first list of the namespaces and the list its watch-stream starts with.

kopf (1.45) skips the stream's own list, so a namespace created in that gap is not served until
it next changes: a CI run's operator left an app unreconciled for 90 s, until the test deleted
its namespace. :mod:`neon_operator.kopfwatch` makes kopf read that list too. The test drives
kopf's own observer (``kopf._core.reactor.observation.namespace_observer``) and creates the
namespace exactly in the gap, so the race is taken every time, not once in many runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import kopf
import pytest
from kopf._cogs.clients import auth, fetching, watching
from kopf._cogs.structs import credentials, references
from kopf._core.reactor import observation, queueing
from kubernetes import client
from kubernetes.client import ApiClient

from neon_operator import kopfwatch

pytestmark = pytest.mark.e2e

NAMESPACES = references.Resource(
    group="", version="v1", plural="namespaces", kind="Namespace", namespaced=False
)


@pytest.fixture
def kopf_as_shipped(monkeypatch: pytest.MonkeyPatch) -> None:
    """kopf as shipped, even if an earlier test in this process installed kopfwatch; whatever
    the test installs is undone after it."""
    monkeypatch.setattr(queueing, "watching", watching)
    name = "process_discovered_namespace_event"
    current = getattr(observation, name)
    monkeypatch.setattr(observation, name, getattr(current, "__wrapped__", current))


@pytest.fixture
def gap_namespace(kube_api: ApiClient) -> Iterator[str]:
    name = f"kopf-gap-{uuid.uuid4().hex[:8]}"
    yield name
    with contextlib.suppress(client.ApiException):
        client.CoreV1Api(kube_api).delete_namespace(name)


async def _namespaces_seen(
    kubeconfig: pathlib.Path, kube_api: ApiClient, name: str, monkeypatch: pytest.MonkeyPatch
) -> set[Any]:
    """The namespaces kopf's observer serves, for the pattern ``kopf-gap-*``, once its
    watch-stream's list of namespaces has been processed; ``name`` is created right after the
    observer's own first list."""
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    settings = kopf.OperatorSettings()
    vault = credentials.Vault()
    await vault.populate({"kubeconfig": kopf.login_with_kubeconfig(settings=settings)})
    auth.vault_var.set(vault)

    lists = 0
    listed_name = asyncio.Event()
    fetch = fetching.fetch_objs

    async def fetch_then_create(**kwargs: Any) -> AsyncIterator[Any]:
        nonlocal lists
        async for chunk in fetch(**kwargs):
            yield chunk
        lists += 1
        if lists == 1:  # the observer's own list is read: create the namespace in the gap
            body = {"metadata": {"name": name}}
            await asyncio.to_thread(client.CoreV1Api(kube_api).create_namespace, body)

    async def no_watch(**_: Any) -> AsyncIterator[Any]:
        # The race is in the lists; a watch from the stream's list would only hold a
        # connection open at the test's end.
        await asyncio.Event().wait()
        yield  # pragma: no cover (an async generator, as kopf's)

    process = observation.process_discovered_namespace_event

    async def processed(*, raw_event: Any, **kwargs: Any) -> None:
        await process(raw_event=raw_event, **kwargs)
        if raw_event["object"]["metadata"]["name"] == name:
            listed_name.set()

    monkeypatch.setattr(fetching, "fetch_objs", fetch_then_create)
    monkeypatch.setattr(watching, "watch_objs", no_watch)
    monkeypatch.setattr(observation, "process_discovered_namespace_event", processed)
    insights = references.Insights()
    await insights.backbone.fill(resources=[NAMESPACES])
    observer = asyncio.create_task(
        observation.namespace_observer(
            clusterwide=False,
            namespaces=["kopf-gap-*"],
            insights=insights,
            settings=settings,
        )
    )
    try:
        await asyncio.wait_for(listed_name.wait(), timeout=30)
        assert lists == 2, "the namespace came from the watch-stream's list, not a watch event"
        return set(insights.namespaces)
    finally:
        observer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await observer
        await vault.close()


@pytest.mark.parametrize(
    "installed", [False, True], ids=["kopf-alone-misses-it", "installed-kopf-serves-it"]
)
async def test_a_namespace_created_between_kopfs_two_lists(
    installed: bool,
    kubeconfig: pathlib.Path,
    kube_api: ApiClient,
    gap_namespace: str,
    kopf_as_shipped: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if installed:
        kopfwatch.install()
    seen = await _namespaces_seen(kubeconfig, kube_api, gap_namespace, monkeypatch)
    # kopf 1.45 alone misses it (the race kopfwatch answers); installed, kopf serves it.
    assert (gap_namespace in seen) is installed
