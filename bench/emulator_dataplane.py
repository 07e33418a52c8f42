"""How long the emulator's real data plane takes to give data, as a client measures it.

Starts ``neon-emulator serve --postgres`` as a subprocess (operation latency 0.05 s, rate limits
off) and times, over HTTP and TCP (psycopg):

* create project → first successful query (``SELECT 1`` through the returned URI; includes the
  first-ever cluster in the state dir, i.e. building the template, for the first project);
* branch (with an endpoint) of a parent holding data → first query on the branch;
* branch at a ``parent_timestamp`` (real point-in-time recovery) → first query;
* snapshot restore with ``finalize_restore`` → the restored rows readable through the old URI;
* ``init_source: schema-only`` branch of a parent holding data → first query;
* suspended endpoint → first query (wake, with the configured ``--cold-start-delay``);
* creating projects nobody connects to (laziness: what a control-plane benchmark pays);
* memory of N idle clusters (connected once, then left running without connections): the
  proportional set size (PSS, shared pages split between sharers) of their servers' processes.

Prints a Markdown table and writes it to ``bench/results/emulator_dataplane.md``.

    python bench/emulator_dataplane.py [--rounds 5] [--cold-start-delay 0.3] [--idle-clusters 10]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

RESULTS = Path(__file__).parent / "results" / "emulator_dataplane.md"


def wait(api: httpx.Client, project_id: str) -> None:
    while True:
        ops = api.get(f"/projects/{project_id}/operations").json()["operations"]
        if any(op["status"] == "failed" for op in ops):
            raise RuntimeError(ops)
        if not any(op["status"] in ("scheduling", "running") for op in ops):
            return
        time.sleep(0.01)


def query(uri: str, text: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(uri, autocommit=True) as conn:
        cursor = conn.execute(text.encode())
        return cursor.fetchall() if cursor.description else []


def branch(api: httpx.Client, project_id: str, **fields: Any) -> str:
    response = api.post(
        f"/projects/{project_id}/branches",
        json={"branch": fields, "endpoints": [{"type": "read_write"}]},
    )
    response.raise_for_status()
    wait(api, project_id)
    return str(response.json()["connection_uris"][0]["connection_uri"])


def _processes() -> dict[int, tuple[int, str]]:
    """pid → (parent pid, command line) of every process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        found[int(entry.name)] = (parent, " ".join(a.decode(errors="replace") for a in argv))
    return found


def _pss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def server_memory(state: Path) -> tuple[int, int, int]:
    """(servers, processes, PSS bytes) of the PostgreSQL servers whose data is under ``state``
    (a postmaster's children rename themselves, so they are found by parent)."""
    processes = _processes()
    postmasters = {
        pid
        for pid, (_, line) in processes.items()
        if os.path.basename(line.split(" ", 1)[0]) == "postgres" and str(state) in line
    }
    members = postmasters | {pid for pid, (ppid, _) in processes.items() if ppid in postmasters}
    return len(postmasters), len(members), sum(_pss_bytes(pid) for pid in members)


def idle_clusters(api: httpx.Client, org: str, state: Path, count: int) -> dict[str, str]:
    """Start ``count`` clusters (one query each, computes that never suspend), measure them."""
    never = {"suspend_timeout_seconds": -1}
    before = server_memory(state)
    for _ in range(count):
        body = api.post(
            "/projects", json={"project": {"org_id": org, "default_endpoint_settings": never}}
        ).json()
        wait(api, body["project"]["id"])
        query(body["connection_uris"][0]["connection_uri"], "SELECT 1")
    time.sleep(2)  # let the servers settle (checkpointer, autovacuum launcher)
    servers, processes, pss = server_memory(state)
    servers -= before[0]
    processes -= before[1]
    pss -= before[2]
    mib = 1024 * 1024
    return {
        f"{count} idle clusters: servers / processes": f"{servers} / {processes}",
        f"{count} idle clusters: PSS total": f"{pss / mib:.0f} MiB",
        f"{count} idle clusters: PSS per cluster": f"{pss / max(servers, 1) / mib:.1f} MiB",
    }


