"""Many NeonAppDatabases at once: throughput, Neon calls, apiserver requests, memory, restart.

Starts the local stack (real kube-apiserver + controller-manager + neon-emulator) and
``neon-operator run`` as a subprocess, then applies ``--count`` NeonAppDatabases in one burst, as
a GitOps sync of a large platform would. By default the NeonConfig and the emulator keep Neon's
budget (700 requests/minute, 40/s burst) and the emulator runs its lazy PostgreSQL data plane;
``--lift-budgets`` and ``--no-postgres`` take both away to find the operator's own ceiling.

Then, with everything Ready:

1. steady state for ``--window`` seconds: Neon requests, apiserver requests (all clients, from
   the apiserver's ``apiserver_request_total``; the operator's own from its ``/metrics``), RSS;
2. the operator stopped: the apiserver's requests per minute without it (the controller-manager's
   baseline);
3. the operator restarted: time until it has resumed every resource, Neon requests and apiserver
   requests in the ``--window`` seconds after the restart, then RSS and steady state again.

Prints a Markdown table and writes it to ``--output`` (default
``bench/results/scale-<count>.md``).

    python bench/scale.py [--count 300] [--resync 300] [--window 60] [--settle S]
                          [--lift-budgets] [--no-postgres] [--backlog] [--label TEXT]
                          [--output PATH]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
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
from typing import Any

from kubernetes import client, config

from neon_operator.devstack import processes
from neon_operator.devstack import stack as devstack

RESULTS = Path(__file__).parent / "results"
GROUP, VERSION, PLURAL = "neon.operator.dev", "v1alpha1", "neonappdatabases"
SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:]+)\{(?P<labels>.*)\} (?P<value>[0-9.e+-]+)$")
LIFTED = {"requestsPerMinute": 100_000, "burstPerSecond": 10_000}


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    found = []
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match and match["name"] == name:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"]))
            found.append((labels, float(match["value"])))
    return found


class Operator:
    """``neon-operator run`` as a subprocess with its ``/metrics``."""

    def __init__(
        self,
        kubeconfig: Path,
        log: Path,
        resync: float,
        neon_resync: float,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.metrics_port = processes.free_port()
        self._log = log.open("ab")
        argv = [sys.executable, "-m", "neon_operator.cli", "run", "--log-level", "WARNING"]
        argv += ["--metrics-port", str(self.metrics_port), "--resync-interval", str(resync)]
        argv += ["--neon-resync-interval", str(neon_resync), *extra]
        self.popen = subprocess.Popen(
            argv,
            env={**os.environ, "KUBECONFIG": str(kubeconfig)},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.pid = self.popen.pid

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url, timeout=30) as page:
                    return str(page.read().decode())
            except OSError:
                if time.monotonic() > deadline or self.popen.poll() is not None:
                    raise
                time.sleep(0.5)

    def neon_requests(self) -> Counter[str]:
        """Requests so far by ``METHOD route status``."""
        counts: Counter[str] = Counter()
        for labels, value in samples(self.metrics(), "neon_operator_neon_api_requests_total"):
            counts[f"{labels['method']} {labels['route']} {labels['status']}"] += int(value)
        return counts

    def kube_requests(self) -> Counter[str] | None:
        """The operator's own Kubernetes requests by ``verb resource`` (None: not exported)."""
        text = self.metrics()
        if "neon_operator_kubernetes_requests_total" not in text:
            return None
        counts: Counter[str] = Counter()
        for labels, value in samples(text, "neon_operator_kubernetes_requests_total"):
            counts[f"{labels['verb']} {labels['resource']}"] += int(value)
        return counts

    def by_priority(self) -> Counter[str]:
        """Neon requests so far by rate-limiter priority (``work``, ``drift``)."""
        counts: Counter[str] = Counter()
        for labels, value in samples(
            self.metrics(), "neon_operator_rate_limiter_wait_seconds_count"
        ):
            counts[labels["priority"]] += int(value)
        return counts

    def resumed(self) -> float:
        return resumed(self.metrics())

    def repairs(self) -> float:
        """Secret repairs so far (each a GET of the object and one of its Secret, at least)."""
        return reconciles(self.metrics(), "repair")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()


