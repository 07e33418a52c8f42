"""NeonAppDatabase reconciler on the in-memory Kube and the emulator: create, adopt, recover after
a crash, transfer between tiers, rotate the password, pause, delete or retain."""

from __future__ import annotations

from typing import Any

import pytest

from neon_operator import connection, errors
from neon_operator.reconcilers import appdatabase

pytestmark = pytest.mark.integration

APPS = "neonappdatabases"


async def make_app(op, name: str = "todo", **spec: object) -> dict[str, Any]:
    op.apply(APPS, name, {"tier": "free", **spec})
    await op.reconcile(APPS, name)
    return op.status(APPS, name)


async def crash_right_after_create(op) -> None:
    """The operator dies right after Neon answered the create, before it wrote anything."""
    op.apply(APPS, "todo", {"tier": "free"})
    op.crash_after("create_project")
    with pytest.raises(op.Crash):
        await op.reconcile(APPS, "todo")


async def test_a_new_app_gets_one_project_and_a_complete_owned_secret(op, neon_api) -> None:
    status = await make_app(op)

    (project,) = await neon_api.projects("free", "apps-todo")
    assert status["projectId"] == project["id"]
    assert op.condition(APPS, "todo")["status"] == "True"
    secret = await op.secret("todo-neon")
    assert secret["PGHOST_UNPOOLED"] == status["host"]
    assert secret["PGPASSWORD"]
    assert secret["DATABASE_URL"].startswith("postgresql://")
    stored = await op.kube.read_secret("apps", "todo-neon")
    assert stored is not None
    assert stored.controller_uid == op.body(APPS, "todo")["metadata"]["uid"]
    assert "ProjectCreated" in op.reasons("todo")


async def test_reconciling_a_converged_app_again_rewrites_nothing(op, neon_api) -> None:
    await make_app(op)
    secret = op.kube.get("secrets", "todo-neon", namespace="apps")
    events = len(op.kube.events)

    await op.reconcile(APPS, "todo")

    assert len(await neon_api.projects("free")) == 1
    assert op.kube.get("secrets", "todo-neon", namespace="apps") == secret
    assert len(op.kube.events) == events


@pytest.mark.parametrize("tier", ["free", "paid"])
async def test_adopting_an_existing_project_takes_it_over_without_a_twin(
    op, neon_api, tier: str
) -> None:
    existing = (await neon_api.create_project(tier, name="legacy"))["project"]

    status = await make_app(op, tier=tier, adoptProjectId=existing["id"])

    assert status["projectId"] == existing["id"]
    assert status["orgId"] == neon_api.organizations[tier]
    assert [p["id"] for p in await neon_api.projects(tier)] == [existing["id"]]
    assert "ProjectAdopted" in op.reasons("todo")
    assert "ProjectCreated" not in op.reasons("todo")
    secret = await op.secret("todo-neon")
    assert set(secret) == set(connection.KEYS)
    assert secret["PGHOST_UNPOOLED"] == status["host"]
    (project,) = await neon_api.projects(tier)
    assert project["name"] == "legacy"  # an adopted project keeps its name unless spec says


async def test_a_retained_project_is_adopted_back_by_its_namespace_and_refused_to_others(
    op, neon_api
) -> None:
    project_id = (await make_app(op, deletionPolicy="Retain"))["projectId"]
    await op.delete(APPS, "todo")

    stranger = op.kube.create(
        APPS,
        {
            "kind": "NeonAppDatabase",
            "metadata": {"name": "grab", "finalizers": [op.settings.finalizer]},
            "spec": {"tier": "free", "adoptProjectId": project_id},
        },
        namespace="other",
    )
    with pytest.raises(errors.AwaitChange) as refused:
        await appdatabase.reconcile(op.ctx, stranger)
    back = await make_app(op, "again", adoptProjectId=project_id)

    assert refused.value.reason == "AdoptionRefused"
    assert "'apps'" in refused.value.message
    grabbed = op.kube.get(APPS, "grab", namespace="other")
    assert grabbed is not None
    assert "projectId" not in grabbed["status"]
    assert back["projectId"] == project_id
    assert op.condition(APPS, "again")["status"] == "True"
    assert [p["id"] for p in await neon_api.projects("free")] == [project_id]


async def test_adopting_an_id_neon_does_not_know_waits_for_a_new_resource(op) -> None:
    op.apply(APPS, "todo", {"tier": "free", "adoptProjectId": "no-such-project-123"})

    with pytest.raises(errors.AwaitChange) as raised:
        await op.reconcile(APPS, "todo")

    assert raised.value.reason == "AdoptedProjectNotFound"
    assert op.condition(APPS, "todo")["reason"] == "AdoptedProjectNotFound"


