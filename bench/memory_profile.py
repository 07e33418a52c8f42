"""Where the operator's memory goes per resource: tracemalloc snapshots, diffed by source line.

Starts the local stack (emulator without PostgreSQL, budgets lifted) and the operator under
tracemalloc (``traced_operator.py``), takes a snapshot when it is idle, after ``--count``
NeonAppDatabases are Ready, and after a restart once it has resumed them all, and prints the
source lines that hold the most memory per resource in each, with RSS. Writes the report to
``--output`` (default ``bench/results/memory_profile.md``).

    python bench/memory_profile.py [--count 500] [--label TEXT]

tracemalloc slows the operator several times over; the figures are for finding what grows,
``bench/scale.py`` measures RSS at speed.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import tracemalloc
import uuid
from collections import Counter
from pathlib import Path

from kubernetes import client, config

from neon_operator.devstack import processes
from neon_operator.devstack import stack as devstack
from scale import GROUP, LIFTED, VERSION, create_apps, ready_count, resumed, rss_mib

HERE = Path(__file__).parent


class TracedOperator:
    def __init__(self, kubeconfig: Path, state: Path, name: str) -> None:
        self.port = processes.free_port()
        self.snapshots = state / f"{name}-snapshot"
        self._log = (state / f"{name}.log").open("ab")
        self.popen = subprocess.Popen(
            [
                *(sys.executable, str(HERE / "traced_operator.py"), "run"),
                *("--log-level", "WARNING", "--metrics-port", str(self.port)),
            ],
            env={
                **os.environ,
                "KUBECONFIG": str(kubeconfig),
                "TRACED_OPERATOR_SNAPSHOTS": str(self.snapshots),
            },
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.taken = 0

    def metrics(self) -> str:
        import urllib.request

        deadline = time.monotonic() + 300
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/metrics", timeout=60
                ) as page:
                    return str(page.read().decode())
            except OSError:
                if self.popen.poll() is not None:
                    code = self.popen.returncode
                    raise RuntimeError(f"the operator exited with {code}") from None
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)

    def snapshot(self) -> tracemalloc.Snapshot:
        self.taken += 1
        path = Path(f"{self.snapshots}-{self.taken}")
        self.popen.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 600
        while not Path(f"{path}.done").exists():
            if time.monotonic() > deadline:
                raise TimeoutError("no snapshot")
            time.sleep(1)
        return tracemalloc.Snapshot.load(str(path))

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            self.popen.wait(timeout=120)
        self._log.close()


STDLIB = sysconfig.get_paths()["stdlib"]


def owner(traceback: tracemalloc.Traceback) -> str:
    """Where an allocation is charged: the innermost frame outside the standard library (a
    ``json.loads`` is charged to the kopf or operator line that called it)."""
    frames = list(traceback)  # most recent call first
    frame = next((f for f in frames if not f.filename.startswith(STDLIB)), frames[0])
    name = frame.filename.split("site-packages/")[-1].split("/operator/")[-1]
    return f"{name}:{frame.lineno}"


def by_owner(snapshot: tracemalloc.Snapshot) -> tuple[Counter[str], Counter[str]]:
    sizes: Counter[str] = Counter()
    blocks: Counter[str] = Counter()
    for stat in snapshot.statistics("traceback"):
        where = owner(stat.traceback)
        sizes[where] += stat.size
        blocks[where] += stat.count
    return sizes, blocks


def top(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, count: int) -> list[str]:
    filters = [tracemalloc.Filter(False, tracemalloc.__file__)]
    sizes0, blocks0 = by_owner(before.filter_traces(filters))
    sizes1, blocks1 = by_owner(after.filter_traces(filters))
    growth = {where: sizes1[where] - sizes0[where] for where in sizes0.keys() | sizes1.keys()}
    total = sum(growth.values())
    lines = [f"total growth {total / 2**20:.1f} MiB ({total / count / 1024:.1f} KiB/resource)", ""]
    lines += ["| KiB/resource | blocks | where |", "| ---: | ---: | --- |"]
    for where, size in sorted(growth.items(), key=lambda item: -item[1])[:25]:
        blocks = blocks1[where] - blocks0[where]
        lines.append(f"| {size / count / 1024:.2f} | {blocks} | `{where}` |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--label", default="")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "memory_profile.md")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    state = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    emulator_args = ["--no-postgres", "--rate-limit-per-minute", "0", "--burst-per-second", "0"]
    running = devstack.up(state / "stack", emulator_args=emulator_args)
    api = config.new_client_from_config(config_file=str(running.kubeconfig))
    objects = client.CustomObjectsApi(api)
    objects.patch_cluster_custom_object(
        GROUP, VERSION, "neonconfigs", "default", {"spec": {"rateLimit": LIFTED}}
    )
    namespace = "mem-" + uuid.uuid4().hex[:6]
    client.CoreV1Api(api).create_namespace({"metadata": {"name": namespace}})
    operator = TracedOperator(running.kubeconfig, state, "first")
    report: list[str] = [f"# Operator memory per resource ({args.count} NeonAppDatabases)"]
    try:
        operator.metrics()
        time.sleep(5)
        idle, idle_rss = operator.snapshot(), rss_mib(operator.popen.pid)
        create_apps(objects, namespace, args.count)
        while ready_count(objects, namespace) < args.count:
            time.sleep(2)
        time.sleep(30)
        created, created_rss = operator.snapshot(), rss_mib(operator.popen.pid)
        operator.stop()
        operator = TracedOperator(running.kubeconfig, state, "restarted")
        operator.metrics()
        time.sleep(5)
        while resumed(operator.metrics()) < args.count:
            time.sleep(2)
        time.sleep(30)
        after_restart, resumed_rss = operator.snapshot(), rss_mib(operator.popen.pid)
    finally:
        operator.stop()
        running.stop()
    label = f" ({args.label})" if args.label else ""
    report += [
        "",
        f"Traced with tracemalloc{label}; emulator without PostgreSQL, budgets lifted.",
        "",
        "    " + " ".join(["python", *sys.argv]),
        "",
        f"RSS under tracemalloc: idle {idle_rss:.0f} MiB, all Ready {created_rss:.0f} MiB, "
        f"restarted and resumed {resumed_rss:.0f} MiB.",
        "",
        "## After creating them (growth over the idle operator)",
        "",
        *top(idle, created, args.count),
        "",
        "## After a restart (a new process, over the first one's idle snapshot)",
        "",
        *top(idle, after_restart, args.count),
        "",
    ]
    text = "\n".join(report)
    print(text)
    args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
