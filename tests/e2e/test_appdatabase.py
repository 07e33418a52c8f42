"""NeonAppDatabase end to end: real kube-apiserver + controller-manager, the operator as a
subprocess, the Neon emulator over HTTP.

The emulator runs its PostgreSQL data plane, so the Secret's URLs really connect.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Any

import psycopg
import pytest
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.e2e

RESYNC_SECONDS = 1.0  # as the session operator of conftest.py runs

SECRET_KEYS = {
    "DATABASE_URL",
    "DATABASE_URL_UNPOOLED",
    "PGHOST",
    "PGHOST_UNPOOLED",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGDATABASE",
    "PGOPTIONS",  # the emulator's proxy is reached by address: the endpoint goes in options
}


def config_checked(apps, operator) -> None:
    """Wait until this operator has checked the default NeonConfig's key: one GET /projects
    per tier (the status may already say Ready, written by an earlier operator)."""
    config = apps.objects.get_cluster_custom_object(
        "neon.operator.dev", "v1alpha1", "neonconfigs", "default"
    )
    tiers = len(config["spec"]["organizations"])
    deadline = time.monotonic() + 60
    while operator.neon_calls("GET", "/projects") < tiers:
        assert time.monotonic() < deadline, "the operator never checked the NeonConfig"
        time.sleep(0.25)


def test_created_app_database_becomes_ready_with_a_complete_owned_secret(
    apps, neon, operator
) -> None:
    config_checked(apps, operator)
    searches = operator.neon_calls("GET", "/projects")
    apps.create("todo", {"tier": "free", "compute": {"minCu": 0.25, "maxCu": 1}})

    ready = apps.wait_condition("todo", "True", "ProjectReady")

    status = ready["status"]
    secret = apps.secret("todo-neon")
    assert secret is not None
    assert set(secret) == SECRET_KEYS
    # Neon's connection parameters say where to connect: the emulator's data plane answers one
    # proxy address for every compute and routes by the endpoint named in `options`.
    host, _, port = status["host"].rpartition(":")
    assert (secret["PGHOST_UNPOOLED"], secret["PGPORT"]) == (host, port)
    assert secret["PGHOST"] == status["poolerHost"].rpartition(":")[0]
    assert secret["PGOPTIONS"] == f"endpoint={status['endpointId']}"
    assert f"@{status['poolerHost']}/neondb?" in secret["DATABASE_URL"]
    assert f"@{status['host']}/neondb?" in secret["DATABASE_URL_UNPOOLED"]
    assert (secret["PGUSER"], secret["PGDATABASE"]) == ("neondb_owner", "neondb")
    owners = apps.secret_object("todo-neon").metadata.owner_references
    assert [(o.kind, o.name, o.controller) for o in owners] == [("NeonAppDatabase", "todo", True)]
    assert status["orgId"] == neon.organizations["sponsored"]
    assert "creationRequested" in status
    assert operator.neon_calls("GET", "/projects") == searches  # a first create looks up nothing
    assert status["consumption"]["computeTimeSeconds"] >= 0
    assert status["tier"] == "free"
    projects = neon.projects("sponsored", search=f"{apps.namespace}-todo")
    assert [p["id"] for p in projects] == [status["projectId"]]
    reasons = [reason for _, reason in apps.events("todo")]
    assert {"ProjectCreated", "SecretWritten", "ProjectReady"} <= set(reasons)
    assert secret["PGPASSWORD"] not in str(ready)


def test_an_app_connects_with_its_secret_as_neons_integrations_hand_it_out(apps) -> None:
    apps.create("shop", {})
    apps.wait_condition("shop", "True", "ProjectReady")
    secret = apps.secret("shop-neon")
    assert secret is not None

    with psycopg.connect(secret["DATABASE_URL"]) as pooled:
        pooled.execute("CREATE TABLE orders (id int PRIMARY KEY, item text)")
        pooled.execute("INSERT INTO orders VALUES (1, 'lamp')")
    with psycopg.connect(secret["DATABASE_URL_UNPOOLED"]) as direct:
        assert direct.execute("SELECT item FROM orders").fetchall() == [("lamp",)]
        assert direct.execute("SELECT current_user").fetchone() == (secret["PGUSER"],)

    env_only = {key: value for key, value in secret.items() if key.startswith("PG")}
    psql = subprocess.run(
        ["psql", "-XAtc", "SELECT count(*) FROM orders"],
        env={**os.environ, **env_only},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (psql.returncode, psql.stdout.strip()) == (0, "1"), psql.stderr


def test_compute_update_reaches_the_neon_endpoint(apps, neon) -> None:
    apps.create("resize", {"compute": {"minCu": 0.25, "maxCu": 1, "suspendTimeoutSeconds": 300}})
    before = apps.wait_condition("resize", "True")["status"]

    apps.patch("resize", {"spec": {"compute": {"maxCu": 4, "suspendTimeoutSeconds": -1}}})
    apps.wait_condition("resize", "True")

    endpoint = neon.endpoint(before["projectId"], before["endpointId"])
    assert endpoint["autoscaling_limit_min_cu"] == 0.25
    assert endpoint["autoscaling_limit_max_cu"] == 4
    assert endpoint["suspend_timeout_seconds"] == -1


def test_upgrading_the_tier_moves_the_project_to_the_paid_organization(apps, neon) -> None:
    apps.create("upgrade", {"tier": "free"})
    before = apps.wait_condition("upgrade", "True")["status"]
    assert before["orgId"] == neon.organizations["sponsored"]

    apps.patch("upgrade", {"spec": {"tier": "paid"}})
    after = apps.wait(
        "upgrade",
        lambda obj: bool(obj and obj.get("status", {}).get("tier") == "paid"),
        "tier paid in status",
    )["status"]

    assert after["projectId"] == before["projectId"]
    assert after["orgId"] == neon.organizations["paid"]
    assert neon.get(f"/projects/{before['projectId']}")["project"]["org_id"] == after["orgId"]
    assert ("Normal", "ProjectTransferred") in apps.events("upgrade")


def test_deleting_with_policy_delete_removes_the_neon_project(apps, neon) -> None:
    apps.create("doomed", {"deletionPolicy": "Delete"})
    project_id = apps.wait_condition("doomed", "True")["status"]["projectId"]

    apps.delete("doomed")
    apps.wait("doomed", lambda obj: obj is None, "deleted")

    assert not neon.project_exists(project_id)


def test_deleting_with_policy_retain_keeps_the_neon_project(apps, neon) -> None:
    apps.create("kept", {"deletionPolicy": "Retain"})
    project_id = apps.wait_condition("kept", "True")["status"]["projectId"]

    apps.delete("kept")
    apps.wait("kept", lambda obj: obj is None, "deleted")

    assert neon.project_exists(project_id)


def test_adopting_an_existing_project_takes_it_over_without_a_twin(apps, neon) -> None:
    existing = neon.post(
        "/projects", {"project": {"name": "legacy", "org_id": neon.organizations["paid"]}}
    )["project"]
    count_before = len(neon.projects("paid"))

    apps.create("legacy", {"tier": "paid", "adoptProjectId": existing["id"]})
    status = apps.wait_condition("legacy", "True")["status"]

    assert status["projectId"] == existing["id"]
    assert len(neon.projects("paid")) == count_before
    secret = apps.secret("legacy-neon")
    assert secret is not None
    assert set(secret) == SECRET_KEYS
    assert ("Normal", "ProjectAdopted") in apps.events("legacy")


def test_a_deleted_or_edited_secret_is_restored_by_the_resync(apps) -> None:
    apps.create("healing", {"connectionSecret": {"name": "healing-db", "keyPrefix": "APP_"}})
    apps.wait_condition("healing", "True")
    original = apps.secret("healing-db")
    assert original is not None
    assert set(original) == {"APP_" + key for key in SECRET_KEYS}

    apps.core.delete_namespaced_secret("healing-db", apps.namespace)
    restored = _wait_secret(apps, "healing-db", lambda data: data == original)

    apps.core.patch_namespaced_secret(
        "healing-db", apps.namespace, {"stringData": {"APP_PGPASSWORD": "guessed"}}
    )
    repaired = _wait_secret(apps, "healing-db", lambda data: data == original)
    assert restored == repaired == original


def test_password_rotation_token_resets_the_password_once(apps) -> None:
    apps.create("rotating", {})
    apps.wait_condition("rotating", "True")
    first = apps.secret("rotating-neon")
    assert first is not None

    apps.patch("rotating", {"spec": {"passwordRotation": "2026-01"}})
    ready = apps.wait_condition("rotating", "True")
    second = apps.secret("rotating-neon")

    assert second is not None
    assert second["PGPASSWORD"] != first["PGPASSWORD"]
    assert second["PGPASSWORD"] in second["DATABASE_URL"]
    assert ready["status"]["passwordRotation"] == "2026-01"


def test_a_paused_resource_is_left_alone_until_unpaused(apps, neon) -> None:
    apps.create("sleepy", {"compute": {"maxCu": 1}})
    status = apps.wait_condition("sleepy", "True")["status"]

    apps.patch(
        "sleepy",
        {
            "metadata": {"annotations": {"neon.operator.dev/paused": "true"}},
            "spec": {"compute": {"maxCu": 2}},
        },
    )
    apps.wait_condition("sleepy", "False", "Paused", type_="Synced")
    assert neon.endpoint(status["projectId"], status["endpointId"])["autoscaling_limit_max_cu"] == 1

    apps.patch("sleepy", {"metadata": {"annotations": {"neon.operator.dev/paused": None}}})
    apps.wait_condition("sleepy", "True", "ReconcileSucceeded", type_="Synced")
    assert neon.endpoint(status["projectId"], status["endpointId"])["autoscaling_limit_max_cu"] == 2


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        ({"compute": {"minCu": 4, "maxCu": 2}}, "spec.compute.minCu", "greater than maxCu"),
        ({"compute": {"maxCu": 0.3}}, "spec.compute.maxCu", "compute size"),
        ({"compute": {"minCu": 0.25, "maxCu": 12}}, "spec.compute.maxCu", "at most 8"),
        ({"tier": "gold"}, "spec.tier", 'unknown tier "gold"'),
    ],
)
def test_an_invalid_spec_is_refused_at_admission_naming_the_field(
    apps, spec: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(ApiException) as refused:
        apps.create("invalid", spec)

    message = json.loads(refused.value.body)["message"]
    assert refused.value.status == 422
    assert field in message
    assert words in message


def test_changing_an_immutable_field_is_refused_at_admission(apps) -> None:
    apps.create("pinned", {"regionId": "aws-us-east-2", "pgVersion": 17})
    apps.wait_condition("pinned", "True")

    for change, field in (
        ({"regionId": "aws-eu-central-1"}, "regionId"),
        ({"pgVersion": 16}, "pgVersion"),
    ):
        with pytest.raises(ApiException) as refused:
            apps.patch("pinned", {"spec": change})
        assert refused.value.status == 422
        assert f"{field} is immutable" in refused.value.body


def test_neon_rejection_shows_as_ready_false_without_a_retry_storm(apps, operator) -> None:
    before = operator.neon_calls("POST", "/projects", status=400)
    apps.create("martian", {"regionId": "aws-mars-1"})

    rejected = apps.wait_condition("martian", "False", "NeonRejected")
    assert "aws-mars-1" in _condition(rejected, "Ready")["message"]
    time.sleep(5 * RESYNC_SECONDS)  # five resync intervals of the session operator

    assert operator.neon_calls("POST", "/projects", status=400) - before == 1
    assert ("Warning", "NeonRejected") in apps.events("martian")


def test_a_missing_neonconfig_is_reported_and_recovers_without_crash_looping(
    apps, operator
) -> None:
    apps.create("orphan", {"configRef": {"name": "absent"}})

    stuck = apps.wait_condition("orphan", "False", "NeonConfigNotFound")

    assert "NeonConfig 'absent' does not exist" in _condition(stuck, "Ready")["message"]
    assert operator.popen.poll() is None


def _condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    found = next(c for c in obj["status"]["conditions"] if c["type"] == type_)
    return dict(found)


def _wait_secret(apps, name: str, check, timeout: float = 60.0) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    data = apps.secret(name)
    while data is None or not check(data):
        if time.monotonic() > deadline:
            raise AssertionError(f"Secret {name} not restored")
        time.sleep(0.25)
        data = apps.secret(name)
    return dict(data)