def run(rounds: int, cold_start: float, idle: int) -> tuple[dict[str, list[float]], dict[str, str]]:
    state = Path(tempfile.mkdtemp(prefix="neon-bench-dataplane-")) / "state"
    args = [sys.executable, "-m", "neon_emulator", "serve", "--port", "0"]
    args += ["--state-dir", str(state), "--postgres", "--operation-latency", "0.05"]
    args += ["--rate-limit-per-minute", "0", "--burst-per-second", "0"]
    args += ["--cold-start-delay", str(cold_start)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    timings: dict[str, list[float]] = {}
    facts: dict[str, str] = {}

    def note(name: str, seconds: float) -> None:
        timings.setdefault(name, []).append(seconds)

    try:
        while not (state / "bootstrap.json").exists():
            time.sleep(0.05)
        boot = json.loads((state / "bootstrap.json").read_text())
        headers = {"Authorization": f"Bearer {boot['api_key']}"}
        org = boot["organizations"]["paid"]
        with httpx.Client(base_url=boot["api_url"], headers=headers, timeout=120) as api:
            for index in range(rounds):
                started = time.perf_counter()
                body = api.post("/projects", json={"project": {"org_id": org}}).json()
                project_id, main_id = body["project"]["id"], body["branch"]["id"]
                endpoint_id = body["endpoints"][0]["id"]
                uri = body["connection_uris"][0]["connection_uri"]
                wait(api, project_id)
                query(uri, "SELECT 1")
                name = "first project (template build)" if index == 0 else "create project"
                note(f"{name} → first query", time.perf_counter() - started)

                query(uri, "CREATE TABLE t AS SELECT generate_series(1, 10000) AS x")
                time.sleep(1.1)
                moment = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
                time.sleep(1.5)
                query(uri, "INSERT INTO t VALUES (0)")

                started = time.perf_counter()
                child = branch(api, project_id)
                query(child, "SELECT count(*) FROM t")
                note("branch (parent has data) → first query", time.perf_counter() - started)

                started = time.perf_counter()
                past = branch(
                    api, project_id, parent_timestamp=moment.strftime("%Y-%m-%dT%H:%M:%SZ")
                )
                assert query(past, "SELECT count(*) FROM t") == [(10000,)]
                note(
                    "branch at parent_timestamp (PITR) → first query", time.perf_counter() - started
                )

                snapshot = api.post(f"/projects/{project_id}/branches/{main_id}/snapshot", json={})
                wait(api, project_id)
                query(uri, "DELETE FROM t")
                started = time.perf_counter()
                api.post(
                    f"/projects/{project_id}/snapshots/{snapshot.json()['snapshot']['id']}/restore",
                    json={"target_branch_id": main_id, "finalize_restore": True},
                ).raise_for_status()
                wait(api, project_id)
                assert query(uri, "SELECT count(*) FROM t") == [(10001,)]
                note(
                    "snapshot restore (finalize) → restored rows readable",
                    time.perf_counter() - started,
                )

                started = time.perf_counter()
                schema = branch(api, project_id, init_source="schema-only")
                assert query(schema, "SELECT count(*) FROM t") == [(0,)]
                note("schema-only branch → first query", time.perf_counter() - started)

                api.post(f"/projects/{project_id}/endpoints/{endpoint_id}/suspend")
                wait(api, project_id)
                started = time.perf_counter()
                query(uri, "SELECT 1")
                note("suspended endpoint → first query (wake)", time.perf_counter() - started)
                api.delete(f"/projects/{project_id}")

            data_dirs = (state / "postgres" / "projects").glob("*/branches/*/data")
            before = len(list(data_dirs))
            started = time.perf_counter()
            for _ in range(200):
                api.post("/projects", json={"project": {"org_id": org}}).raise_for_status()
            note(
                "create project, never connected (per project)",
                (time.perf_counter() - started) / 200,
            )
            data_dirs = (state / "postgres" / "projects").glob("*/branches/*/data")
            facts["clusters made for 200 projects never connected to"] = str(
                len(list(data_dirs)) - before
            )
            facts.update(idle_clusters(api, org, state, idle))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    return timings, facts


def table(
    timings: dict[str, list[float]], facts: dict[str, str], rounds: int, cold_start: float
) -> str:
    lines = [
        "# Emulator data plane: time to data",
        "",
        f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"operation latency 0.05 s, cold-start delay {cold_start} s, {rounds} rounds; "
        "psycopg over TLS through the emulator's proxy.",
        "",
        "| measurement | median | max |",
        "|---|---|---|",
    ]
    for name, values in timings.items():
        median, worst = statistics.median(values) * 1000, max(values) * 1000
        lines.append(f"| {name} | {median:.0f} ms | {worst:.0f} ms |")
    lines += ["", "| resources | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in facts.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cold-start-delay", type=float, default=0.3)
    parser.add_argument("--idle-clusters", type=int, default=10)
    args = parser.parse_args()
    timings, facts = run(args.rounds, args.cold_start_delay, args.idle_clusters)
    text = table(timings, facts, args.rounds, args.cold_start_delay)
    print(text)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
