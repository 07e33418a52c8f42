"""NeonSnapshotSchedule and NeonConfig reconcilers on the in-memory Kube and the emulator: a
schedule's snapshots at its slots and their expiry, a NeonConfig's key and organizations."""

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


async def test_a_schedule_snapshots_at_each_slot_and_keeps_only_the_newest_ready(
    op, neon_api
) -> None:
    op.apply(APPS, "todo", {"tier": "free"})
    await op.reconcile(APPS, "todo")
    op.apply(
        SCHEDULES,
        "hourly",
        {"appDatabaseRef": {"name": "todo"}, "schedule": "0 * * * *", "keep": 1},
    )
    start = created_at(op, SCHEDULES, "hourly").replace(minute=0, second=0)
    project_id = op.status(APPS, "todo")["projectId"]

    async def tick(at: datetime.datetime) -> list[str]:
        """The schedule's run at ``at``, then one run of each of its snapshots."""
        op.ctx.clock = lambda: at
        await op.reconcile(SCHEDULES, "hourly")
        names = [b["metadata"]["name"] for b in await op.kube.list_objects(SNAPSHOTS, "apps")]
        for name in names:
            if op.body(SNAPSHOTS, name)["metadata"].get("deletionTimestamp"):
                await op.delete(SNAPSHOTS, name)  # the finalizer deletes the Neon snapshot
            else:
                await op.reconcile(SNAPSHOTS, name)
        return names

    first = await tick(start + HOUR + datetime.timedelta(minutes=1))
    second = await tick(start + 2 * HOUR + datetime.timedelta(minutes=1))
    await tick(start + 2 * HOUR + datetime.timedelta(minutes=2))

    assert first == [f"hourly-{start + HOUR:%Y%m%d%H%M}"]
    assert len(second) == 2  # the older one stays until the newer one is ready
    left = await op.kube.list_objects(
        SNAPSHOTS, "apps", label_selector="neon.operator.dev/schedule=hourly"
    )
    assert [b["metadata"]["name"] for b in left] == [f"hourly-{start + 2 * HOUR:%Y%m%d%H%M}"]
    snapshots = (await neon_api.get(f"/projects/{project_id}/snapshots"))["snapshots"]
    assert [s["name"] for s in snapshots] == [left[0]["metadata"]["name"]]
    assert op.status(SCHEDULES, "hourly")["active"] == [left[0]["metadata"]["name"]]
    assert "SnapshotExpired" in op.reasons("hourly")


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
