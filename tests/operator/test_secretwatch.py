"""The watch of the operator's Secrets: what its cache holds, and which owner's Secret needs a
repair after each change (deleted, edited, relabelled, taken over, lost while not watching)."""

from __future__ import annotations

import base64
import copy
from typing import Any, cast

import pytest

from neon_operator import kube
from neon_operator.handlers.upkeep import Tended, Upkeep
from neon_operator.reconcilers import connection_secret
from neon_operator.reconcilers.context import Context
from neon_operator.secretwatch import SecretWatch, serves
from neon_operator.settings import Settings

pytestmark = pytest.mark.unit

OWNER = kube.ObjectRef(kind="NeonAppDatabase", plural="neonappdatabases", name="todo", uid="u-1")


def secret(
    name: str = "todo-neon", namespace: str = "team-a", version: str = "1"
) -> dict[str, Any]:
    """A Secret as the operator writes it, as the apiserver returns it."""
    desired = connection_secret.Desired(
        namespace=namespace,
        name=name,
        owner=kube.ObjectRef(OWNER.kind, OWNER.plural, OWNER.name, OWNER.uid, namespace),
        host="ep-1.neon.tech",
        endpoint_id="ep-1",
        user="owner",
        database="db",
        key_prefix="",
        labels={"team": "a"},
        annotations={},
    )
    data, labels, annotations = desired.render("s3cr3t")
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "resourceVersion": version,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [desired.owner.owner_reference()],
        },
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def edited(obj: dict[str, Any], version: str, **data: str) -> dict[str, Any]:
    changed = copy.deepcopy(obj)
    changed["metadata"]["resourceVersion"] = version
    for key, value in data.items():
        changed["data"][key] = base64.b64encode(value.encode()).decode()
    return changed


class Repairs:
    """An upkeep that notes the repairs it would queue."""

    def __init__(self, watch: SecretWatch) -> None:
        ctx = Context(kube=cast(Any, None), accounts=cast(Any, None), settings=Settings())
        self.upkeep = Upkeep(ctx, watch)
        self.upkeep.tend(Tended("NeonAppDatabase", "neonappdatabases", _step, _step, _target))
        self.requested: list[tuple[str, str, str, str]] = []
        self.upkeep.request_repair = lambda *where: self.requested.append(where)  # type: ignore[method-assign]


async def _step(ctx: Context, body: dict[str, Any]) -> None:
    return None


def _target(body: dict[str, Any]) -> Any:
    raise AssertionError("not used")


@pytest.fixture
def watch() -> SecretWatch:
    return SecretWatch(None, namespaces=("team-*",))


@pytest.fixture
def repairs(watch: SecretWatch) -> Repairs:
    return Repairs(watch)


def test_a_listed_secret_is_served_from_the_cache_with_its_owner(watch: SecretWatch) -> None:
    assert not watch.covers("team-a")  # not listed yet: reads go to the apiserver
    watch.replace(None, [secret()])

    cached = watch.get("team-a", "todo-neon")
    assert watch.covers("team-a")
    assert cached is not None
    assert cached.controller_uid == "u-1"
    assert cached.data["PGPASSWORD"] == "s3cr3t"
    assert [s.name for s in watch.owned_by("u-1")] == ["todo-neon"]
    assert not watch.covers("elsewhere")


def test_secrets_outside_the_served_namespaces_are_not_cached(watch: SecretWatch) -> None:
    watch.replace(None, [secret(namespace="other")])
    assert len(watch) == 0
    assert serves(("team-*", "!team-x"), "team-a")
    assert not serves(("team-*", "!team-x"), "team-x")
    assert serves((), "anything")


def test_the_operators_own_secrets_need_no_repair(watch: SecretWatch, repairs: Repairs) -> None:
    watch.replace(None, [secret()])
    watch.observe("MODIFIED", secret(version="2"))
    assert repairs.requested == []


def test_a_deleted_secret_is_repaired(watch: SecretWatch, repairs: Repairs) -> None:
    watch.replace(None, [secret()])
    watch.observe("DELETED", secret(version="2"))

    assert repairs.requested == [("NeonAppDatabase", "team-a", "todo", "u-1")]
    assert watch.get("team-a", "todo-neon") is None
    assert watch.owned_by("u-1") == []


def test_an_edited_secret_is_repaired(watch: SecretWatch, repairs: Repairs) -> None:
    watch.replace(None, [secret()])
    watch.observe("MODIFIED", edited(secret(), "2", PGPASSWORD="guessed"))
    assert repairs.requested == [("NeonAppDatabase", "team-a", "todo", "u-1")]


def test_a_removed_label_of_the_operators_is_repaired(watch: SecretWatch, repairs: Repairs) -> None:
    watch.replace(None, [secret()])
    relabelled = copy.deepcopy(secret(version="2"))
    del relabelled["metadata"]["labels"]["team"]
    watch.observe("MODIFIED", relabelled)
    assert repairs.requested == [("NeonAppDatabase", "team-a", "todo", "u-1")]


def test_a_secret_taken_over_by_another_controller_is_repaired_for_its_owner(
    watch: SecretWatch, repairs: Repairs
) -> None:
    watch.replace(None, [secret()])
    taken = secret(version="2")
    taken["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "Other", "name": "x", "uid": "u-9", "controller": True}
    ]
    watch.observe("MODIFIED", taken)
    assert repairs.requested == [("NeonAppDatabase", "team-a", "todo", "u-1")]


def test_what_was_deleted_while_not_watching_is_found_by_the_next_list(
    watch: SecretWatch, repairs: Repairs
) -> None:
    watch.replace(None, [secret(), secret(name="other-neon")])
    watch.replace(None, [secret(name="other-neon")])  # listed again after the watch expired
    assert repairs.requested == [("NeonAppDatabase", "team-a", "todo", "u-1")]


def test_a_forgotten_secret_is_read_from_the_apiserver_until_the_watch_reports_it(
    watch: SecretWatch, repairs: Repairs
) -> None:
    watch.replace(None, [secret()])
    before = watch.version("team-a", "todo-neon")
    watch.written("team-a", "todo-neon", before)  # the operator just wrote it
    assert watch.get("team-a", "todo-neon") is None
    watch.observe("MODIFIED", secret(version="2"))
    assert watch.get("team-a", "todo-neon") is not None
    assert repairs.requested == []


@pytest.mark.parametrize("before", [None, "1"], ids=["created", "updated"])
def test_a_write_whose_own_event_came_before_its_response_stays_cached(
    watch: SecretWatch, repairs: Repairs, before: str | None
) -> None:
    watch.replace(None, [secret()] if before else [])
    assert watch.version("team-a", "todo-neon") == before
    watch.observe("MODIFIED" if before else "ADDED", secret(version="2"))  # the write's event
    watch.written("team-a", "todo-neon", before)  # then the write's response
    assert watch.version("team-a", "todo-neon") == "2"
    assert repairs.requested == []
