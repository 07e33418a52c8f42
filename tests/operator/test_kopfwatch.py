"""kopf's own watch multiplexer (``kopf._core.reactor.queueing.watcher``) fed a LIST of objects
carrying ``managedFields``, with and without :mod:`neon_operator.kopfwatch`: what the bodies
kopf queues and hands to its processor hold."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import kopf
import pytest
from kopf._cogs.clients import watching
from kopf._cogs.structs import references
from kopf._core.reactor import queueing

from neon_operator import kopfwatch, kube, runner
from neon_operator.settings import Settings

pytestmark = pytest.mark.unit

RESOURCE = references.Resource(
    group="neon.operator.dev", version="v1alpha1", plural="neonappdatabases", namespaced=True
)
BODY = {
    "apiVersion": "neon.operator.dev/v1alpha1",
    "kind": "NeonAppDatabase",
    "metadata": {
        "name": "app",
        "namespace": "team",
        "uid": "uid-0",
        "annotations": {"neon.operator.dev/last-handled-configuration": "{}"},
        "managedFields": [
            {"manager": "neon-operator", "operation": "Update", "fieldsV1": {"f:status": {}}}
        ],
    },
    "spec": {"configRef": {"name": "default"}},
    "status": {"projectId": "p-1"},
}
OBJECTS = 50


@pytest.fixture
def listing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """kopf's stream replaced by a LIST of OBJECTS bodies, read through whatever kopfwatch
    installs on top of it; kopf's multiplexer as shipped after the test."""

    async def fake(**_: Any) -> AsyncIterator[Any]:
        for index in range(OBJECTS):
            body = copy.deepcopy(BODY)
            body["metadata"]["uid"] = f"uid-{index}"
            yield {"type": None, "object": body}
        yield watching.Bookmark.LISTED
        await asyncio.Event().wait()  # the watch that follows: nothing more

    monkeypatch.setattr(watching, "infinite_watch", fake)
    shipped = queueing.watching
    queueing.watching = watching
    yield
    queueing.watching = shipped


async def _processed() -> list[dict[str, Any]]:
    """The bodies kopf's watcher hands its processor for the listed objects."""
    seen: list[dict[str, Any]] = []

    async def processor(*, raw_event: dict[str, Any], **_: Any) -> None:
        seen.append(raw_event["object"])

    settings = kopf.OperatorSettings()
    settings.queueing.worker_limit = 4
    settings.queueing.idle_timeout = 0.01
    watcher = asyncio.create_task(
        queueing.watcher(namespace=None, settings=settings, resource=RESOURCE, processor=processor)
    )
    for _ in range(500):
        if len(seen) == OBJECTS:
            break
        await asyncio.sleep(0.01)
    watcher.cancel()
    with pytest.raises(asyncio.CancelledError):
        await watcher
    return seen


async def test_kopf_alone_keeps_every_body_whole(listing: None) -> None:
    seen = await _processed()
    assert len(seen) == OBJECTS
    assert all("managedFields" in body["metadata"] for body in seen)


async def test_installed_kopf_queues_bodies_without_managed_fields(listing: None) -> None:
    kopfwatch.install()
    seen = await _processed()
    assert len(seen) == OBJECTS
    expected = copy.deepcopy(BODY)
    del expected["metadata"]["managedFields"]
    for index, body in enumerate(sorted(seen, key=lambda b: int(b["metadata"]["uid"][4:]))):
        expected["metadata"]["uid"] = f"uid-{index}"
        assert body == expected  # everything else as it came


def test_installing_twice_wraps_kopf_once(listing: None) -> None:
    kopfwatch.install()
    wrapped = queueing.watching.infinite_watch
    kopfwatch.install()
    assert kopfwatch.installed()
    assert queueing.watching.infinite_watch is wrapped
    assert watching.infinite_watch is not wrapped  # kopf's own module is untouched


@pytest.mark.parametrize(
    "event",
    [
        watching.Bookmark.LISTED,
        {"type": "ERROR", "object": {"code": 410}},
        {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "7"}}},
        {"type": "DELETED", "object": {"metadata": None}},
    ],
)
def test_slimming_leaves_what_has_no_managed_fields_alone(event: Any) -> None:
    before = copy.deepcopy(event)
    assert kopfwatch.slim(event) == before


def test_kopf_lists_in_pages() -> None:
    assert runner.kopf_settings(Settings()).watching.chunk_size == kopfwatch.LIST_PAGE


def test_slimmed_bodies_share_their_keys_and_short_strings() -> None:
    """Two bodies parsed apart hold one copy of each key and short string once slimmed, and
    are equal to what came; a long string stays each body's own."""
    long = "x" * (kube.SHARED_UP_TO + 1)
    raw = json.dumps({**BODY, "spec": {"configRef": {"name": "default"}, "note": long}})
    first, second = (kopfwatch.slim({"type": "ADDED", "object": json.loads(raw)}) for _ in "ab")
    assert (
        first["object"]
        == second["object"]
        == {
            **json.loads(raw),
            "metadata": {k: v for k, v in BODY["metadata"].items() if k != "managedFields"},
        }
    )
    one, other = first["object"], second["object"]
    assert [id(key) for key in one] == [id(key) for key in other]
    assert one["metadata"]["namespace"] is other["metadata"]["namespace"]
    assert one["status"]["projectId"] is other["status"]["projectId"]
    assert one["spec"]["note"] is not other["spec"]["note"]
