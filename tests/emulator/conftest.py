"""The emulator as tests meet it: a real ``neon-emulator serve`` subprocess over HTTP.

Fixtures:

* ``emulator`` -- one emulator for the session (operation latency 50 ms, rate limits off), for
  tests that only need an API; tests must not change its knobs.
* ``own_emulator`` -- a fresh emulator in the test's own state directory, for tests that change
  knobs, restart it or exhaust budgets. :class:`Emulator` ``.restart()`` keeps the state dir.
* ``start_emulator`` -- factory for emulators started with extra CLI flags (stopped after the
  test; ``data_plane_default=True`` leaves out ``--no-postgres``, i.e. serves as users start
  it); ``emulator_factory`` is its session-scoped twin for module fixtures.

All of them serve the control plane only (``--no-postgres``) unless told otherwise.
* ``api`` -- an ``httpx.Client`` on the session emulator's ``/api/v2`` with the bootstrap key.
* ``paid_org`` / ``sponsored_org`` -- the bootstrap organizations' ids.
* ``project`` -- a fresh project in the paid organization whose operations have finished.
* ``create_user`` -- ``create_user(emulator)``: another account (``POST /admin/users``) with a
  unique email; returns ``{"id", "email", "name", "api_key"}``.
* ``create_project`` / ``wait_for_operations`` -- helpers (as fixtures: test modules here are not
  importable packages).
* ``servers`` -- ``servers(directory)``: command lines of the ``postgres`` servers running
  clusters under ``directory``.
* ``terminal_summary`` -- ``terminal_summary(line)``: show ``line`` in pytest's terminal summary
  (e.g. the contract test's ``operations served / in spec``).

When the session ends, no PostgreSQL server started under its temporary directory may still run
(``no_server_outlives_the_session``): a leaked cluster fails the run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

FAST = ["--operation-latency", "0.05", "--rate-limit-per-minute", "0", "--burst-per-second", "0"]
CONTROL_PLANE = [*FAST, "--no-postgres"]
"""What these fixtures start: the API alone, whose URIs carry Neon-shaped hosts (the data plane,
on by default, has its own fixtures in ``dataplane/``)."""


@dataclass
class Emulator:
    state_dir: Path
    args: list[str]
    process: subprocess.Popen[bytes] | None = None
    bootstrap: dict[str, Any] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return str(self.bootstrap["api_url"])

    @property
    def base_url(self) -> str:
        return self.api_url.rsplit("/api/v2", 1)[0]

    @property
    def api_key(self) -> str:
        return str(self.bootstrap["api_key"])

    @property
    def organizations(self) -> dict[str, str]:
        return dict(self.bootstrap["organizations"])

    def start(self) -> None:
        bootstrap = self.state_dir / "bootstrap.json"
        bootstrap.unlink(missing_ok=True)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.state_dir.parent / f"{self.state_dir.name}.log"
        with log_path.open("ab") as log:
            self.process = self._spawn(log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"emulator exited with {self.process.returncode}")
            if bootstrap.exists():
                self.bootstrap = json.loads(bootstrap.read_text())
                try:
                    if httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
            time.sleep(0.05)
        raise RuntimeError("emulator did not become ready")

    def _spawn(self, log: Any) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "neon_emulator",
                "serve",
                "--port",
                "0",
                "--state-dir",
                str(self.state_dir),
                *self.args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def client(self, key: str | None = None) -> httpx.Client:
        token = self.api_key if key is None else key
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.api_url, headers=headers, timeout=30)

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30)


def _wait_for_operations(api: httpx.Client, project_id: str, timeout: float = 30) -> None:
    """Poll the project's operations until none is in flight, as Neon asks clients to."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = api.get(f"/projects/{project_id}/operations", params={"limit": 1000})
        response.raise_for_status()
        statuses = {op["status"] for op in response.json()["operations"]}
        if not statuses & {"scheduling", "running", "cancelling"}:
            return
        time.sleep(0.02)
    raise AssertionError(f"operations of {project_id} did not finish")


