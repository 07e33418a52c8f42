"""How the operator runs: names it stamps on objects, intervals, ports, where it looks.

One frozen :class:`Settings` is built by ``neon-operator run`` from its flags and handed to the
handlers and reconcilers; nothing reads environment variables or globals behind its back (the
one exception is the test-only crash hook, see :data:`CRASH_AFTER_ENV`).
"""

from __future__ import annotations

import dataclasses
from typing import Final

PREFIX: Final = "neon.operator.dev"
"""Group of the CRDs and prefix of every annotation, label and finalizer the operator owns."""

CRASH_AFTER_ENV: Final = "NEON_OPERATOR_TEST_CRASH_AFTER"
"""Test hook: when this environment variable names a step (``create_project``), the operator
process kills itself with SIGKILL right after that step's Neon call returned, before anything
is written back to Kubernetes. The crash-safety e2e test uses it; never set it elsewhere."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """Settings of one operator process."""

    finalizer: str = f"{PREFIX}/finalizer"
    """Finalizer that holds a NeonAppDatabase until its Neon project is deleted (or retained)."""

    annotation_prefix: str = f"handlers.{PREFIX}"
    """Prefix of kopf's progress and diff-base annotations (instead of ``kopf.zalando.org``).

    A subdomain of :data:`PREFIX` rather than :data:`PREFIX` itself: kopf ignores every
    annotation under its storage prefix when it compares objects, and the operator's own
    annotations (:attr:`paused_annotation`, :attr:`password_rotation_annotation`) must count as
    changes."""

    paused_annotation: str = f"{PREFIX}/paused"
    """An object carrying this annotation with value ``true`` is left alone: no Neon calls, no
    Secret writes; deleting it then keeps the Neon project (as ``Retain``)."""

    password_rotation_annotation: str = f"{PREFIX}/password-rotation"
    """Annotation twin of ``spec.passwordRotation``: each new value resets the password once."""

    owner_annotation: str = f"{PREFIX}/uid"
    """Key of the Neon branch annotation that records which Kubernetes object created a project
    (its ``metadata.uid``): how a restarted operator finds a project it created but never
    recorded in status."""

    owner_namespace_annotation: str = f"{PREFIX}/namespace"
    """Key of the Neon branch annotation that records the namespace of that object: a project
    is adopted (``spec.adoptProjectId``) only from the namespace it was created for."""

    resync_interval: float = 300.0
    """Seconds between sweeps that compare every resource's Secret with the operator's watch of
    its Secrets (no Kubernetes or Neon request); a missing or edited Secret is repaired. The
    watch itself reports a deleted or edited Secret at once: the sweep retries what a repair
    could not finish."""

    neon_resync_interval: float = 3600.0
    """Seconds between comparisons of one resource with Neon (drift checks: its project or
    branch and its endpoints), spread evenly by one scheduler (:mod:`neon_operator.drift`);
    kept apart from :attr:`resync_interval` because Neon calls are the scarce budget (700/min
    per key) and a platform may hold tens of thousands of projects."""

    neon_resync_share: float = 0.25
    """Fraction of each NeonConfig's request budget that drift checks may spend; with more
    resources than the share pays for in :attr:`neon_resync_interval`, each resource simply
    comes round less often. Drift checks also wait in the rate limiter while new work waits."""

    consumption_interval: float = 3600.0
    """Seconds between fetches of the consumption history of every tracked project (up to
    100 projects per Neon call, :mod:`neon_operator.handlers.consumption`), which keep
    ``status.consumption`` and the ``neon_operator_consumption_*`` gauges current."""

    consumption_share: float = 0.05
    """Fraction of each NeonConfig's request budget the consumption fetches may spend; they
    also wait in the rate limiter while other work waits."""

    neon_budget_share: float = 1.0
    """Fraction of each NeonConfig's request budget (``spec.rateLimit``) this process spends.
    Neon's budget is per API key: operators that split the resources between them (shards by
    namespace, each with its own Lease) and share a NeonConfig each take ``1/N`` of it, so
    together they stay inside it (:func:`neon_operator.accounts.budget_of`)."""

    retry_delay: float = 30.0
    """Seconds before retrying a resource whose NeonConfig, API key or Neon itself is not usable
    right now (a person must fix something; no hot loop)."""

    max_workers: int = 128
    """Objects of one kind that kopf processes at once (per served namespace when
    :attr:`namespaces` is set: kopf runs a watcher for each), as controller-runtime's
    ``MaxConcurrentReconciles``; the others wait as queued watch events (their bodies slimmed:
    :mod:`neon_operator.kopfwatch`). Unbounded, a burst of N creates held N reconciles in memory
    while all but a few waited for Neon's budget (about 290 KiB each: bench/results/scale.md,
    and the allocator kept that high-water mark after they finished)."""

    config_refresh_interval: float = 300.0
    """Seconds between re-checks of each NeonConfig's API key Secret and key."""

    operation_timeout: float = 300.0
    """Seconds to wait for one mutation's Neon operations before retrying later."""

    namespaces: tuple[str, ...] = ()
    """Namespaces whose NeonAppDatabases are served; empty means all namespaces."""

    liveness_port: int | None = None
    """Port of the ``/healthz`` endpoint (kopf's liveness probe); ``None`` serves none."""

    metrics_port: int | None = None
    """Port of the Prometheus ``/metrics`` endpoint; ``None`` serves none."""

    leader_election_id: str | None = None
    """Name of the leadership Lease; ``None``: ``neon-operator`` when serving every namespace,
    ``neon-operator-<hash of the namespace patterns>`` otherwise (one Lease per shard)."""

    leader_election_namespace: str | None = None
    """Namespace of the Lease; ``None``: the pod's own in a cluster, ``default`` outside."""

    lease_duration: float = 15.0
    """Seconds a standby waits, after it last saw the Lease renewed, before taking over."""

    renew_deadline: float = 10.0
    """Seconds the leader may go without renewing before it stops writing and exits."""

    retry_period: float = 2.0
    """Seconds between attempts to acquire or renew the Lease."""

    @property
    def clusterwide(self) -> bool:
        """Whether every namespace is watched."""
        return not self.namespaces

    def is_paused(self, annotations: dict[str, str]) -> bool:
        """Whether an object with these annotations is paused."""
        return annotations.get(self.paused_annotation, "").strip().lower() in ("true", "1", "yes")
