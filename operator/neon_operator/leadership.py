"""Leader election on a ``coordination.k8s.io/v1`` Lease: one operator instance acts, the others
stand by, and one that lost the Lease writes nothing more and exits.

The algorithm and timing are client-go's (controller-runtime's defaults: lease 15 s, renew
deadline 10 s, retry period 2 s)::

    standby  every retryPeriod: read the Lease; take it (update at the version read) when it is
             absent, released (no holder), or its record has not changed for
             leaseDurationSeconds as measured by this process's own clock since it last saw it
             change (never by comparing clocks across machines)
    leader   every retryPeriod: renew (renewTime, at the version read)
             └─ no renewal for renewDeadline, or the Lease names another holder → lost

The :class:`~neon_operator.fencing.Fence` stays open until ``t + renewDeadline``, where ``t`` is
this process's monotonic time just *before* it sent its last successful renewal. Another
instance can take over only ``leaseDuration`` after it *observed* that renewal, which happened
later, so the fence closes at least ``leaseDuration - renewDeadline`` (5 s) before anyone else
may act: a stale instance is fenced even if it never learns it lost. On a clean stop the Lease
is released (holder cleared) so that a standby takes over at its next retry.

The leader renews from a thread of its own, with its own event loop and HTTP client
(:meth:`Elector.keep_on_own_thread`), as client-go renews from its own goroutine: the operator's
loop, busy with a burst of thousands of objects, once woke the renewal 10 s late, after the fence
had closed by time, and the leader stepped down in the middle of the burst.

Names (see :func:`lease_name`): ``neon-operator`` for an operator serving every namespace,
``neon-operator-<hash>`` of the served namespace patterns otherwise, so that shards serving
different namespaces each elect their own leader while replicas of one shard share a Lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import datetime
import hashlib
import logging
import pathlib
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Final

import aiohttp
import aiohttp.web
import kopf
from kubernetes.aio import client
from kubernetes.aio.client.exceptions import ApiException

from neon_operator.fencing import Fence

__all__ = [
    "Election",
    "Elector",
    "default_namespace",
    "fenced_session",
    "identity",
    "lease_name",
    "serve_standby_health",
]

logger = logging.getLogger(__name__)

SERVICE_ACCOUNT_NAMESPACE: Final = pathlib.Path(
    "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
)
READ_ONLY: Final = frozenset({"GET", "HEAD", "OPTIONS"})
UNREACHABLE: Final = (aiohttp.ClientError, OSError, TimeoutError)
"""What the client raises when the apiserver is down or does not answer in time."""


@dataclasses.dataclass(frozen=True)
class Election:
    """Where the Lease is and how it is held."""

    name: str
    namespace: str
    identity: str
    """Unique per process: ``<hostname>_<uuid>`` (the pod's name in a cluster)."""
    lease_duration: float = 15.0
    """Seconds a standby waits, after it last saw the Lease change, before taking it over."""
    renew_deadline: float = 10.0
    """Seconds the leader keeps trying to renew before it gives up (and stops writing)."""
    retry_period: float = 2.0
    """Seconds between attempts to acquire or renew."""

    def __post_init__(self) -> None:
        if not self.lease_duration > self.renew_deadline > self.retry_period * 1.2 > 0:
            raise ValueError(
                "leader election needs lease duration > renew deadline > 1.2 * retry period > 0 "
                f"(got {self.lease_duration}, {self.renew_deadline}, {self.retry_period})"
            )


def identity() -> str:
    """This process's identity in the election: ``<hostname>_<uuid4>``."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


def lease_name(namespaces: tuple[str, ...]) -> str:
    """The default Lease name for an operator serving ``namespaces`` (empty: all)."""
    if not namespaces:
        return "neon-operator"
    digest = hashlib.sha256(",".join(sorted(set(namespaces))).encode()).hexdigest()[:10]
    return f"neon-operator-{digest}"


def default_namespace() -> str:
    """The default namespace of the Lease: the pod's own in a cluster, else ``default``."""
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or "default"
    except OSError:
        return "default"


def _micro_time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Elector:
    """Acquires, keeps and releases the Lease of :class:`Election`, opening and closing
    ``fence`` accordingly."""

    def __init__(
        self,
        api: client.ApiClient,
        election: Election,
        fence: Fence,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.api = api
        self.leases = client.CoordinationV1Api(api)
        self.election = election
        self.fence = fence
        self._clock = clock
        self._sleep = sleep
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        self._renewed_at = -float("inf")
        self.holder: str | None = None
        """The holder the Lease named when last read."""

    async def acquire(self) -> None:
        """Return once this process leads (its fence is open)."""
        logger.info(
            "waiting to lead: Lease %s/%s as %s",
            self.election.namespace,
            self.election.name,
            self.election.identity,
        )
        while not await self._attempt():
            await self._sleep(self.election.retry_period)
        logger.info("leading: Lease %s/%s", self.election.namespace, self.election.name)

    async def keep(self) -> None:
        """Renew until the lease is lost; then close the fence and return."""
        while True:
            await self._sleep(self.election.retry_period)
            if not self.fence.is_open():
                break  # the renew deadline passed without a renewal (e.g. the process was frozen)
            remaining = max(self._deadline_left(), 0.05)
            try:
                renewed = await asyncio.wait_for(self._attempt(), timeout=remaining)
            except TimeoutError:
                renewed = False
            if not renewed and self.holder not in (None, "", self.election.identity):
                break  # someone else holds it: they think they lead, so we stop at once
        self.fence.close()
        logger.error(
            "lost the Lease %s/%s (held by %s now): no more writes; stopping",
            self.election.namespace,
            self.election.name,
            self.holder or "nobody",
        )

    async def keep_on_own_thread(self) -> None:
        """:meth:`keep`, run on a thread of its own with its own event loop and apiserver
        client (see the module docstring); returns when the Lease is lost, and stops that
        thread before it lets a cancellation through."""
        loop = asyncio.new_event_loop()
        keeping = loop.create_task(self._keep_with_own_client())
        ended = asyncio.get_running_loop().create_future()

        def run() -> None:
            try:  # what it raised stays in the task, read below
                with contextlib.suppress(BaseException):
                    loop.run_until_complete(keeping)
            finally:
                loop.close()
                with contextlib.suppress(RuntimeError):  # the main loop is closing
                    ended.get_loop().call_soon_threadsafe(_settle, ended)

        threading.Thread(target=run, name="lease-renewal", daemon=True).start()
        try:
            await asyncio.shield(ended)
        except asyncio.CancelledError:
            with contextlib.suppress(RuntimeError):  # it had ended already
                loop.call_soon_threadsafe(keeping.cancel)
            await ended
            raise
        if not keeping.cancelled() and (error := keeping.exception()) is not None:
            raise error

    async def _keep_with_own_client(self) -> None:
        """:meth:`keep` by a copy of this elector (its state so far, the same fence) whose
        Lease API uses a client of the renewal thread's loop; this one's stays the main loop's."""
        own = client.ApiClient(configuration=self.api.configuration)
        own.user_agent = self.api.user_agent
        renewer = copy.copy(self)
        renewer.api, renewer.leases = own, client.CoordinationV1Api(own)
        try:
            await renewer.keep()
        finally:
            self.holder = renewer.holder
            await own.close()

    async def release(self) -> None:
        """Give the Lease up if this process still holds it (a clean stop): a standby takes
        over at its next attempt instead of waiting for the lease to expire."""
        leading = self.fence.is_open()
        self.fence.close()
        if not leading:
            return
        try:
            lease = await self._read()
            spec = lease.get("spec") or {}
            if spec.get("holderIdentity") != self.election.identity:
                return
            now = _micro_time(datetime.datetime.now(datetime.UTC))
            lease["spec"] = {
                **spec,
                "holderIdentity": None,
                "leaseDurationSeconds": 1,
                "acquireTime": now,
                "renewTime": now,
            }
            await self.leases.replace_namespaced_lease(
                self.election.name, self.election.namespace, lease
            )
            logger.info("released the Lease %s/%s", self.election.namespace, self.election.name)
        except ApiException as error:
            logger.warning("could not release the Lease: HTTP %s", error.status)

    def _deadline_left(self) -> float:
        return self._renewed_at + self.election.renew_deadline - self._clock()

    async def _attempt(self) -> bool:
        """One try to acquire or renew (client-go's ``tryAcquireOrRenew``)."""
        started = self._clock()  # before sending: the fence counts from here
        now = datetime.datetime.now(datetime.UTC)
        try:
            return await self._try(started, now)
        except UNREACHABLE as error:
            # client-go's loop: an apiserver that does not answer is retried every retry
            # period until the renew deadline passes, not a reason to stop at once.
            logger.warning("cannot reach the apiserver for the Lease: %s", type(error).__name__)
            return False

    async def _try(self, started: float, now: datetime.datetime) -> bool:
        election = self.election
        try:
            lease = await self._read()
        except ApiException as error:
            if error.status != 404:
                logger.warning("cannot read the Lease: HTTP %s", error.status)
                return False
            return await self._create(started, now)
        spec: dict[str, Any] = lease.get("spec") or {}
        record = tuple(
            spec.get(key)
            for key in (
                "holderIdentity",
                "leaseDurationSeconds",
                "acquireTime",
                "renewTime",
                "leaseTransitions",
            )
        )
        if record != self._observed:
            self._observed, self._observed_at = record, started
        holder = spec.get("holderIdentity") or ""
        self.holder = holder
        duration = spec.get("leaseDurationSeconds") or election.lease_duration
        mine = holder == election.identity
        if holder and not mine and self._observed_at + duration > started:
            return False  # held by another and not expired
        updated = {
            **spec,
            "holderIdentity": election.identity,
            "leaseDurationSeconds": round(election.lease_duration),
            "renewTime": _micro_time(now),
        }
        if not mine:
            updated["acquireTime"] = _micro_time(now)
            updated["leaseTransitions"] = (spec.get("leaseTransitions") or 0) + (1 if holder else 0)
        lease["spec"] = updated
        try:  # replace at the version read: a concurrent candidate's update makes this fail
            await self.leases.replace_namespaced_lease(election.name, election.namespace, lease)
        except ApiException as error:
            if error.status != 409:
                logger.warning("cannot update the Lease: HTTP %s", error.status)
            return False
        return self._renewed(started)

    async def _read(self) -> dict[str, Any]:
        """The Lease as a plain dict (camelCase, times as strings), with its resourceVersion."""
        lease = await self.leases.read_namespaced_lease(self.election.name, self.election.namespace)
        body: dict[str, Any] = self.api.sanitize_for_serialization(lease)
        spec = body.get("spec") or {}
        for key in ("acquireTime", "renewTime"):  # MicroTime: exactly six fractional digits
            if isinstance(spec.get(key), str):
                spec[key] = _micro_time(datetime.datetime.fromisoformat(spec[key]))
        return body

    async def _create(self, started: float, now: datetime.datetime) -> bool:
        election = self.election
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": election.name, "namespace": election.namespace},
            "spec": {
                "holderIdentity": election.identity,
                "leaseDurationSeconds": round(election.lease_duration),
                "acquireTime": _micro_time(now),
                "renewTime": _micro_time(now),
                "leaseTransitions": 0,
            },
        }
        try:
            await self.leases.create_namespaced_lease(election.namespace, body)
        except ApiException as error:
            if error.status != 409:  # 409: another candidate created it first
                logger.warning("cannot create the Lease: HTTP %s", error.status)
            return False
        return self._renewed(started)

    def _renewed(self, started: float) -> bool:
        self.holder = self.election.identity
        self._renewed_at = started
        self.fence.open_until(started + self.election.renew_deadline)
        return True


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def fenced_session(info: kopf.ConnectionInfo, fence: Fence, user_agent: str) -> kopf.AiohttpSession:
    """kopf's HTTP session to the apiserver, as kopf builds it from ``info``, with one addition:
    every request that may change something passes ``fence`` first (kopf writes finalizers and
    its progress annotations on its own, outside the reconcilers)."""

    async def guard(
        request: aiohttp.ClientRequest,
        handler: Callable[[aiohttp.ClientRequest], Awaitable[aiohttp.ClientResponse]],
    ) -> aiohttp.ClientResponse:
        if request.method not in READ_ONLY:
            fence.check(f"kopf {request.method} {request.url.path}")
        return await handler(request)

    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, ssl=info.as_ssl_context()),
        headers={**info.as_http_headers(), "User-Agent": user_agent},
        proxy=info.proxy_url,
        trust_env=info.trust_env,
        middlewares=(guard,),
    )
    return kopf.AiohttpSession(
        server=info.server,
        default_namespace=info.default_namespace,
        priority=info.priority,
        expiration=info.expiration,
        aiohttp_session=session,
    )


@contextlib.asynccontextmanager
async def serve_standby_health(port: int | None) -> Any:
    """While standing by: answer ``/healthz`` on the liveness port (kopf serves it once this
    process leads), so that a standby is alive, not crash-looped by its liveness probe."""
    if port is None:
        yield
        return

    async def healthz(_: aiohttp.web.Request) -> aiohttp.web.Response:
        return aiohttp.web.json_response({"standby": True})

    app = aiohttp.web.Application()
    app.router.add_get("/healthz", healthz)
    runner = aiohttp.web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, "0.0.0.0", port, reuse_address=True)
    await site.start()
    try:
        yield
    finally:
        await runner.cleanup()
