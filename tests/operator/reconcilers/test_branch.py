"""NeonBranch reconciler on the in-memory Kube and the emulator: waiting for its app, its own
compute and Secret, branches of branches, recovery after a crash, a name taken by someone else,
a point in time outside the history window, children holding deletion, deletion policies."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from neon_operator import errors

pytestmark = pytest.mark.integration

APPS = "neonappdatabases"
BRANCHES = "neonbranches"


async def ready_app(op, **spec: object) -> dict[str, Any]:
    op.apply(APPS, "todo", {"tier": "free", **spec})
    await op.reconcile(APPS, "todo")
    return op.status(APPS, "todo")


async def make_branch(op, name: str = "dev", **spec: object) -> dict[str, Any]:
    """The NeonBranch ``name`` of the app ``todo``, reconciled once; its status."""
    op.apply(BRANCHES, name, {"appDatabaseRef": {"name": "todo"}, **spec})
    await op.reconcile(BRANCHES, name)
    return op.status(BRANCHES, name)


async def crash_right_after_create(op) -> None:
    """The operator dies right after Neon answered the create of NeonBranch ``dev``."""
    op.apply(BRANCHES, "dev", {"appDatabaseRef": {"name": "todo"}})
    op.crash_after("create_branch")
    with pytest.raises(op.Crash):
        await op.reconcile(BRANCHES, "dev")


def names(branches: list[dict[str, Any]]) -> list[str]:
    return sorted(b["name"] for b in branches)


async def test_a_branch_waits_while_its_app_is_missing(op) -> None:
    op.apply(BRANCHES, "dev", {"appDatabaseRef": {"name": "todo"}})

    with pytest.raises(errors.RetryLater):
        await op.reconcile(BRANCHES, "dev")

    assert op.condition(BRANCHES, "dev")["reason"] == "ParentNotFound"


async def test_a_branch_gets_its_own_compute_and_secret_and_its_app_as_owner(op, neon_api) -> None:
    app = await ready_app(op)

    status = await make_branch(op)

    assert op.condition(BRANCHES, "dev")["status"] == "True"
    assert status["parentBranchId"] == app["defaultBranchId"]
    assert status["endpointId"] != app["endpointId"]
    assert (await op.secret("dev-neon"))["PGHOST_UNPOOLED"] == status["host"]
    assert "dev" in names(await neon_api.branches(app["projectId"]))
    owners = op.body(BRANCHES, "dev")["metadata"]["ownerReferences"]
    assert [o["uid"] for o in owners] == [op.body(APPS, "todo")["metadata"]["uid"]]


async def test_a_branch_of_a_branch_branches_from_that_branch(op) -> None:
    await ready_app(op)
    parent = await make_branch(op, compute={"type": "None"})

    child = await make_branch(op, "feature", parentBranchRef={"name": "dev"})

    assert child["parentBranchId"] == parent["branchId"]
    assert "endpointId" not in parent
    assert await op.kube.read_secret("apps", "dev-neon") is None  # no compute, no Secret


async def test_a_crash_right_after_create_takes_the_branch_over_without_a_twin(
    op, neon_api
) -> None:
    app = await ready_app(op)
    await crash_right_after_create(op)

    await op.reconcile(BRANCHES, "dev")

    assert names(await neon_api.branches(app["projectId"])).count("dev") == 1
    assert "BranchRecovered" in op.reasons("dev")
    assert op.condition(BRANCHES, "dev")["status"] == "True"


async def test_deleting_after_a_crash_before_status_deletes_the_branch_it_made(
    op, neon_api
) -> None:
    app = await ready_app(op)
    await crash_right_after_create(op)
    crashed = op.status(BRANCHES, "dev")

    await op.delete(BRANCHES, "dev")

    assert crashed.get("creationRequested")
    assert "branchId" not in crashed
    assert not op.exists(BRANCHES, "dev")
    assert names(await neon_api.branches(app["projectId"])) == ["main"]


async def test_a_neon_branch_of_that_name_made_by_someone_else_is_never_taken_over(
    op, neon_api
) -> None:
    app = await ready_app(op)
    response = await neon_api.api.post(
        f"/projects/{app['projectId']}/branches", json={"branch": {"name": "dev"}}
    )
    assert response.status_code == 201, response.text
    theirs = response.json()["branch"]["id"]
    op.apply(BRANCHES, "dev", {"appDatabaseRef": {"name": "todo"}})

    with pytest.raises(errors.AwaitChange) as raised:
        await op.reconcile(BRANCHES, "dev")

    refused = op.condition(BRANCHES, "dev")
    assert raised.value.reason == refused["reason"] == "BranchNameTaken"
    assert "spec.branchName" in refused["message"]
    assert "branchId" not in op.status(BRANCHES, "dev")
    named = [b["id"] for b in await neon_api.branches(app["projectId"]) if b["name"] == "dev"]
    assert named == [theirs]


async def test_a_point_in_time_outside_the_history_window_is_refused_before_asking_neon(
    op, neon_api
) -> None:
    app = await ready_app(op, historyRetentionSeconds=3600)
    before = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=2)
    op.apply(
        BRANCHES,
        "old",
        {
            "appDatabaseRef": {"name": "todo"},
            "parentTimestamp": before.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    )

    with pytest.raises(errors.AwaitChange) as raised:
        await op.reconcile(BRANCHES, "old")

    refused = op.condition(BRANCHES, "old")
    assert raised.value.reason == refused["reason"] == "OutsideHistoryWindow"
    assert "outside the project's history window" in refused["message"]
    assert "3600s" in refused["message"]
    assert names(await neon_api.branches(app["projectId"])) == ["main"]


async def test_deleting_a_branch_with_children_waits_until_they_are_gone(op, neon_api) -> None:
    app = await ready_app(op)
    await make_branch(op)
    await make_branch(op, "feature", parentBranchRef={"name": "dev"})

    with pytest.raises(errors.RetryLater) as raised:
        await op.delete(BRANCHES, "dev")
    held = op.body(BRANCHES, "dev")
    waiting = op.condition(BRANCHES, "dev")
    while_held = names(await neon_api.branches(app["projectId"]))
    await op.delete(BRANCHES, "feature")
    await op.delete(BRANCHES, "dev")

    assert raised.value.reason == waiting["reason"] == "BranchHasChildren"
    assert waiting["status"] == "False"
    assert "delete those NeonBranches" in waiting["message"]
    assert held["metadata"]["deletionTimestamp"]
    assert while_held == ["dev", "feature", "main"]  # Neon kept the parent
    assert not op.exists(BRANCHES, "dev")
    assert names(await neon_api.branches(app["projectId"])) == ["main"]


async def test_deletion_policy_delete_removes_the_neon_branch_and_its_secret_goes_too(
    op, neon_api
) -> None:
    app = await ready_app(op)
    branch_id = (await make_branch(op))["branchId"]

    await op.delete(BRANCHES, "dev")

    assert not op.exists(BRANCHES, "dev")
    path = f"/projects/{app['projectId']}/branches/{branch_id}"
    assert await neon_api.status_of(path) == 404
    assert await op.kube.read_secret("apps", "dev-neon") is None  # garbage collected
    assert "BranchDeleted" in op.reasons("dev")


async def test_deletion_policy_retain_keeps_the_neon_branch(op, neon_api) -> None:
    app = await ready_app(op)
    await make_branch(op, deletionPolicy="Retain")

    await op.delete(BRANCHES, "dev")

    assert not op.exists(BRANCHES, "dev")
    assert "dev" in names(await neon_api.branches(app["projectId"]))
    assert "BranchRetained" in op.reasons("dev")


async def test_a_paused_branch_is_neither_created_nor_deleted(op, neon_api) -> None:
    app = await ready_app(op)
    paused = {op.settings.paused_annotation: "true"}
    await make_branch(op)
    op.edit(BRANCHES, "dev", {"metadata": {"annotations": paused}})
    op.apply(BRANCHES, "later", {"appDatabaseRef": {"name": "todo"}}, annotations=paused)

    await op.reconcile(BRANCHES, "later")
    await op.delete(BRANCHES, "dev")

    assert names(await neon_api.branches(app["projectId"])) == ["dev", "main"]
    assert op.condition(BRANCHES, "later", "Synced")["reason"] == "Paused"


async def test_deleting_the_app_collects_its_branches(op) -> None:
    await ready_app(op)
    await make_branch(op)

    await op.delete(APPS, "todo")

    # The garbage collector deletes the NeonBranch (its ownerReference names the app); its
    # finalizer then runs, and Neon's NotFound (the project is gone) counts as done.
    assert op.body(BRANCHES, "dev")["metadata"]["deletionTimestamp"]
    await op.delete(BRANCHES, "dev")
    assert not op.exists(BRANCHES, "dev")
