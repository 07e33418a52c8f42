"""Prometheus metrics: Neon API calls by route and status, the rate limiter's waits and queue by
priority, reconcile outcomes by kind, and the operator's own Kubernetes requests by verb and
resource.

Each NeonAppDatabase's current-period consumption is a set of gauges (``CONSUMPTION``, labels
namespace, name, tier), kept by :mod:`neon_operator.handlers.consumption`.

Route labels are Neon's path templates (``/projects/{project_id}``), never concrete ids, so the
label space stays small. Served by ``neon-operator run --metrics-port``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Final

import prometheus_client
from prometheus_client import core

from neon_operator.neon import ApiCall, CallLog, LimiterRegistry, Priority, shared_limiters

__all__ = [
    "CONSUMPTION",
    "REGISTRY",
    "consumption",
    "forget_consumption",
    "kubernetes_request",
    "leading",
    "observe_calls",
    "reconciled",
    "refused",
    "serve",
]

REGISTRY: Final = prometheus_client.CollectorRegistry()

NEON_REQUESTS: Final = prometheus_client.Counter(
    "neon_operator_neon_api_requests",
    "HTTP requests sent to the Neon API (each retry counts)",
    ["method", "route", "status"],
    registry=REGISTRY,
)
NEON_LATENCY: Final = prometheus_client.Histogram(
    "neon_operator_neon_api_request_duration_seconds",
    "Time from sending a Neon API request to its response headers",
    ["method", "route"],
    registry=REGISTRY,
)
LIMITER_WAIT: Final = prometheus_client.Histogram(
    "neon_operator_rate_limiter_wait_seconds",
    "Time a Neon request waited for the client-side rate limiter, by priority (work, drift)",
    ["priority"],
    buckets=(0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
    registry=REGISTRY,
)
LEADER: Final = prometheus_client.Gauge(
    "neon_operator_leader",
    "1 while this process holds the leadership Lease (and may write), else 0",
    registry=REGISTRY,
)
REFUSED: Final = prometheus_client.Counter(
    "neon_operator_writes_refused",
    "Writes (Kubernetes, or Neon requests that may change something) stopped by the leadership "
    "fence: attempted by a process that no longer leads, never sent",
    registry=REGISTRY,
)
RECONCILES: Final = prometheus_client.Counter(
    "neon_operator_reconciles",
    "Reconciliations by kind, trigger and outcome (ok, retry, await_change, transient)",
    ["kind", "trigger", "outcome"],
    registry=REGISTRY,
)
KUBERNETES_REQUESTS: Final = prometheus_client.Counter(
    "neon_operator_kubernetes_requests",
    "Requests the operator's own Kubernetes client sent, by verb and resource (kopf's not counted)",
    ["verb", "resource"],
    registry=REGISTRY,
)

CONSUMPTION: Final = {
    field: prometheus_client.Gauge(
        f"neon_operator_consumption_{field}",
        f"{what} in the current billing period, per NeonAppDatabase (status.consumption)",
        ["namespace", "name", "tier"],
        registry=REGISTRY,
    )
    for field, what in (
        ("compute_time_seconds", "CPU seconds used by the project's computes"),
        ("active_time_seconds", "Seconds the project's computes were active"),
        ("written_data_bytes", "Bytes written to the project's branches"),
        ("data_transfer_bytes", "Bytes the project transferred out of Neon"),
        ("synthetic_storage_size_bytes", "Storage the project is billed for"),
    )
}
"""One gauge per ``status.consumption`` number, by the field's name."""


class LimiterCollector:
    """The rate limiters' queues, read when ``/metrics`` is scraped."""

    def __init__(self, limiters: LimiterRegistry) -> None:
        self.limiters = limiters

    def collect(self) -> Iterator[core.Metric]:
        depth = core.GaugeMetricFamily(
            "neon_operator_rate_limiter_queue_depth",
            "Neon requests waiting for the client-side rate limiter now, by priority",
            labels=["priority"],
        )
        overtook = core.CounterMetricFamily(
            "neon_operator_rate_limiter_overtaking_requests",
            "Neon requests let through while a request of higher priority waited (0 by design)",
            labels=["priority"],
        )
        budget = core.GaugeMetricFamily(
            "neon_operator_rate_limiter_budget_requests_per_minute",
            "The request budget this process spends per API key (its share of the NeonConfig's "
            "spec.rateLimit; 0: unlimited), by a fingerprint of the key",
            labels=["limiter"],
        )
        limiters = list(self.limiters)
        for limiter in limiters:
            budget.add_metric([limiter.name], limiter.limits.per_minute)
        for priority in Priority:
            label = [priority.name.lower()]
            depth.add_metric(label, sum(limiter.stats[priority].waiting for limiter in limiters))
            overtook.add_metric(
                label, sum(limiter.stats[priority].overtook for limiter in limiters)
            )
        yield depth
        yield overtook
        yield budget


REGISTRY.register(LimiterCollector(shared_limiters))


def observe_calls(calls: CallLog) -> None:
    """Count every request of ``calls`` in the metrics."""

    def record(call: ApiCall) -> None:
        status = str(call.status) if call.status is not None else "none"
        NEON_REQUESTS.labels(call.method, call.route, status).inc()
        NEON_LATENCY.labels(call.method, call.route).observe(call.duration)
        LIMITER_WAIT.labels(call.priority.name.lower()).observe(call.waited)

    calls.subscribe(record)


def leading(value: bool) -> None:
    """Record whether this process leads."""
    LEADER.set(1 if value else 0)


def refused(what: str) -> None:
    """Count one write the fence stopped."""
    REFUSED.inc()


def reconciled(kind: str, trigger: str, outcome: str) -> None:
    """Count one reconciliation."""
    RECONCILES.labels(kind, trigger, outcome).inc()


def kubernetes_request(verb: str, resource: str) -> None:
    """Count one request to the Kubernetes API (see :mod:`neon_operator.kubecalls`)."""
    KUBERNETES_REQUESTS.labels(verb, resource).inc()


def consumption(namespace: str, name: str, tier: str, values: Mapping[str, int | None]) -> None:
    """Set the consumption gauges of one resource (a number it lacks leaves its gauge out)."""
    for field, gauge in CONSUMPTION.items():
        value = values.get(field)
        if value is None:
            with contextlib.suppress(KeyError):
                gauge.remove(namespace, name, tier)
        else:
            gauge.labels(namespace, name, tier).set(value)


def forget_consumption(namespace: str, name: str, tier: str) -> None:
    """Drop the consumption series of a resource that is gone (or moved to another tier)."""
    for gauge in CONSUMPTION.values():
        with contextlib.suppress(KeyError):
            gauge.remove(namespace, name, tier)


def serve(port: int, host: str = "0.0.0.0") -> None:
    """Serve ``/metrics`` on ``port`` in a background thread."""
    prometheus_client.start_http_server(port, addr=host, registry=REGISTRY)
