"""NeonSnapshotSchedule and NeonConfig reconcilers on the in-memory Kube and the emulator: a
schedule's snapshots at its slots, their expiry by count and age, a slot taken before a crash,
a name it did not make, a missing app, suspend, pause, a cron only the parser refuses; a
NeonConfig's key (accepted, rejected, missing, rotated), organizations and namespace grants."""

from __future__ import annotations

import datetime

import pytest

from neon_operator import errors, grants

pytestmark = pytest.mark.integration

APPS = "neonappdatabases"
SNAPSHOTS = "neonsnapshots"
SCHEDULES = "neonsnapshotschedules"
HOUR = datetime.timedelta(hours=1)


def created_at(op, plural: str, name: str) -> datetime.datetime:
    stamp = op.body(plural, name)["metadata"]["creationTimestamp"]
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


async def hourly(op, app: bool = True, **spec: object) -> datetime.datetime:
    """The NeonSnapshotSchedule ``hourly`` of app ``todo`` (made Ready first unless ``app`` is
    false); the hour it was created in."""
    if app:
        op.apply(APPS, "todo", {"tier": "free"})
        await op.reconcile(APPS, "todo")
    op.apply(
        SCHEDULES,
        "hourly",
        {"appDatabaseRef": {"name": "todo"}, "schedule": "0 * * * *", "keep": 1, **spec},
    )
    return created_at(op, SCHEDULES, "hourly").replace(minute=0, second=0)


async def tick(op, at: datetime.datetime) -> list[str]:
    """The schedule's run at ``at``, then one run of each of its snapshots (the finalizer of
    one being deleted deletes its Neon snapshot); the NeonSnapshots there were."""
    op.ctx.clock = lambda: at
    await op.reconcile(SCHEDULES, "hourly")
    names = [b["metadata"]["name"] for b in await op.kube.list_objects(SNAPSHOTS, "apps")]
    for name in names:
        if op.body(SNAPSHOTS, name)["metadata"].get("deletionTimestamp"):
            await op.delete(SNAPSHOTS, name)
        else:
            await op.reconcile(SNAPSHOTS, name)
    return names


async def neon_snapshot_names(op, neon_api) -> list[str]:
    project_id = op.status(APPS, "todo")["projectId"]
    snapshots = (await neon_api.get(f"/projects/{project_id}/snapshots"))["snapshots"]
    return sorted(s["name"] for s in snapshots)


async def test_a_schedule_snapshots_at_each_slot_and_keeps_only_the_newest_ready(
    op, neon_api
) -> None:
    start = await hourly(op)

    first = await tick(op, start + HOUR + datetime.timedelta(minutes=1))
    second = await tick(op, start + 2 * HOUR + datetime.timedelta(minutes=1))
    await tick(op, start + 2 * HOUR + datetime.timedelta(minutes=2))

    assert first == [f"hourly-{start + HOUR:%Y%m%d%H%M}"]
    assert len(second) == 2  # the older one stays until the newer one is ready
    left = await op.kube.list_objects(
        SNAPSHOTS, "apps", label_selector="neon.operator.dev/schedule=hourly"
    )
    assert [b["metadata"]["name"] for b in left] == [f"hourly-{start + 2 * HOUR:%Y%m%d%H%M}"]
    assert await neon_snapshot_names(op, neon_api) == [left[0]["metadata"]["name"]]
    assert op.status(SCHEDULES, "hourly")["active"] == [left[0]["metadata"]["name"]]
    assert "SnapshotExpired" in op.reasons("hourly")


async def test_max_age_expires_a_snapshot_by_its_due_time(op, neon_api) -> None:
    start = await hourly(op, keep=None, maxAge="90m")

    await tick(op, start + HOUR)
    await tick(op, start + 2 * HOUR + datetime.timedelta(minutes=31))

    slot = f"hourly-{start + HOUR:%Y%m%d%H%M}"
    assert not op.exists(SNAPSHOTS, slot)  # 91 minutes after it was due
    assert slot not in await neon_snapshot_names(op, neon_api)
    assert op.status(SCHEDULES, "hourly")["active"] == [f"hourly-{start + 2 * HOUR:%Y%m%d%H%M}"]


