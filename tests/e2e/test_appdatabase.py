"""NeonAppDatabase end to end: real kube-apiserver + controller-manager, the operator as a
subprocess, the Neon emulator over HTTP.

The emulator runs its PostgreSQL data plane, so the Secret's URLs really connect. What needs
no apiserver (adoption, tier moves, compute updates, password rotation, pause, deletion
policies) is proved in ``tests/operator/reconcilers/test_appdatabase.py``; this file keeps
admission, the watch, the real operator process and the data plane.
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
