"""Starting, health, bootstrap.json and state that survives a restart."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

pytestmark = pytest.mark.integration


def test_first_start_writes_bootstrap_with_a_key_for_two_organizations(own_emulator: Any) -> None:
    info = own_emulator.bootstrap
    assert set(info) == {"api_url", "api_key", "organizations"}
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/v2", info["api_url"])
    assert re.fullmatch(r"napi_[a-z0-9]{64}", info["api_key"])
    assert set(info["organizations"]) == {"sponsored", "paid"}
    for org_id in info["organizations"].values():
        assert re.fullmatch(r"org-[a-z]+-[a-z]+-\d{8}", org_id)
    with own_emulator.client() as api:
        orgs = api.get("/users/me/organizations").json()["organizations"]
    assert {o["id"] for o in orgs} == set(info["organizations"].values())


def test_healthz_answers_outside_the_api(own_emulator: Any) -> None:
    with own_emulator.admin() as admin:
        response = admin.get("/healthz")
    assert response.status_code == 200


def test_restart_keeps_key_organizations_and_projects(
    own_emulator: Any, create_project: Any
) -> None:
    with own_emulator.client() as api:
        created = create_project(api, own_emulator.organizations["paid"], name="survivor")
    before = dict(own_emulator.bootstrap)

    own_emulator.restart()

    assert own_emulator.api_key == before["api_key"]
    assert own_emulator.organizations == before["organizations"]
    with own_emulator.client() as api:
        project_id = created["project"]["id"]
        got = api.get(f"/projects/{project_id}")
        assert got.status_code == 200
        assert got.json()["project"]["name"] == "survivor"
        roles = api.get(f"/projects/{project_id}/branches/{created['branch']['id']}/roles")
        assert [r["name"] for r in roles.json()["roles"]] == ["neondb_owner"]


def test_operations_unfinished_at_shutdown_finish_after_restart(
    own_emulator: Any, wait_for_operations: Any
) -> None:
    with own_emulator.admin() as admin:
        admin.put("/admin/operations", json={"latency_seconds": 60})
    with own_emulator.client() as api:
        created = api.post(
            "/projects", json={"project": {"org_id": own_emulator.organizations["paid"]}}
        ).json()
    project_id = created["project"]["id"]

    own_emulator.restart()

    with own_emulator.client() as api:
        wait_for_operations(api, project_id)
        statuses = {
            op["status"]
            for op in api.get(f"/projects/{project_id}/operations").json()["operations"]
        }
        assert statuses == {"finished"}
        endpoint = api.get(f"/projects/{project_id}/endpoints").json()["endpoints"][0]
        assert endpoint["current_state"] == "active"


def test_state_from_before_member_records_keeps_the_bootstrap_user_in_its_organizations(
    own_emulator: Any,
) -> None:
    own_emulator.stop()
    db = sqlite3.connect(own_emulator.state_dir / "state.sqlite3")
    with db:
        user_id = json.loads(
            db.execute("SELECT body FROM records WHERE kind = 'user'").fetchone()[0]
        )["id"]
        db.execute("DELETE FROM records WHERE kind = 'member'")
        for org_id, body in db.execute(
            "SELECT id, body FROM records WHERE kind = 'organization'"
        ).fetchall():
            legacy = {**json.loads(body), "member_ids": [user_id]}
            db.execute(
                "UPDATE records SET body = ? WHERE kind = 'organization' AND id = ?",
                (json.dumps(legacy), org_id),
            )
    db.close()

    own_emulator.start()

    paid = own_emulator.organizations["paid"]
    with own_emulator.client() as api:
        orgs = api.get("/users/me/organizations").json()["organizations"]
        members = api.get(f"/organizations/{paid}/members").json()["members"]
    assert {o["id"] for o in orgs} == set(own_emulator.organizations.values())
    assert [(m["member"]["user_id"], m["member"]["role"]) for m in members] == [(user_id, "admin")]


def test_serve_without_flags_hands_out_connection_strings_that_connect(
    start_emulator: Any, create_project: Any
) -> None:
    started = start_emulator(data_plane_default=True)
    with started.client() as api:
        body = create_project(api, started.organizations["paid"])

    uri = body["connection_uris"][0]["connection_uri"]
    with psycopg.connect(uri, connect_timeout=60) as conn:
        row = conn.execute("SELECT current_user, current_database()").fetchone()
    assert row == ("neondb_owner", "neondb")


def test_no_postgres_serves_the_control_plane_with_neon_shaped_hosts(
    start_emulator: Any, create_project: Any
) -> None:
    started = start_emulator("--no-postgres")
    with started.client() as api:
        body = create_project(api, started.organizations["paid"])

    endpoint = body["endpoints"][0]
    assert endpoint["host"] == f"{endpoint['id']}.us-east-2.aws.neon.tech"
    uri = body["connection_uris"][0]["connection_uri"]
    assert f"@{endpoint['host']}/neondb?sslmode=require" in uri


def test_without_postgres_binaries_the_default_serves_the_control_plane_alone(
    start_emulator: Any, create_project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEON_EMULATOR_PG_BINDIR", "/nonexistent")
    started = start_emulator(data_plane_default=True)
    with started.client() as api:
        body = create_project(api, started.organizations["paid"])

    endpoint = body["endpoints"][0]
    assert endpoint["host"] == f"{endpoint['id']}.us-east-2.aws.neon.tech"
    log = started.state_dir.parent / f"{started.state_dir.name}.log"
    assert "serving the control plane only" in log.read_text()


def test_asking_for_postgres_without_its_binaries_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "neon_emulator",
            "serve",
            "--state-dir",
            str(tmp_path),
            "--postgres",
        ],
        env={**os.environ, "NEON_EMULATOR_PG_BINDIR": "/nonexistent"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "PostgreSQL server binaries" in result.stderr
    assert "--no-postgres" in result.stderr
