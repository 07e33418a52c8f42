"""Requests per second the emulator sustains for project creation and listing.

Starts ``neon-emulator serve --no-postgres`` as a subprocess (the control plane alone; operation
latency 0, rate limits off, so the numbers measure the emulator and not its deliberate slowness),
drives it over HTTP with ``httpx.AsyncClient`` at several concurrency levels, prints a Markdown
table and writes it to ``bench/results/emulator_api.md``.

    python bench/emulator_api.py [--projects 400] [--lists 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

RESULTS = Path(__file__).parent / "results" / "emulator_api.md"
CONCURRENCY = (1, 8, 32)


def start(state_dir: Path) -> tuple[subprocess.Popen[bytes], dict[str, object]]:
    process = subprocess.Popen(
        [
            sys.executable, "-m", "neon_emulator", "serve", "--port", "0",
            "--state-dir", str(state_dir), "--operation-latency", "0",
            "--rate-limit-per-minute", "0", "--burst-per-second", "0", "--no-postgres",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    bootstrap = state_dir / "bootstrap.json"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if bootstrap.exists():
            info: dict[str, object] = json.loads(bootstrap.read_text())
            base = str(info["api_url"]).rsplit("/api/v2", 1)[0]
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    return process, info
            except httpx.HTTPError:
                pass
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("emulator did not start")


async def rate(total: int, concurrency: int, call: Callable[[int], Awaitable[None]]) -> float:
    """Run ``call`` ``total`` times, ``concurrency`` at a time; requests per second."""
    counter = iter(range(total))

    async def worker() -> None:
        for index in counter:
            await call(index)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - started)


Row = tuple[str, int, float]
"""(call, concurrency, requests per second)."""


async def measure(info: dict[str, object], projects: int, lists: int) -> list[Row]:
    organizations = info["organizations"]
    assert isinstance(organizations, dict)
    org = organizations["paid"]
    headers = {"Authorization": f"Bearer {info['api_key']}"}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    rows: list[Row] = []
    async with httpx.AsyncClient(
        base_url=str(info["api_url"]), headers=headers, limits=limits, timeout=60
    ) as api:

        async def create(index: int) -> None:
            response = await api.post(
                "/projects", json={"project": {"org_id": org, "name": f"bench-{index}"}}
            )
            response.raise_for_status()

        async def list_page(index: int) -> None:
            response = await api.get("/projects", params={"org_id": org, "limit": 100})
            response.raise_for_status()

        for concurrency in CONCURRENCY:
            rows.append(("create project", concurrency, await rate(projects, concurrency, create)))
        held = len(CONCURRENCY) * projects
        for concurrency in CONCURRENCY:
            rows.append(
                (f"list projects (limit 100 of {held})", concurrency,
                 await rate(lists, concurrency, list_page))
            )  # fmt: skip
    return rows


def table(rows: list[Row], projects: int, lists: int) -> str:
    lines = [
        "# neon-emulator API throughput",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
        f", {platform.system()}; emulator and client on the same machine.",
        f"Operation latency 0, rate limits off; {projects} creations and {lists} list calls per "
        "concurrency level; SQLite state on local disk.",
        "",
        "| call | concurrency | requests/s |",
        "| --- | ---: | ---: |",
    ]
    lines += [f"| {name} | {concurrency} | {rps:,.0f} |" for name, concurrency, rps in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=400)
    parser.add_argument("--lists", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        process, info = start(Path(state))
        try:
            rows = asyncio.run(measure(info, args.projects, args.lists))
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    report = table(rows, args.projects, args.lists)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