async def test_a_crash_right_after_create_is_recovered_by_the_uid_marker_without_a_twin(
    op, neon_api
) -> None:
    await crash_right_after_create(op)
    crashed = op.status(APPS, "todo")
    await op.reconcile(APPS, "todo")

    assert crashed.get("creationRequested")  # written before Neon was asked
    assert "projectId" not in crashed  # the crash lost the answer
    (project,) = await neon_api.projects("free", "apps-todo")
    assert op.status(APPS, "todo")["projectId"] == project["id"]
    assert "ProjectRecovered" in op.reasons("todo")
    assert op.condition(APPS, "todo")["status"] == "True"


async def test_a_rerun_with_a_body_older_than_the_create_reports_nothing_over_ready(
    op, neon_api
) -> None:
    # kopf, its progress patch slow under load, ran a create handler again with the body it
    # first saw: that run must leave the Ready status the first one wrote, and make no twin.
    await make_app(op)
    stale = op.body(APPS, "todo")
    del stale["status"]  # as kopf first saw it
    assert op.condition(APPS, "todo")["status"] == "True"

    with pytest.raises(errors.Raced) as raised:
        await appdatabase.reconcile(op.ctx, stale)

    assert raised.value.reason == "CreatedMeanwhile"
    assert op.condition(APPS, "todo")["status"] == "True"
    assert len(await neon_api.projects("free", "apps-todo")) == 1


async def test_recovery_never_takes_a_same_named_project_made_for_someone_else(
    op, neon_api
) -> None:
    stranger = (await neon_api.create_project("free", name="apps-todo"))["project"]
    op.apply(APPS, "todo", {"tier": "free"})
    # A crash between "creation requested" and the create call itself:
    await op.kube.patch_status(op.ref(APPS, "todo"), {"creationRequested": "2026-01-01T00:00:00Z"})

    await op.reconcile(APPS, "todo")

    named = await neon_api.projects("free", "apps-todo")
    assert len(named) == 2
    assert op.status(APPS, "todo")["projectId"] != stranger["id"]


async def test_deleting_after_a_crash_before_status_deletes_the_project_it_made(
    op, neon_api
) -> None:
    await crash_right_after_create(op)
    (project,) = await neon_api.projects("free")

    await op.delete(APPS, "todo")

    assert await neon_api.status_of(f"/projects/{project['id']}") == 404
    assert not op.exists(APPS, "todo")


async def test_changing_the_tier_moves_the_project_to_that_tiers_organization(op, neon_api) -> None:
    project_id = (await make_app(op))["projectId"]

    op.edit(APPS, "todo", {"spec": {"tier": "paid"}})
    await op.reconcile(APPS, "todo")

    project = (await neon_api.get(f"/projects/{project_id}"))["project"]
    assert project["org_id"] == neon_api.organizations["paid"]
    assert op.status(APPS, "todo")["tier"] == "paid"
    assert op.status(APPS, "todo")["orgId"] == neon_api.organizations["paid"]
    assert "ProjectTransferred" in op.reasons("todo")


async def test_an_unknown_tier_is_reported_and_retried_later(op) -> None:
    op.apply(APPS, "todo", {"tier": "gold"})

    with pytest.raises(errors.RetryLater) as raised:
        await op.reconcile(APPS, "todo")

    assert raised.value.reason == "UnknownTier"
    assert op.condition(APPS, "todo")["reason"] == "UnknownTier"


@pytest.mark.parametrize("where", ["spec", "annotation"])
async def test_a_new_rotation_token_resets_the_password_once(op, where: str) -> None:
    await make_app(op)
    before = (await op.secret("todo-neon"))["PGPASSWORD"]

    if where == "spec":
        op.edit(APPS, "todo", {"spec": {"passwordRotation": "2026-12"}})
    else:
        annotation = op.settings.password_rotation_annotation
        op.edit(APPS, "todo", {"metadata": {"annotations": {annotation: "2026-12"}}})
    await op.reconcile(APPS, "todo")
    rotated = (await op.secret("todo-neon"))["PGPASSWORD"]
    await op.reconcile(APPS, "todo")

    assert rotated != before
    secret = await op.secret("todo-neon")
    assert secret["PGPASSWORD"] == rotated
    assert f":{rotated}@" in secret["DATABASE_URL"]
    assert f":{rotated}@" in secret["DATABASE_URL_UNPOOLED"]
    assert op.reasons("todo").count("PasswordRotated") == 1
    assert op.status(APPS, "todo")["passwordRotation"] == "2026-12"