def _create_project(api: httpx.Client, org_id: str, **fields: Any) -> dict[str, Any]:
    response = api.post("/projects", json={"project": {"org_id": org_id, **fields}})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    _wait_for_operations(api, body["project"]["id"])
    return body


def postgres_processes(directory: Path) -> list[str]:
    """Command lines of running ``postgres`` servers whose data lives under ``directory`` (a
    server's children rename themselves; they die with it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        line = " ".join(a.decode(errors="replace") for a in argv)
        if (
            os.path.basename(argv[0].decode(errors="replace")) == "postgres"
            and str(directory) in line
        ):
            found.append(line)
    return found


SUMMARY = pytest.StashKey[list[str]]()


@pytest.fixture
def terminal_summary(request: pytest.FixtureRequest) -> Callable[[str], None]:
    return request.config.stash.setdefault(SUMMARY, []).append


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    for line in config.stash.get(SUMMARY, []):
        terminalreporter.write_line(line)


@pytest.fixture(scope="session", autouse=True)
def no_server_outlives_the_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Torn down last: every emulator of the session has stopped, so every server it started
    must be gone (servers stop with the emulator, or die with it)."""
    yield
    base = tmp_path_factory.getbasetemp()
    deadline = time.monotonic() + 20
    while (leaked := postgres_processes(base)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not leaked, "PostgreSQL servers outlived the test session:\n" + "\n".join(leaked)


@pytest.fixture
def servers() -> Callable[[Path], list[str]]:
    return postgres_processes


def _create_user(emulator: Emulator) -> dict[str, Any]:
    with emulator.admin() as admin:
        response = admin.post(
            "/admin/users", json={"email": f"{uuid.uuid4().hex[:12]}@example.com"}
        )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture
def create_user() -> Callable[[Emulator], dict[str, Any]]:
    return _create_user


WaitForOperations = Callable[..., None]
CreateProject = Callable[..., dict[str, Any]]


@pytest.fixture
def wait_for_operations() -> WaitForOperations:
    """``wait_for_operations(api, project_id)``: poll until no operation is in flight."""
    return _wait_for_operations


@pytest.fixture
def create_project() -> CreateProject:
    """``create_project(api, org_id, **fields)``: create and wait; returns the create response."""
    return _create_project


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    running = Emulator(tmp_path_factory.mktemp("emulator") / "state", CONTROL_PLANE)
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def emulator_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Emulator]]:
    """``emulator_factory(*cli_args)`` for wider-scoped fixtures; all stop at session end."""
    started: list[Emulator] = []

    def start(*args: str) -> Emulator:
        running = Emulator(tmp_path_factory.mktemp("emulator") / "state", [*CONTROL_PLANE, *args])
        started.append(running)
        running.start()
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def own_emulator(tmp_path: Path) -> Iterator[Emulator]:
    running = Emulator(tmp_path / "state", list(CONTROL_PLANE))
    running.start()
    yield running
    running.stop()


@pytest.fixture
def start_emulator(tmp_path: Path) -> Iterator[Callable[..., Emulator]]:
    """``start_emulator(*cli_args)``: an emulator started with extra CLI flags, stopped after."""
    started: list[Emulator] = []

    def start(*args: str, data_plane_default: bool = False) -> Emulator:
        base = FAST if data_plane_default else CONTROL_PLANE
        running = Emulator(tmp_path / f"state-{len(started)}", [*base, *args])
        started.append(running)
        running.start()
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def api(emulator: Emulator) -> Iterator[httpx.Client]:
    with emulator.client() as client:
        yield client


@pytest.fixture
def paid_org(emulator: Emulator) -> str:
    return emulator.organizations["paid"]


@pytest.fixture
def sponsored_org(emulator: Emulator) -> str:
    return emulator.organizations["sponsored"]


@pytest.fixture
def project(api: httpx.Client, paid_org: str) -> dict[str, Any]:
    """A fresh project (the whole create response) whose operations have finished."""
    return _create_project(api, paid_org)