class Apiserver:
    """Request counts from the apiserver's own ``/metrics`` (every client together)."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api

    def requests(self) -> Counter[str]:
        response = self.api.call_api("GET", self.api.configuration.host + "/metrics")
        text = response.read().decode()
        counts: Counter[str] = Counter()
        for labels, value in samples(text, "apiserver_request_total"):
            resource = labels.get("resource", "")
            if labels.get("subresource"):
                resource += "/" + labels["subresource"]
            counts[f"{labels.get('verb')} {resource}"] += int(value)
        return counts


def emulator_requests(api_url: str, after: int) -> tuple[int, Counter[str]]:
    """The emulator's own count of the API requests it answered after number ``after``
    (from its request log): the latest number, and the requests by ``METHOD route``."""
    admin = api_url.rstrip("/").removesuffix("/api/v2")
    with urllib.request.urlopen(f"{admin}/admin/requests?after={after}", timeout=60) as page:
        log = json.loads(page.read())
    return int(log["last"]), Counter(f"{r['method']} {r['route']}" for r in log["requests"])


@dataclasses.dataclass
class Window:
    """What happened in one measured stretch of time."""

    seconds: float
    neon: Counter[str]
    apiserver: Counter[str]
    operator_kube: Counter[str] | None
    cpu: float

    def per_minute(self, counts: Counter[str] | None) -> str:
        if counts is None:
            return "not exported"
        return f"{sum(counts.values()) * 60 / self.seconds:.0f}"


def measure(operator: Operator | None, apiserver: Apiserver, seconds: float) -> Window:
    neon0 = operator.neon_requests() if operator else Counter()
    kube0 = operator.kube_requests() if operator else None
    api0 = apiserver.requests()
    cpu0 = cpu_seconds(operator.pid) if operator else 0.0
    started = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    neon = (operator.neon_requests() if operator else Counter()) - neon0
    kube1 = operator.kube_requests() if operator else None
    kube = kube1 - kube0 if kube1 is not None and kube0 is not None else None
    cpu = (cpu_seconds(operator.pid) - cpu0) if operator else 0.0
    return Window(elapsed, neon, apiserver.requests() - api0, kube, cpu)


def create_apps(objects: client.CustomObjectsApi, namespace: str, count: int) -> None:
    """``count`` NeonAppDatabases in one burst, one in four on the paid tier."""
    for index in range(count):
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "NeonAppDatabase",
            "metadata": {"name": f"app-{index:05d}"},
            "spec": {"tier": "free" if index % 4 else "paid"},
        }
        objects.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)


def reconciles(metrics: str, trigger: str) -> float:
    """Reconciliations for ``trigger`` so far, from an operator's ``/metrics`` text."""
    return sum(
        value
        for labels, value in samples(metrics, "neon_operator_reconciles_total")
        if labels.get("trigger") == trigger
    )


def resumed(metrics: str) -> float:
    """Objects resumed so far, from an operator's ``/metrics`` text."""
    return reconciles(metrics, "resume")


def ready_count(objects: client.CustomObjectsApi, namespace: str) -> int:
    ready, token = 0, None
    while True:
        page = objects.list_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, limit=1000, _continue=token
        )
        ready += sum(is_ready(i) for i in page["items"])
        token = page["metadata"].get("continue")
        if not token:
            return ready


def is_ready(obj: dict[str, Any]) -> bool:
    conditions = obj.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def probe(objects: client.CustomObjectsApi, namespace: str, name: str) -> float:
    """Seconds from creating one NeonAppDatabase to its ``Ready=True``."""
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "NeonAppDatabase",
        "metadata": {"name": name},
        "spec": {"tier": "free"},
    }
    started = time.monotonic()
    objects.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
    while not is_ready(
        objects.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    ):
        if time.monotonic() - started > 1800:
            raise TimeoutError(f"{name} not Ready after 30 minutes")
        time.sleep(0.1)
    return time.monotonic() - started


