"""``neon-operator run``: the operator process (kopf) against the current kubeconfig.

kopf keeps its bookkeeping under the operator's own names: the finalizer
``neon.operator.dev/finalizer`` and annotations ``neon.operator.dev/…`` for handler progress and
the last handled spec (not kopf's ``kopf.zalando.org`` defaults, which other kopf operators in
the cluster share). Handler outcomes reach Kubernetes Events only at WARNING and above; the
reconcilers post their own Events for each state change.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from neon_operator import handlers, kube, metrics
from neon_operator.accounts import Accounts
from neon_operator.neon import CallLog
from neon_operator.reconcilers.context import Context, crash_hook_from_env
from neon_operator.settings import Settings

__all__ = ["kopf_settings", "run"]

logger = logging.getLogger(__name__)


def kopf_settings(settings: Settings) -> kopf.OperatorSettings:
    """kopf's settings for this operator: own finalizer and annotation storage."""
    configured = kopf.OperatorSettings()
    configured.persistence.finalizer = settings.finalizer
    configured.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix=settings.annotation_prefix
    )
    configured.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=settings.annotation_prefix, key="last-handled-configuration"
    )
    configured.posting.level = logging.WARNING
    configured.networking.request_timeout = 60.0
    return configured


def run(settings: Settings) -> int:
    """Run the operator until SIGINT/SIGTERM."""
    asyncio.run(_operate(settings))
    return 0


async def _operate(settings: Settings) -> None:
    kube_client = await kube.KubeClient.connect()
    calls = CallLog()
    metrics.observe_calls(calls)
    accounts = Accounts(
        kube_client,
        calls=calls,
        operation_timeout=settings.operation_timeout,
        drift_share=settings.neon_resync_share,
    )
    ctx = Context(
        kube=kube_client, accounts=accounts, settings=settings, crash_after=crash_hook_from_env()
    )
    registry = handlers.register(ctx)

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return kopf.login_via_client(**kwargs)

    if settings.metrics_port is not None:
        metrics.serve(settings.metrics_port)
    liveness = (
        f"http://0.0.0.0:{settings.liveness_port}/healthz"
        if settings.liveness_port is not None
        else None
    )
    try:
        await kopf.operator(
            registry=registry,
            settings=kopf_settings(settings),
            clusterwide=settings.clusterwide,
            namespaces=settings.namespaces,
            liveness_endpoint=liveness,
            standalone=True,
        )
    finally:
        await accounts.close()
        await kube_client.close()
