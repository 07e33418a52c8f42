"""NeonSnapshotSchedule against the real apiserver, operator and emulator.

One test lives through a real minute boundary (``* * * * *``): the schedule takes a snapshot
at the slot, owned and labelled, named after the slot, and expires what it already had (snapshots
labelled for it beforehand, as after a restart): the one older than ``maxAge`` at once, the
oldest beyond ``keep`` once the new one is ready. No assertion on speed: only waits with
generous deadlines.
"""

from __future__ import annotations

import datetime
import pathlib
import re
import time
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.e2e

GROUP, VERSION = "neon.operator.dev", "v1alpha1"
LABEL = "neon.operator.dev/schedule"
SCHEDULED = "neon.operator.dev/scheduled-time"
TIMEOUT = 150.0


class Objects:
    """Objects of one kind in the test's namespace."""

    def __init__(self, api: client.CustomObjectsApi, namespace: str, kind: str, plural: str):
        self.api, self.kind = api, kind
        self.args = (GROUP, VERSION, namespace, plural)

    def create(self, name: str, spec: dict[str, Any], **metadata: Any) -> None:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": self.kind,
            "metadata": {"name": name, **metadata},
            "spec": spec,
        }
        self.api.create_namespaced_custom_object(*self.args, body)

    def get(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(self.api.get_namespaced_custom_object(*self.args, name))
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def list(self, selector: str) -> list[dict[str, Any]]:
        found = self.api.list_namespaced_custom_object(*self.args, label_selector=selector)
        return [dict(item) for item in found["items"]]


def ready(obj: dict[str, Any] | None) -> bool:
    conditions = (obj or {}).get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def wait_for(what: str, check: Any, timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.5)


@pytest.fixture
def objects(apps: Any) -> dict[str, Objects]:
    api, namespace = apps.objects, apps.namespace
    return {
        "app": Objects(api, namespace, "NeonAppDatabase", "neonappdatabases"),
        "snapshot": Objects(api, namespace, "NeonSnapshot", "neonsnapshots"),
        "schedule": Objects(api, namespace, "NeonSnapshotSchedule", "neonsnapshotschedules"),
    }


def stamp(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_schedule_snapshots_at_its_slot_and_expires_by_age_and_count(
    objects: dict[str, Objects], neon: Any
) -> None:
    objects["app"].create("shop", {})
    wait_for("the app is Ready", lambda: ready(objects["app"].get("shop")))
    project_id = objects["app"].get("shop")["status"]["projectId"]  # type: ignore[index]
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    earlier = {  # what the schedule made before (e.g. before the operator restarted)
        "cp-ancient": now - datetime.timedelta(days=10),
        "cp-older": now - datetime.timedelta(hours=3),
        "cp-newer": now - datetime.timedelta(hours=2),
    }
    for name, due in earlier.items():
        objects["snapshot"].create(
            name,
            {"appDatabaseRef": {"name": "shop"}},
            labels={LABEL: "every-minute"},
            annotations={SCHEDULED: stamp(due)},
        )
    for name in earlier:
        wait_for(f"{name} is Ready", lambda name=name: ready(objects["snapshot"].get(name)))
    ancient_id = objects["snapshot"].get("cp-ancient")["status"]["snapshotId"]  # type: ignore[index]

    objects["schedule"].create(
        "every-minute",
        {
            "appDatabaseRef": {"name": "shop"},
            "schedule": "* * * * *",
            "keep": 2,
            "maxAge": "168h",
        },
    )

    wait_for(
        "the 10-day-old snapshot expired", lambda: objects["snapshot"].get("cp-ancient") is None
    )
    snapshots = neon.get(f"/projects/{project_id}/snapshots")["snapshots"]
    assert ancient_id not in [s["id"] for s in snapshots]
    made = wait_for(
        "a snapshot made at the slot",
        lambda: [
            s
            for s in objects["snapshot"].list(f"{LABEL}=every-minute")
            if s["metadata"]["name"].startswith("every-minute-")
        ],
    )
    assert len(made) == 1
    snap = made[0]
    name = snap["metadata"]["name"]
    assert re.fullmatch(r"every-minute-\d{12}", name)
    owners = {o["kind"]: o for o in snap["metadata"]["ownerReferences"]}
    assert owners["NeonSnapshotSchedule"]["name"] == "every-minute"
    assert owners["NeonSnapshotSchedule"]["controller"] is True
    assert owners["NeonAppDatabase"]["name"] == "shop"
    assert snap["spec"]["appDatabaseRef"] == {"name": "shop"}
    wait_for(f"{name} is Ready", lambda: ready(objects["snapshot"].get(name)))

    def settled() -> dict[str, Any] | None:
        status = (objects["schedule"].get("every-minute") or {}).get("status", {})
        return status if status.get("active") == ["cp-newer", name] else None

    status = wait_for("keep 2: the oldest expired once the new one is ready", settled)
    assert objects["snapshot"].get("cp-older") is None
    slot = datetime.datetime.strptime(name[-12:], "%Y%m%d%H%M").replace(tzinfo=datetime.UTC)
    last = datetime.datetime.fromisoformat(status["lastScheduleTime"].replace("Z", "+00:00"))
    following = datetime.datetime.fromisoformat(status["nextScheduleTime"].replace("Z", "+00:00"))
    assert last >= slot
    assert following > last
    assert (following - last) % datetime.timedelta(minutes=1) == datetime.timedelta(0)
    assert ready(objects["schedule"].get("every-minute"))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"schedule": "every day", "keep": 1}, "five cron fields"),
        ({"schedule": "0 3 * * * *", "keep": 1}, "five cron fields"),
        ({"schedule": "0 3 * * *"}, "set keep, maxAge or both"),
        ({"schedule": "0 3 * * *", "keep": 0}, "greater than or equal to 1"),
        ({"schedule": "0 3 * * *", "maxAge": "7d"}, "maxAge"),
    ],
)
def test_the_apiserver_refuses_a_schedule_that_cannot_work(
    objects: dict[str, Objects], spec: dict[str, Any], message: str
) -> None:
    with pytest.raises(ApiException) as refused:
        objects["schedule"].create("bad", {"appDatabaseRef": {"name": "shop"}, **spec})

    assert refused.value.status == 422
    assert message in refused.value.body


def test_a_schedule_that_only_cron_can_judge_reports_it(objects: dict[str, Objects]) -> None:
    objects["schedule"].create(
        "typo", {"appDatabaseRef": {"name": "shop"}, "schedule": "0 25 * * *", "keep": 1}
    )

    def invalid() -> dict[str, Any] | None:
        for found in (
            (objects["schedule"].get("typo") or {}).get("status", {}).get("conditions", [])
        ):
            if found["type"] == "Ready" and found["reason"] == "InvalidSchedule":
                return dict(found)
        return None

    condition = wait_for("Ready=False InvalidSchedule", invalid, timeout=60)
    assert condition["status"] == "False"
    assert "out of range" in condition["message"]
    assert "nextScheduleTime" not in objects["schedule"].get("typo")["status"]  # type: ignore[index]


def test_the_example_schedule_is_accepted_as_written(apps: Any) -> None:
    example = pathlib.Path(__file__).resolve().parents[2] / "deploy/examples/snapshot-schedule.yaml"
    body = yaml.safe_load(example.read_text())

    stored = apps.objects.create_namespaced_custom_object(
        GROUP, VERSION, apps.namespace, "neonsnapshotschedules", body, dry_run="All"
    )

    assert stored["spec"]["schedule"] == "0 */6 * * *"
    assert stored["spec"]["keep"] == 8