def top(counts: Counter[str], n: int = 6) -> str:
    return ", ".join(f"`{k}` {v}" for k, v in counts.most_common(n) if v) or "none"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=300, help="up to 30,000")
    parser.add_argument("--resync", type=float, default=300.0, help="--resync-interval, s")
    parser.add_argument(
        "--neon-resync", type=float, default=3600.0, help="--neon-resync-interval, s"
    )
    parser.add_argument(
        "--sweep-resync",
        type=float,
        default=60.0,
        help="--neon-resync-interval of the last operator, short enough that its drift sweep "
        "runs the whole time (the create probe waits behind it or not)",
    )
    parser.add_argument("--window", type=float, default=60.0, help="measured stretches, s")
    parser.add_argument(
        "--settle",
        type=float,
        default=None,
        help="seconds between all Ready (or all resumed) and a steady-state window; default "
        "--resync plus 5, so that periodic work has started",
    )
    parser.add_argument("--lift-budgets", action="store_true", help="no rate limits anywhere")
    parser.add_argument("--no-postgres", action="store_true", help="emulator control plane only")
    parser.add_argument(
        "--backlog",
        action="store_true",
        help="apply every resource while the operator is stopped, then start it and time from "
        "there: the operator's own ceiling, not the rate of this script's one client",
    )
    parser.add_argument(
        "--operator-args",
        default="",
        help="more arguments for every `neon-operator run`, e.g. relaxed leader election timing",
    )
    parser.add_argument("--label", default="", help="what is measured (e.g. a commit)")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    settle = args.resync + 5.0 if args.settle is None else args.settle
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the stack on the way out

    emulator_args = ["--no-postgres"] if args.no_postgres else []
    if args.lift_budgets:
        emulator_args += ["--rate-limit-per-minute", "0", "--burst-per-second", "0"]
    state = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    running = devstack.up(state / "stack", emulator_args=emulator_args)
    api = config.new_client_from_config(config_file=str(running.kubeconfig))
    objects = client.CustomObjectsApi(api)
    apiserver = Apiserver(api)
    neonconfig = objects.get_cluster_custom_object(GROUP, VERSION, "neonconfigs", "default")
    if args.lift_budgets:
        neonconfig = objects.patch_cluster_custom_object(
            GROUP, VERSION, "neonconfigs", "default", {"spec": {"rateLimit": LIFTED}}
        )
    budget = int(neonconfig["spec"].get("rateLimit", {}).get("requestsPerMinute", 700))
    namespace = "scale-" + uuid.uuid4().hex[:6]
    client.CoreV1Api(api).create_namespace({"metadata": {"name": namespace}})

    def start(log: str, neon_resync: float = args.neon_resync) -> Operator:
        extra = tuple(args.operator_args.split())
        return Operator(running.kubeconfig, state / log, args.resync, neon_resync, extra)

    operator = start("operator.log")
    peak = 0.0
    try:
        operator.metrics()  # serving
        time.sleep(3)  # the operator's watches start
        idle_rss = rss_mib(operator.pid)
        load_start = os.getloadavg()
        started = time.monotonic()
        if args.backlog:
            operator.stop()
        create_apps(objects, namespace, args.count)
        applied = time.monotonic() - started
        if args.backlog:
            operator = start("backlog.log")
            started = time.monotonic()
        poll = 1.0 if args.count <= 1000 else 5.0
        while (done := ready_count(objects, namespace)) < args.count:
            peak = max(peak, rss_mib(operator.pid))
            if time.monotonic() - started > 7200:
                raise TimeoutError(f"only {done}/{args.count} Ready after two hours")
            if operator.popen.poll() is not None:
                raise RuntimeError(
                    f"the operator exited ({operator.popen.returncode}) with {done}/{args.count} "
                    f"Ready after {time.monotonic() - started:.0f} s; see {state}"
                )
            time.sleep(poll)
        converged = time.monotonic() - started
        load_ready = os.getloadavg()
        after_create = operator.neon_requests()
        created_rss = rss_mib(operator.pid)
        peak = max(peak, created_rss)
        time.sleep(settle)
        repairs0 = operator.repairs()
        steady = measure(operator, apiserver, args.window)
        steady_repairs = operator.repairs() - repairs0
        steady_rss = rss_mib(operator.pid)
        quiet_probe = probe(objects, namespace, "probe-quiet")

        operator.stop()
        baseline = measure(None, apiserver, min(args.window, 30.0))

        api0 = apiserver.requests()
        assert running.emulator is not None
        answered0, _ = emulator_requests(running.emulator.api_url, 0)
        operator = start("restarted.log")
        restarted = time.monotonic()
        while operator.resumed() < args.count + 1:
            if time.monotonic() - restarted > 3600:
                raise TimeoutError("the restarted operator never resumed every resource")
            time.sleep(0.5)
        resumed = time.monotonic() - restarted
        restart_rss = rss_mib(operator.pid)
        remaining = args.window - (time.monotonic() - restarted)
        if remaining > 0:
            time.sleep(remaining)
        elapsed = time.monotonic() - restarted
        after_restart = Window(  # a new process: its counters started at zero
            elapsed,
            operator.neon_requests(),
            apiserver.requests() - api0,
            operator.kube_requests(),
            cpu_seconds(operator.pid),
        )
        restart_priorities = operator.by_priority()
        _, restart_answered = emulator_requests(running.emulator.api_url, answered0)
        time.sleep(max(0.0, settle - (time.monotonic() - restarted)))
        steady_after = measure(operator, apiserver, args.window)
        settled_rss = rss_mib(operator.pid)

        operator.stop()
        operator = start("sweep.log", args.sweep_resync)
        while operator.resumed() < args.count + 1:
            time.sleep(0.5)
        time.sleep(10)  # the sweep is under way
        drift0 = operator.by_priority()["drift"]
        swept = time.monotonic()
        sweep_probe = probe(objects, namespace, "probe-sweep")
        time.sleep(max(0.0, args.window / 2 - (time.monotonic() - swept)))
        drift_rate = (operator.by_priority()["drift"] - drift0) * 60 / (time.monotonic() - swept)
        sweep_limited = sum(v for k, v in operator.neon_requests().items() if k.endswith(" 429"))
        apiserver_rss = rss_mib(running.control_plane.processes["kube-apiserver"].pid)
        load_end = os.getloadavg()
    finally:
        operator.stop()
        running.stop()

    created = sum(after_create.values())
    per_create = created / args.count
    limited = sum(v for k, v in after_create.items() if k.endswith(" 429"))
    by_route: Counter[str] = Counter()
    for key, value in after_create.items():
        by_route[key.rsplit(" ", 1)[0]] += value
    # Neon's budget bounds creates at budget / calls-per-create a minute (2 calls: the create and
    # one operations poll); the key's bucket starts full, so a burst may beat it a little.
    bound_per_minute = budget / 2
    bound_seconds = args.count / bound_per_minute * 60
    budgets = (
        f"NeonConfig {budget:,} requests/minute, emulator unlimited"
        if args.lift_budgets
        else "NeonConfig and emulator at Neon's 700 requests/minute, 40/s burst per route"
    )
    plane = "no PostgreSQL" if args.no_postgres else "lazy PostgreSQL data plane"
    restart_neon = sum(after_restart.neon.values())
    results = {
        "resources applied (one burst, 1 in 4 paid)": f"{args.count}",
        "time to apply them all": f"{applied:.1f} s"
        + (" (the operator stopped: a backlog)" if args.backlog else ""),
        "time until all were Ready": f"{converged:.1f} s"
        + (" from the operator's start" if args.backlog else ""),
        "Ready per minute": f"{args.count / converged * 60:.0f}",
        f"bound by the budget ({budget:,}/min, 2 calls per create)": (
            f"{bound_per_minute:,.0f}/min, {bound_seconds:.1f} s; "
            f"measured time is {converged / bound_seconds:.2f} x the bound"
        ),
        "machine load average (1, 5, 15 min) at the burst / all Ready / the end": " / ".join(
            ", ".join(f"{v:.1f}" for v in load) for load in (load_start, load_ready, load_end)
        ),
        "Neon requests until all Ready": f"{created} ({per_create:.2f} per resource)",
        "Neon answers 429": f"{limited}",
        "operator RSS idle / peak / all Ready (MiB)": (
            f"{idle_rss:.0f} / {peak:.0f} / {created_rss:.0f}"
        ),
        "operator RSS per resource (all Ready minus idle)": (
            f"{(created_rss - idle_rss) * 1024 / args.count:.0f} KiB"
        ),
        f"steady state ({steady.seconds:.0f} s): Neon requests/min": steady.per_minute(steady.neon),
        "steady state: apiserver requests/min (all clients)": steady.per_minute(steady.apiserver),
        "steady state: the operator's own Kubernetes requests/min": steady.per_minute(
            steady.operator_kube
        ),
        "steady state: Secret repairs/min": f"{steady_repairs * 60 / steady.seconds:.0f}",
        "steady state: operator CPU": f"{steady.cpu / steady.seconds * 100:.1f} %",
        "steady state: operator RSS (MiB)": f"{steady_rss:.0f}",
        "create latency of one new resource in steady state": f"{quiet_probe:.1f} s",
        "operator stopped: apiserver requests/min (baseline)": baseline.per_minute(
            baseline.apiserver
        ),
        "restart: time until every resource was resumed": f"{resumed:.1f} s",
        f"restart: Neon requests in the first {after_restart.seconds:.0f} s": (
            f"{restart_neon} ({top(after_restart.neon, 3)}); by priority: {top(restart_priorities)}"
        ),
        "restart: the same, counted by the emulator (its request log)": (
            f"{sum(restart_answered.values())} ({top(restart_answered, 3)})"
        ),
        "restart: Neon requests per resumed resource": f"{restart_neon / (args.count + 1):.3f}",
        "restart: apiserver requests/min (all clients)": after_restart.per_minute(
            after_restart.apiserver
        ),
        "restart: the operator's own Kubernetes requests/min": after_restart.per_minute(
            after_restart.operator_kube
        ),
        "restart: operator CPU": f"{after_restart.cpu / after_restart.seconds * 100:.1f} %",
        "restart: operator RSS when resumed / after the window (MiB)": (
            f"{restart_rss:.0f} / {settled_rss:.0f}"
        ),
        f"after restart, steady ({steady_after.seconds:.0f} s): Neon requests/min": (
            steady_after.per_minute(steady_after.neon)
        ),
        "after restart, steady: apiserver requests/min (all clients)": steady_after.per_minute(
            steady_after.apiserver
        ),
        f"drift sweep (`--neon-resync-interval {args.sweep_resync:g}`): drift requests/min": (
            f"{drift_rate:.0f} (share {0.25 * budget:,.0f}/min); Neon 429 answers to "
            f"that operator: {sweep_limited}"
        ),
        "create latency of one new resource during that sweep": f"{sweep_probe:.1f} s",
        "kube-apiserver RSS at the end": f"{apiserver_rss:.0f} MiB",
    }
    lines = [
        f"# Scale: {args.count} NeonAppDatabases{f' ({args.label})' if args.label else ''}",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; kube-apiserver, controller-manager, emulator ({plane}), "
        f"operator and this script on the same machine. {budgets}; operator "
        f"`--resync-interval {args.resync:g} --neon-resync-interval {args.neon_resync:g}"
        f"{' ' + args.operator_args if args.operator_args else ''}`; "
        f"steady state measured {settle:g} s after all were Ready (resumed).",
        "",
        "    " + " ".join(["python", *sys.argv]),
        "",
        "| measure | value |",
        "| --- | ---: |",
        *(f"| {k} | {v} |" for k, v in results.items()),
        "",
        "The ratio to the bound is measured within this one run, on a 2-CPU machine other work "
        "shared (the load averages above); it is an upper bound of the operator's own overhead.",
        "",
        "Neon requests by route until all were Ready: " + top(by_route, 10),
        "",
        "Apiserver requests in steady state by verb and resource (all clients): "
        + top(steady.apiserver),
        "",
        "Apiserver requests with the operator stopped: " + top(baseline.apiserver),
        "",
        "Apiserver requests in the window after the restart: " + top(after_restart.apiserver),
        "",
    ]
    table = "\n".join(lines)
    print(table)
    output = args.output or RESULTS / f"scale-{args.count}.md"
    output.parent.mkdir(exist_ok=True)
    output.write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
