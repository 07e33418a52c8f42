"""Many NeonAppDatabases at once, at Neon's real request budget: throughput, calls, memory.

Starts the local stack (real kube-apiserver + controller-manager + neon-emulator with its lazy
PostgreSQL data plane) and ``neon-operator run`` as a subprocess, then applies ``--count``
NeonAppDatabases in one burst, as a GitOps sync of a large platform would. The NeonConfig keeps
Neon's default budget (700 requests/minute, 40/s burst) and so does the emulator, which answers
429 past it: the run shows how fast the operator converges without tripping Neon's limits.

Measured: time until every resource is Ready, Neon requests per resource and by route, 429
answers, then one quiet resync interval with everything Ready (Neon requests spent on drift
checks, Kubernetes-only Secret checks), and the resident memory of the operator and the
apiserver. Prints a Markdown table and writes it to ``bench/results/scale.md``.

    python bench/scale.py [--count 300] [--resync 30]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

from kubernetes import client, config

from neon_operator.devstack import processes
from neon_operator.devstack import stack as devstack

RESULTS = Path(__file__).parent / "results" / "scale.md"
GROUP, VERSION, PLURAL = "neon.operator.dev", "v1alpha1", "neonappdatabases"
REQUESTS = re.compile(
    r"^neon_operator_neon_api_requests_total\{(?P<labels>.*)\} (?P<value>[0-9.e+]+)$"
)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def neon_requests(metrics_port: int) -> Counter[str]:
    """Requests so far by ``METHOD route status``, from the operator's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as page:
        text = page.read().decode()
    counts: Counter[str] = Counter()
    for line in text.splitlines():
        match = REQUESTS.match(line)
        if match:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"]))
            key = f"{labels.get('method')} {labels.get('route')} {labels.get('status')}"
            counts[key] += int(float(match["value"]))
    return counts


def ready_count(objects: client.CustomObjectsApi, namespace: str) -> int:
    items = objects.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["items"]
    return sum(
        any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in i.get("status", {}).get("conditions", [])
        )
        for i in items
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--resync", type=float, default=30.0, help="operator resync interval, s")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the stack on the way out

    state = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    running = devstack.up(state / "stack")
    metrics_port = processes.free_port()
    log = (state / "operator.log").open("ab")
    operator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "neon_operator.cli",
            "run",
            "--metrics-port",
            str(metrics_port),
            "--resync-interval",
            str(args.resync),
            "--log-level",
            "WARNING",
        ],
        env={**os.environ, "KUBECONFIG": str(running.kubeconfig)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    apiserver = running.control_plane.processes["kube-apiserver"].pid
    api = config.new_client_from_config(config_file=str(running.kubeconfig))
    namespace = "scale-" + uuid.uuid4().hex[:6]
    client.CoreV1Api(api).create_namespace({"metadata": {"name": namespace}})
    objects = client.CustomObjectsApi(api)
    peak = 0.0
    try:
        time.sleep(3)  # the operator's watches start
        idle_rss = rss_mib(operator.pid)
        started = time.monotonic()
        for index in range(args.count):
            body = {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "NeonAppDatabase",
                "metadata": {"name": f"app-{index:05d}"},
                "spec": {"tier": "free" if index % 4 else "paid"},
            }
            objects.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
        applied = time.monotonic() - started
        halfway = None
        while (done := ready_count(objects, namespace)) < args.count:
            peak = max(peak, rss_mib(operator.pid))
            if halfway is None and done >= args.count // 2:
                halfway = time.monotonic() - started
            if time.monotonic() - started > 3600:
                raise TimeoutError(f"only {done}/{args.count} Ready after an hour")
            time.sleep(1)
        converged = time.monotonic() - started
        after_create = neon_requests(metrics_port)
        peak = max(peak, rss_mib(operator.pid))
        time.sleep(args.resync + 5)
        after_quiet = neon_requests(metrics_port)
        steady_rss = rss_mib(operator.pid)
        apiserver_rss = rss_mib(apiserver)
    finally:
        operator.terminate()
        operator.wait(timeout=60)
        running.stop()

    created = sum(after_create.values())
    quiet = sum(after_quiet.values()) - created
    limited = sum(v for k, v in after_create.items() if k.endswith(" 429"))
    by_route = Counter({k.rsplit(" ", 1)[0]: 0 for k in after_create})
    for key, value in after_create.items():
        by_route[key.rsplit(" ", 1)[0]] += value
    lines = [
        "# Scale: a burst of NeonAppDatabases at Neon's request budget",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; kube-apiserver, controller-manager, emulator (with its lazy "
        "PostgreSQL data plane), operator and this script on the same machine. NeonConfig and "
        "emulator both at Neon's defaults: 700 requests/minute per key, 40/s burst per route; "
        "emulator provisioning latency 0.5 s.",
        "",
        "| measure | value |",
        "| --- | ---: |",
        f"| resources applied (one burst, 1 in 4 paid) | {args.count} |",
        f"| time to apply them all | {applied:.1f} s |",
        f"| time until half were Ready | {halfway or converged:.1f} s |",
        f"| time until all were Ready | {converged:.1f} s |",
        f"| Ready per minute | {args.count / converged * 60:.0f} |",
        f"| Neon requests until all Ready | {created} ({created / args.count:.1f} per resource) |",
        f"| Neon answers 429 | {limited} |",
        f"| Neon requests in a quiet resync interval ({args.resync:g} s) | {quiet} |",
        f"| operator RSS idle / peak / steady (MiB) | {idle_rss:.0f} / {peak:.0f} / "
        f"{steady_rss:.0f} |",
        f"| kube-apiserver RSS at the end | {apiserver_rss:.0f} MiB |",
        "",
        "Neon requests by route until all were Ready:",
        "",
        "| route | requests |",
        "| --- | ---: |",
        *(f"| `{route}` | {n} |" for route, n in by_route.most_common()),
        "",
    ]
    table = "\n".join(lines)
    print(table)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