async def test_a_compute_change_reaches_the_endpoint(op, neon_api) -> None:
    status = await make_app(op, compute={"minCu": 0.25, "maxCu": 1, "suspendTimeoutSeconds": 300})

    op.edit(APPS, "todo", {"spec": {"compute": {"maxCu": 4, "suspendTimeoutSeconds": -1}}})
    await op.reconcile(APPS, "todo")

    path = f"/projects/{status['projectId']}/endpoints/{status['endpointId']}"
    endpoint = (await neon_api.get(path))["endpoint"]
    assert endpoint["autoscaling_limit_min_cu"] == 0.25  # a merge patch keeps what it omits
    assert endpoint["autoscaling_limit_max_cu"] == 4
    assert endpoint["suspend_timeout_seconds"] == -1
    assert "ComputeUpdated" in op.reasons("todo")


async def test_the_resync_rewrites_a_deleted_secret_from_what_status_knows(op) -> None:
    await make_app(op)
    password = (await op.secret("todo-neon"))["PGPASSWORD"]
    await op.kube.delete_secret("apps", "todo-neon")

    await op.reconcile(APPS, "todo", resync=True)

    assert (await op.secret("todo-neon"))["PGPASSWORD"] == password
    assert "SecretWritten" in op.reasons("todo")[-1:]


async def test_a_paused_app_is_left_alone_and_deleting_it_keeps_the_project(op, neon_api) -> None:
    project_id = (await make_app(op))["projectId"]
    op.edit(APPS, "todo", {"metadata": {"annotations": {op.settings.paused_annotation: "true"}}})
    op.edit(APPS, "todo", {"spec": {"tier": "paid"}})

    await op.reconcile(APPS, "todo")
    await op.delete(APPS, "todo")

    project = (await neon_api.get(f"/projects/{project_id}"))["project"]
    assert project["org_id"] == neon_api.organizations["free"]  # no transfer while paused
    assert "ProjectRetained" in op.reasons("todo")
    assert not op.exists(APPS, "todo")


async def test_a_change_made_while_paused_is_applied_once_unpaused(op, neon_api) -> None:
    status = await make_app(op, compute={"maxCu": 1})
    path = f"/projects/{status['projectId']}/endpoints/{status['endpointId']}"
    paused = op.settings.paused_annotation
    op.edit(
        APPS,
        "todo",
        {"metadata": {"annotations": {paused: "true"}}, "spec": {"compute": {"maxCu": 2}}},
    )

    await op.reconcile(APPS, "todo")
    while_paused = (await neon_api.get(path))["endpoint"]["autoscaling_limit_max_cu"]
    synced_while_paused = op.condition(APPS, "todo", "Synced")
    op.edit(APPS, "todo", {"metadata": {"annotations": {paused: None}}})
    await op.reconcile(APPS, "todo")

    assert while_paused == 1
    assert (synced_while_paused["status"], synced_while_paused["reason"]) == ("False", "Paused")
    assert (await neon_api.get(path))["endpoint"]["autoscaling_limit_max_cu"] == 2
    assert op.condition(APPS, "todo", "Synced")["reason"] == "ReconcileSucceeded"


async def test_a_paused_new_app_creates_nothing(op, neon_api) -> None:
    op.apply(APPS, "todo", {"tier": "free"}, annotations={op.settings.paused_annotation: "true"})

    await op.reconcile(APPS, "todo")

    assert await neon_api.projects("free") == []
    assert op.condition(APPS, "todo", "Synced")["reason"] == "Paused"


async def test_deletion_policy_delete_removes_the_project_and_the_secret_goes_with_the_app(
    op, neon_api
) -> None:
    project_id = (await make_app(op))["projectId"]

    await op.delete(APPS, "todo")

    assert await neon_api.status_of(f"/projects/{project_id}") == 404
    assert not op.exists(APPS, "todo")
    assert await op.kube.read_secret("apps", "todo-neon") is None  # garbage collected
    assert "ProjectDeleted" in op.reasons("todo")


async def test_deletion_policy_retain_keeps_the_project(op, neon_api) -> None:
    project_id = (await make_app(op, deletionPolicy="Retain"))["projectId"]

    await op.delete(APPS, "todo")

    assert await neon_api.status_of(f"/projects/{project_id}") == 200
    assert not op.exists(APPS, "todo")
    assert "ProjectRetained" in op.reasons("todo")