async def test_a_slot_whose_snapshot_exists_already_makes_no_twin(op, neon_api) -> None:
    start = await hourly(op)
    await tick(op, start + HOUR)
    # A crash after creating the NeonSnapshot, before lastScheduleTime was written:
    await op.kube.patch_status(op.ref(SCHEDULES, "hourly"), {"lastScheduleTime": None})
    assert "lastScheduleTime" not in op.status(SCHEDULES, "hourly")

    names = await tick(op, start + HOUR + datetime.timedelta(minutes=5))

    slot = f"hourly-{start + HOUR:%Y%m%d%H%M}"
    assert names == [slot]
    assert op.reasons("hourly").count("SnapshotScheduled") == 1
    assert op.status(SCHEDULES, "hourly")["lastScheduleTime"].startswith(
        f"{start + HOUR:%Y-%m-%dT%H:%M}"
    )
    assert await neon_snapshot_names(op, neon_api) == [slot]


async def test_a_snapshot_of_the_slots_name_it_did_not_make_stops_the_schedule(op) -> None:
    start = await hourly(op)
    slot = f"hourly-{start + HOUR:%Y%m%d%H%M}"
    op.apply(SNAPSHOTS, slot, {"appDatabaseRef": {"name": "todo"}})

    op.ctx.clock = lambda: start + HOUR
    await op.reconcile(SCHEDULES, "hourly")

    stopped = op.condition(SCHEDULES, "hourly")
    assert (stopped["status"], stopped["reason"]) == ("False", "SnapshotNameTaken")
    assert "spec.snapshotNamePrefix" in stopped["message"]
    assert "neon.operator.dev/schedule" not in op.body(SNAPSHOTS, slot)["metadata"].get(
        "labels", {}
    )
    assert "lastScheduleTime" not in op.status(SCHEDULES, "hourly")


async def test_a_schedule_whose_app_is_missing_skips_the_slot(op) -> None:
    start = await hourly(op, app=False)

    names = await tick(op, start + HOUR)

    assert names == []
    waiting = op.condition(SCHEDULES, "hourly")
    assert (waiting["status"], waiting["reason"]) == ("False", "ParentNotFound")
    assert "was skipped" in waiting["message"]


async def test_a_suspended_schedule_makes_and_expires_nothing(op) -> None:
    start = await hourly(op)
    await tick(op, start + HOUR)
    op.edit(SCHEDULES, "hourly", {"spec": {"suspend": True}})

    names = await tick(op, start + 3 * HOUR)

    assert names == [f"hourly-{start + HOUR:%Y%m%d%H%M}"]
    assert op.condition(SCHEDULES, "hourly")["reason"] == "Suspended"
    assert op.status(SCHEDULES, "hourly").get("nextScheduleTime") is None


async def test_a_paused_schedule_makes_nothing(op) -> None:
    start = await hourly(op)
    op.edit(
        SCHEDULES, "hourly", {"metadata": {"annotations": {op.settings.paused_annotation: "true"}}}
    )

    names = await tick(op, start + HOUR)

    assert names == []
    assert op.condition(SCHEDULES, "hourly", "Synced")["reason"] == "Paused"


async def test_a_schedule_only_cron_can_judge_is_reported_and_makes_nothing(op) -> None:
    start = await hourly(op, schedule="0 25 * * *")

    names = await tick(op, start + 2 * HOUR)

    refused = op.condition(SCHEDULES, "hourly")
    assert names == []
    assert (refused["status"], refused["reason"]) == ("False", "InvalidSchedule")
    assert "out of range" in refused["message"]
    assert op.status(SCHEDULES, "hourly").get("nextScheduleTime") is None


async def test_deleting_a_schedule_keeps_its_snapshots_which_still_belong_to_the_app(
    op, neon_api
) -> None:
    start = await hourly(op)
    (slot,) = await tick(op, start + HOUR)

    op.kube.delete(SCHEDULES, "hourly", namespace="apps")  # a schedule has no delete step
    op.kube.remove_finalizer(SCHEDULES, "hourly", op.settings.finalizer, namespace="apps")

    assert not op.exists(SCHEDULES, "hourly")
    kept = op.body(SNAPSHOTS, slot)
    assert "deletionTimestamp" not in kept["metadata"]
    assert [o["kind"] for o in kept["metadata"]["ownerReferences"]] == [
        "NeonSnapshotSchedule",
        "NeonAppDatabase",
    ]
    assert await neon_snapshot_names(op, neon_api) == [slot]


async def test_a_neonconfig_whose_key_neon_accepts_is_ready(op) -> None:
    await op.check_config()

    assert (
        op.kube.get("neonconfigs", "default")["status"]["conditions"][0]["reason"] == "KeyAccepted"
    )


