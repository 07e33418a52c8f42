"""The request log: one INFO line per API request, never a secret."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

LINE = re.compile(
    r"neon_emulator\.requests (?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) "
    r"(?P<ms>\d+\.\d)ms request_id=(?P<request_id>\S+)$"
)


def _request_lines(emulator: Any, expected: int) -> list[dict[str, str]]:
    log = Path(f"{emulator.state_dir}.log")
    deadline = time.monotonic() + 5
    while True:
        found = [m.groupdict() for line in log.read_text().splitlines() if (m := LINE.search(line))]
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_each_request_is_logged_once_with_its_route_status_and_request_id(
    start_emulator: Any,
) -> None:
    emu = start_emulator()
    with emu.client() as api:
        me = api.get("/users/me", headers={"X-Request-ID": "req-users-me"})
        created = api.post("/projects", json={"project": {"org_id": emu.organizations["paid"]}})
        project = created.json()
        uri = api.get(
            f"/projects/{project['project']['id']}/connection_uri",
            params={"database_name": "neondb", "role_name": "neondb_owner"},
        )
        missing = api.get("/no/such/route")
    with emu.client(key="napi_" + "s3cr3t" * 10) as stranger:
        refused = stranger.get("/users/me")

    lines = _request_lines(emu, 5)
    assert [(ln["method"], ln["path"], ln["status"]) for ln in lines] == [
        ("GET", "/users/me", "200"),
        ("POST", "/projects", "201"),
        ("GET", "/projects/{project_id}/connection_uri", "200"),
        ("GET", "/no/such/route", "404"),
        ("GET", "/users/me", "401"),
    ]
    responses = [me, created, uri, missing, refused]
    assert [ln["request_id"] for ln in lines] == [
        r.headers["X-Neon-Ret-Request-Id"] for r in responses
    ]
    assert lines[0]["request_id"] == "req-users-me"


def test_keys_passwords_and_connection_uris_never_reach_the_log(start_emulator: Any) -> None:
    emu = start_emulator()
    with emu.client() as api:
        created = api.post("/projects", json={"project": {"org_id": emu.organizations["paid"]}})
        key = api.post("/api_keys", json={"key_name": "logged?"}).json()["key"]
    body = created.json()
    password = body["roles"][0]["password"]
    connection_uri = body["connection_uris"][0]["connection_uri"]
    with emu.client(key=key) as second:
        second.get("/users/me")
    with emu.client(key="napi_" + "leak" * 16) as stranger:
        stranger.get("/auth")

    _request_lines(emu, 4)
    text = Path(f"{emu.state_dir}.log").read_text()
    for secret in (emu.api_key, key, password, connection_uri, "leak" * 16):
        assert secret not in text
