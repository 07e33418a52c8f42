"""An emulator with the real PostgreSQL data plane, and helpers to reach its databases.

Fixtures:

* ``pg_emulator`` -- one ``neon-emulator serve --postgres`` for the session (short idle timeout:
  ``suspend_timeout_seconds: 0`` means 3 s here; 0.2 s cold starts).
* ``api`` -- ``httpx.Client`` on its ``/api/v2``; ``org`` -- the paid organization.
* ``new_project`` -- ``new_project(**fields)`` creates a project, waits for its operations and
  returns the create response.
* ``wait`` -- ``wait(project_id)``: until no operation is in flight (fails on a failed one).
* ``sql`` -- ``sql(uri, text)`` runs SQL over psycopg and returns the rows.
* ``own_pg_emulator`` -- a fresh one for tests that stop or restart it.

(``servers`` -- the ``postgres`` servers running clusters under a directory -- comes from
``tests/emulator/conftest.py``.)

(Helpers are fixtures because test directories here are not importable packages.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

SERVE = [sys.executable, "-m", "neon_emulator", "serve", "--port", "0"]
ARGS = [
    "--operation-latency",
    "0.05",
    "--rate-limit-per-minute",
    "0",
    "--burst-per-second",
    "0",
    "--postgres",
    "--suspend-timeout-default",
    "3",
    "--cold-start-delay",
    "0.2",
]


class PgEmulator:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.bootstrap: dict[str, Any] = {}

    def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        bootstrap = self.state_dir / "bootstrap.json"
        bootstrap.unlink(missing_ok=True)
        with (self.state_dir.parent / "emulator.log").open("ab") as log:
            self.process = subprocess.Popen(
                [*SERVE, "--state-dir", str(self.state_dir), *ARGS],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "emulator exited"
            if bootstrap.exists():
                self.bootstrap = json.loads(bootstrap.read_text())
                return
            time.sleep(0.05)
        raise RuntimeError("emulator did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)
        self.process = None

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.bootstrap["api_url"],
            headers={"Authorization": f"Bearer {self.bootstrap['api_key']}"},
            timeout=60,
        )


def wait_for_operations(api: httpx.Client, project_id: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = api.get(f"/projects/{project_id}/operations", params={"limit": 1000})
        response.raise_for_status()
        operations = response.json()["operations"]
        failed = [op for op in operations if op["status"] in ("failed", "error")]
        assert not failed, failed
        if not any(op["status"] in ("scheduling", "running") for op in operations):
            return
        time.sleep(0.05)
    raise AssertionError(f"operations of {project_id} did not finish")


def sql(uri: str, text: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(uri, autocommit=True, connect_timeout=60) as conn:
        cursor = conn.execute(text.encode())
        return cursor.fetchall() if cursor.description else []


@pytest.fixture(scope="session")
def pg_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgEmulator]:
    running = PgEmulator(tmp_path_factory.mktemp("dataplane") / "state")
    running.start()
    yield running
    running.stop()


@pytest.fixture
def api(pg_emulator: PgEmulator) -> Iterator[httpx.Client]:
    with pg_emulator.client() as client:
        yield client


@pytest.fixture
def org(pg_emulator: PgEmulator) -> str:
    return str(pg_emulator.bootstrap["organizations"]["paid"])


@pytest.fixture
def wait(api: httpx.Client) -> Callable[[str], None]:
    return lambda project_id: wait_for_operations(api, project_id)


@pytest.fixture
def new_project(api: httpx.Client, org: str) -> Callable[..., dict[str, Any]]:
    def create(**fields: Any) -> dict[str, Any]:
        response = api.post("/projects", json={"project": {"org_id": org, **fields}})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        wait_for_operations(api, body["project"]["id"])
        return body

    return create


@pytest.fixture(name="sql")
def sql_fixture() -> Callable[[str, str], list[tuple[Any, ...]]]:
    return sql


@pytest.fixture
def own_pg_emulator(tmp_path: Path) -> Iterator[PgEmulator]:
    """A fresh data-plane emulator for tests that stop or restart it."""
    running = PgEmulator(tmp_path / "state")
    running.start()
    yield running
    running.stop()