async def test_a_rejected_key_is_reported_on_the_config_and_on_its_apps(op) -> None:
    op.kube.delete("secrets", "neon-api-key", namespace="neon-operator-system")
    op.kube.create_secret("neon-operator-system", "neon-api-key", {"apiKey": "napi_wrong"})

    with pytest.raises(errors.RetryLater) as config:
        await op.check_config()
    op.apply(APPS, "todo", {"tier": "free"})
    with pytest.raises(errors.RetryLater) as app:
        await op.reconcile(APPS, "todo")

    assert config.value.reason == app.value.reason == "ApiKeyRejected"
    assert op.condition(APPS, "todo")["reason"] == "ApiKeyRejected"


async def test_an_organization_the_key_cannot_use_is_named(op) -> None:
    op.kube.patch(
        "neonconfigs", "default", {"spec": {"organizations": {"gold": "org-nobody-00000000"}}}
    )

    with pytest.raises(errors.RetryLater) as raised:
        await op.check_config()

    assert raised.value.reason == "OrganizationNotAccessible"
    assert "tier gold" in raised.value.message


async def test_an_app_naming_a_missing_neonconfig_waits_for_it(op) -> None:
    op.apply(APPS, "todo", {"tier": "free", "configRef": {"name": "other"}})

    with pytest.raises(errors.RetryLater) as raised:
        await op.reconcile(APPS, "todo")

    assert raised.value.reason == "NeonConfigNotFound"
    assert op.condition(APPS, "todo")["reason"] == "NeonConfigNotFound"


async def test_an_app_of_a_namespace_its_neonconfig_does_not_grant_gets_no_project(
    op, neon_api
) -> None:
    selector = {"matchLabels": {"team": "a"}}
    op.kube.patch(
        "neonconfigs",
        "default",
        {"spec": {"allowedNamespaces": None, "namespaceSelector": selector}},
    )
    await op.check_config()
    op.apply(APPS, "todo", {"tier": "free"})

    with pytest.raises(errors.RetryLater) as raised:
        await op.reconcile(APPS, "todo")

    assert raised.value.reason == "NeonConfigNotGranted"
    assert op.condition(APPS, "todo")["reason"] == "NeonConfigNotGranted"
    assert "'apps'" in op.condition(APPS, "todo")["message"]
    assert await neon_api.projects("free") == []
    # Labelled by an admin, the namespace is granted (labels are read again after their TTL).
    op.kube.namespaces["apps"] = {"team": "a"}
    op.accounts.namespace_labels = grants.NamespaceLabels(op.kube)
    await op.reconcile(APPS, "todo")
    assert op.condition(APPS, "todo")["status"] == "True"


async def test_a_missing_key_secret_is_reported_and_recovers_once_it_exists(op, neon_api) -> None:
    op.kube.delete("secrets", "neon-api-key", namespace="neon-operator-system")
    op.apply(APPS, "todo", {"tier": "free"})

    with pytest.raises(errors.RetryLater) as config:
        await op.check_config()
    with pytest.raises(errors.RetryLater) as app:
        await op.reconcile(APPS, "todo")
    op.kube.create_secret("neon-operator-system", "neon-api-key", {"apiKey": neon_api.api_key})
    await op.check_config()
    await op.reconcile(APPS, "todo")

    assert config.value.reason == app.value.reason == "ApiKeySecretNotFound"
    assert "neon-operator-system/neon-api-key" in config.value.message
    assert op.condition(APPS, "todo")["status"] == "True"
    assert len(await neon_api.projects("free", "apps-todo")) == 1


async def test_a_key_rotated_in_its_secret_is_used_after_the_next_check(op, neon_api) -> None:
    await op.check_config()
    response = await neon_api.api.post("/api_keys", json={"key_name": "rotated"})
    assert response.status_code == 200, response.text
    fresh = response.json()["key"]
    (old,) = [k for k in await neon_api.get("/api_keys") if k["name"] != "rotated"]
    op.kube.delete("secrets", "neon-api-key", namespace="neon-operator-system")
    op.kube.create_secret("neon-operator-system", "neon-api-key", {"apiKey": fresh})
    revoked = await neon_api.api.delete(f"/api_keys/{old['id']}")  # neon_api's own key
    assert revoked.status_code == 200, revoked.text

    await op.check_config()
    op.apply(APPS, "todo", {"tier": "free"})
    await op.reconcile(APPS, "todo")

    config = op.kube.get("neonconfigs", "default")
    assert config is not None
    assert config["status"]["conditions"][0]["reason"] == "KeyAccepted"
    assert op.condition(APPS, "todo")["status"] == "True"  # created with the new key alone
