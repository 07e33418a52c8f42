"""NeonBranch reconciler on the in-memory Kube and the emulator: waiting for its app, its own
compute and Secret, recovery after a crash, children holding deletion, deletion policies."""

from __future__ import annotations

from typing import Any

import pytest

from neon_operator import errors

pytestmark = pytest.mark.integration

APPS = "neonappdatabases"
BRANCHES = "neonbranches"


async def ready_app(op) -> dict[str, Any]:
    op.apply(APPS, "todo", {"tier": "free"})
    await op.reconcile(APPS, "todo")
    return op.status(APPS, "todo")


def names(branches: list[dict[str, Any]]) -> list[str]:
    return sorted(b["name"] for b in branches)


async def test_a_branch_waits_while_its_app_is_missing(op) -> None:
    op.apply(BRANCHES, "dev", {"appDatabaseRef": {"name": "todo"}})

    with pytest.raises(errors.RetryLater):
        await op.reconcile(BRANCHES, "dev")

    assert op.condition(BRANCHES, "dev")["reason"] == "ParentNotFound"


async def test_a_branch_gets_its_own_compute_and_secret_and_its_app_as_owner(op, neon_api) -> None:
    app = await ready_app(op)
    op.apply(BRANCHES, "dev", {"appDatabaseRef": {"name": "todo"}})

    await op.reconcile(BRANCHES, "dev")

    status = op.status(BRANCHES, "dev")
    assert op.condition(BRANCHES, "dev")["status"] == "True"
    assert status["parentBranchId"] == app["defaultBranchId"]
    assert status["endpointId"] != app["endpointId"]
    assert (await op.secret("dev-neon"))["PGHOST_UNPOOLED"] == status["host"]
    assert "dev" in names(await neon_api.branches(app["projectId"]))
    owners = op.body(BRANCHES, "dev")["metadata"]["ownerReferences"]
    assert [o["uid"] for o in owners] == [op.body(APPS, "todo")["metadata"]["uid"]]


async def test_a_crash_right_after_create_takes_the_branch_over_without_a_twin(
    op, neon_api
) -> None:
    app = await ready_app(op)
    op.apply(BRANCHES, "dev", {"appDatabaseRef": {"name": "todo"}})
    op.crash_after("create_branch")

    with pytest.raises(op.Crash):
        await op.reconcile(BRANCHES, "dev")
    await op.reconcile(BRANCHES, "dev")

    assert names(await neon_api.branches(app["projectId"])).count("dev") == 1
    assert "BranchRecovered" in op.reasons("dev")
    assert op.condition(BRANCHES, "dev")["status"] == "True"


async def test_deleting_a_branch_with_children_waits_until_they_are_gone(op, neon_api) -> None:
    app = await ready_app(op)
    op.apply(BRANCHES, "dev", {"appDatabaseRef": {"name": "todo"}})
    await op.reconcile(BRANCHES, "dev")
    op.apply(
        BRANCHES,
        "feature",
        {"appDatabaseRef": {"name": "todo"}, "parentBranchRef": {"name": "dev"}},
    )
    await op.reconcile(BRANCHES, "feature")

    with pytest.raises(errors.RetryLater) as raised:
        await op.delete(BRANCHES, "dev")
    held = op.body(BRANCHES, "dev")
    reason = op.condition(BRANCHES, "dev")["reason"]
    await op.delete(BRANCHES, "feature")
    await op.delete(BRANCHES, "dev")

    assert raised.value.reason == reason == "BranchHasChildren"
    assert held["metadata"]["deletionTimestamp"]
    assert not op.exists(BRANCHES, "dev")
    assert names(await neon_api.branches(app["projectId"])) == ["main"]


async def test_deletion_policy_retain_keeps_the_neon_branch(op, neon_api) -> None:
    app = await ready_app(op)
    op.apply(BRANCHES, "dev", {"appDatabaseRef": {"name": "todo"}, "deletionPolicy": "Retain"})
    await op.reconcile(BRANCHES, "dev")

    await op.delete(BRANCHES, "dev")

    assert not op.exists(BRANCHES, "dev")
    assert "dev" in names(await neon_api.branches(app["projectId"]))
    assert "BranchRetained" in op.reasons("dev")


async def test_a_paused_branch_is_neither_created_nor_deleted(op, neon_api) -> None:
    app = await ready_app(op)
    paused = {op.settings.paused_annotation: "true"}
    op.apply(BRANCHES, "dev", {"appDatabaseRef": {"name": "todo"}})
    await op.reconcile(BRANCHES, "dev")
    op.edit(BRANCHES, "dev", {"metadata": {"annotations": paused}})
    op.apply(BRANCHES, "later", {"appDatabaseRef": {"name": "todo"}}, annotations=paused)

    await op.reconcile(BRANCHES, "later")
    await op.delete(BRANCHES, "dev")

    assert names(await neon_api.branches(app["projectId"])) == ["dev", "main"]
    assert op.condition(BRANCHES, "later", "Synced")["reason"] == "Paused"


async def test_deleting_the_app_collects_its_branches(op) -> None:
    await ready_app(op)
    op.apply(BRANCHES, "dev", {"appDatabaseRef": {"name": "todo"}})
    await op.reconcile(BRANCHES, "dev")

    await op.delete(APPS, "todo")

    # The garbage collector deletes the NeonBranch (its ownerReference names the app); its
    # finalizer then runs, and Neon's NotFound (the project is gone) counts as done.
    assert op.body(BRANCHES, "dev")["metadata"]["deletionTimestamp"]
    await op.delete(BRANCHES, "dev")
    assert not op.exists(BRANCHES, "dev")
