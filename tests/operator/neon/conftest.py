"""The Neon emulator as a real HTTP server for the client's integration tests.

One emulator process per session (started like users start it: ``neon-emulator serve``), a
fresh :class:`NeonClient` per test with its own limiter registry, and an ``admin`` fixture that
turns the emulator's knobs (faults, rate limits, operation latency) and puts them back.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from neon_operator.neon import CallLog, LimiterRegistry, NeonClient, RetryPolicy

STARTUP_TIMEOUT = 30.0
DEFAULT_KNOBS: dict[str, dict[str, Any]] = {
    "/admin/faults": {
        "error_5xx_probability": 0.0,
        "latency_seconds": 0.0,
        "locked_probability": 0.0,
        "echo_body_probability": 0.0,
    },
    "/admin/rate-limits": {"per_minute": 700, "burst_per_second": 40},
    "/admin/operations": {"latency_seconds": 0.1},
}


@dataclasses.dataclass(frozen=True)
class Emulator:
    """A running emulator: where its API is, its bootstrap key and organizations."""

    api_url: str
    api_key: str
    organizations: dict[str, str]

    @property
    def root_url(self) -> str:
        return self.api_url.removesuffix("/api/v2")

    def admin(self, path: str, body: dict[str, Any]) -> Any:
        """PUT/POST a knob of the admin API; returns its answer."""
        method = "POST" if path == "/admin/organizations" else "PUT"
        response = httpx.request(method, self.root_url + path, json=body, timeout=10)
        response.raise_for_status()
        return response.json()


def _wait_until_serving(state_dir: Path, process: subprocess.Popen[bytes]) -> Emulator:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    bootstrap = state_dir / "bootstrap.json"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"emulator exited with {process.returncode}; see {state_dir}")
        if bootstrap.exists():
            try:
                data = json.loads(bootstrap.read_text())
                emulator = Emulator(data["api_url"], data["api_key"], data["organizations"])
                if httpx.get(emulator.root_url + "/healthz", timeout=2).status_code == 200:
                    return emulator
            except (ValueError, KeyError, httpx.TransportError):
                pass  # half-written file or not listening yet
        time.sleep(0.1)
    raise RuntimeError(f"emulator did not serve within {STARTUP_TIMEOUT}s; see {state_dir}")


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    state_dir = tmp_path_factory.mktemp("neon-emulator")
    command = [
        sys.executable,
        "-c",
        "from neon_emulator.cli import main; main()",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--state-dir",
        str(state_dir),
        "--operation-latency",
        "0.1",
        "--no-postgres",
    ]
    with (state_dir / "emulator.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield _wait_until_serving(state_dir, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def admin(emulator: Emulator) -> Iterator[Emulator]:
    """The emulator, with every knob restored to the session default after the test."""
    yield emulator
    for path, body in DEFAULT_KNOBS.items():
        emulator.admin(path, body)


@pytest.fixture
async def neon(emulator: Emulator) -> AsyncIterator[NeonClient]:
    """A client of the emulator with the bootstrap key, its own limiter and call log."""
    async with NeonClient(
        emulator.api_key,
        base_url=emulator.api_url,
        limiters=LimiterRegistry(),
        calls=CallLog(),
        retry=RetryPolicy(max_attempts=8, base_delay=0.2, max_delay=5.0),
    ) as client:
        yield client


@pytest.fixture
def org(emulator: Emulator) -> str:
    """The paid organization: the bootstrap key is personal, so calls name an org."""
    return emulator.organizations["paid"]
