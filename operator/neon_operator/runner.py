"""``neon-operator run``: the operator process (kopf) against the current kubeconfig.

kopf keeps its bookkeeping under the operator's own names: the finalizer
``neon.operator.dev/finalizer`` and annotations ``neon.operator.dev/…`` for handler progress and
the last handled spec (not kopf's ``kopf.zalando.org`` defaults, which other kopf operators in
the cluster share). Handler outcomes reach Kubernetes Events only at WARNING and above; the
reconcilers post their own Events for each state change.

Only the holder of the leadership Lease runs kopf (see :mod:`neon_operator.leadership`)::

    start → metrics, /healthz (standby) → wait for the Lease ──(SIGTERM)──→ exit 0
              └─ leading: kopf runs its handlers, the Lease is renewed
                   ├─ SIGTERM → kopf stops → the Lease is released → exit 0
                   └─ Lease lost → writes fenced at once, kopf stopped → exit 1 (the pod
                      restarts as a standby, as controller-runtime's managers do)

Every write of the process (the Kubernetes client, Neon requests that may change something,
kopf's own requests) passes one :class:`~neon_operator.fencing.Fence`.

Beside kopf runs the :class:`~neon_operator.handlers.upkeep.Upkeep`: one watch of the
operator's Secrets (whose cache serves the reconcilers' Secret reads), Secret repairs and the
drift scheduler. It runs while the Lease is held and starts before kopf, so that resumed
objects find the cache filled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any, Final

import kopf

from neon_operator import handlers, kopfwatch, kubecalls, leadership, metrics, secretwatch
from neon_operator.accounts import Accounts
from neon_operator.fencing import Fence
from neon_operator.handlers.upkeep import Upkeep
from neon_operator.neon import CallLog
from neon_operator.reconcilers.context import Context, crash_hook_from_env
from neon_operator.settings import Settings

__all__ = ["kopf_settings", "run"]

logger = logging.getLogger(__name__)

LOST_LEASE_EXIT: Final = 1
STOP_TIMEOUT: Final = 5.0
"""Seconds kopf gets to stop after the Lease was lost (it can write nothing meanwhile)."""


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
    configured.queueing.worker_limit = settings.max_workers
    # An idle worker keeps its place among the max_workers for this long, waiting for more
    # events of its object, so a restart resumes at most max_workers / idle_timeout objects a
    # second (kopf's default, 5 s: 26/s), and a drift sweep's status echoes keep a new create
    # waiting for a place. At 10,000 apps, 1.0 s -> 0.1 s: resumed in 90 -> 24.5 s, a create
    # during a lifted-budget sweep 16.4 -> 0.8 s (bench/results/scale-10000-idle-*.md). A
    # worker that left is started again by the object's next event, at the cost of a task.
    configured.queueing.idle_timeout = 0.1
    # A restart parses one page of bodies at a time, not every listed body at once.
    configured.watching.chunk_size = kopfwatch.LIST_PAGE
    return configured


def run(settings: Settings) -> int:
    """Run the operator until SIGINT/SIGTERM (0), or until it loses the Lease (1)."""
    return asyncio.run(_operate(settings))


def election(settings: Settings, identity: str) -> leadership.Election:
    """The Lease this process competes for, per its settings."""
    return leadership.Election(
        name=settings.leader_election_id or leadership.lease_name(settings.namespaces),
        namespace=settings.leader_election_namespace or leadership.default_namespace(),
        identity=identity,
        lease_duration=settings.lease_duration,
        renew_deadline=settings.renew_deadline,
        retry_period=settings.retry_period,
    )


async def _operate(settings: Settings) -> int:
    identity = leadership.identity()
    user_agent = f"neon-operator/{identity}"
    fence = Fence(on_refused=metrics.refused)
    kube_client = await secretwatch.CachedKubeClient.connect(fence=fence, user_agent=user_agent)
    kubecalls.observe(kube_client.api, metrics.kubernetes_request)
    secrets = secretwatch.SecretWatch(kube_client.api, namespaces=settings.namespaces)
    kube_client.secrets = secrets
    calls = CallLog()
    metrics.observe_calls(calls)
    accounts = Accounts(
        kube_client,
        calls=calls,
        operation_timeout=settings.operation_timeout,
        fence=fence,
        budget_share=settings.neon_budget_share,
    )
    ctx = Context(
        kube=kube_client,
        accounts=accounts,
        settings=settings,
        crash_after=crash_hook_from_env(),
        identity=identity,
    )
    upkeep = Upkeep(ctx, secrets)
    registry = handlers.register(ctx, upkeep)

    @kopf.on.login(registry=registry)
    async def login(**kwargs: Any) -> kopf.AiohttpSession | None:
        info = kopf.login_via_client(**kwargs)
        return leadership.fenced_session(info, fence, user_agent) if info is not None else None

    if settings.metrics_port is not None:
        metrics.serve(settings.metrics_port)
    elector = leadership.Elector(kube_client.api, election(settings, identity), fence)
    metrics.leading(False)
    try:
        async with leadership.serve_standby_health(settings.liveness_port):
            if not await _stand_by(elector):
                return 0
        metrics.leading(True)
        return await _lead(settings, registry, elector, upkeep)
    finally:
        metrics.leading(False)
        await accounts.close()
        await kube_client.close()


async def _stand_by(elector: leadership.Elector) -> bool:
    """Wait for the Lease; ``False`` if asked to stop (SIGINT/SIGTERM) first."""
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    acquired = asyncio.create_task(elector.acquire())
    stopping = asyncio.create_task(stopped.wait())
    try:
        await asyncio.wait({acquired, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        stopping.cancel()
    if acquired.done():
        acquired.result()
        return True
    acquired.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await acquired
    logger.info("stopped while standing by")
    return False


async def _lead(
    settings: Settings,
    registry: kopf.OperatorRegistry,
    elector: leadership.Elector,
    upkeep: Upkeep,
) -> int:
    """Run kopf and the upkeep while the Lease is held; the exit code."""
    liveness = (
        f"http://0.0.0.0:{settings.liveness_port}/healthz"
        if settings.liveness_port is not None
        else None
    )
    kopfwatch.install()
    upkept = asyncio.create_task(upkeep.run(), name="upkeep")
    stop = asyncio.Event()
    operator = asyncio.create_task(
        kopf.operator(
            registry=registry,
            settings=kopf_settings(settings),
            clusterwide=settings.clusterwide,
            namespaces=settings.namespaces,
            liveness_endpoint=liveness,
            standalone=True,
            stop_flag=stop,
        )
    )
    keeper = asyncio.create_task(elector.keep_on_own_thread())
    await asyncio.wait({operator, keeper}, return_when=asyncio.FIRST_COMPLETED)
    if keeper.done():
        stop.set()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(operator, timeout=STOP_TIMEOUT)
        await _stop_upkeep(upkept)
        return LOST_LEASE_EXIT
    keeper.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await keeper
    await _stop_upkeep(upkept)
    await elector.release()
    operator.result()
    return 0


async def _stop_upkeep(upkept: asyncio.Task[None]) -> None:
    upkept.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await upkept
