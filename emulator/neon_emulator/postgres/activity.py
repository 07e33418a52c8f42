"""Activity and suspension: computes wake on connect and suspend when idle, as a client sees it.

* Connecting to a suspended endpoint wakes it: after ``cold_start_delay`` seconds (and the
  server start) the endpoint is ``active`` again (``started_at``, ``last_active`` and active time
  follow). Connections arriving meanwhile wait for the same wake.
* After ``suspend_timeout_seconds`` without connections (``0``: the default, 300 s unless
  configured; ``-1``: never) an endpoint becomes ``idle`` and a server no active endpoint wants
  stops. Suspending by API, deleting an endpoint or the project drop its connections too.
* Waking and idle suspension appear in the project's operations as Neon lists them:
  ``start_compute``/``suspend_compute``, ``running`` while they happen, ``finished`` after
  (observed operations: they lock nothing, see :mod:`neon_emulator.operations`).
* Consumption: active time is the control plane's ``started_at``/``active_seconds`` accounting,
  fed by waking and idling; written bytes are measured every check while a branch has had
  connections (:meth:`~neon_emulator.postgres.lifecycle.Clusters.measure`).

Every client connection is a :class:`Lease`: the proxy reports its traffic (which keeps the
compute active and tells a pinned branch point that someone may have written) and its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from neon_emulator import clock, lookups, operations, records
from neon_emulator.postgres.lifecycle import Clusters, Runtime

logger = logging.getLogger(__name__)


@dataclass
class Lease:
    """One client connection (:class:`~neon_emulator.postgres.proxy.Lease`)."""

    activity: Activity
    endpoint_id: str
    branch_id: str
    closers: list[Callable[[], None]] = field(default_factory=list)

    def attach(self, close: Callable[[], None]) -> None:
        self.closers.append(close)

    def touch(self, nbytes: int) -> None:
        self.activity.touched(self, nbytes)

    def release(self) -> None:
        self.activity.release(self)

    def close(self) -> None:
        for close in self.closers:
            with contextlib.suppress(Exception):
                close()


class Activity:
    def __init__(self, clusters: Clusters) -> None:
        self.clusters = clusters
        self._last_seen: dict[str, float] = {}
        self._waking: dict[str, asyncio.Future[None]] = {}
        self._monitor: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._settle_interrupted()
        self._monitor = asyncio.get_running_loop().create_task(self._watch())

    async def close(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(BaseException):
                await self._monitor
        for waking in list(self._waking.values()):
            waking.cancel()
            with contextlib.suppress(BaseException):
                await waking

    def _settle_interrupted(self) -> None:
        """Wakes and suspensions a previous run left ``running`` (it stopped mid-way): a wake
        never marked its endpoint active, a suspension already marked it idle; what is left is
        a pending state to clear and the operation to close."""
        store = self.clusters.store
        for op in store.operations:
            if op.intent != operations.OBSERVED or op.status not in records.RUNNING_STATUSES:
                continue
            if op.endpoint_id and op.action == "start_compute":
                self._set_pending(op.endpoint_id, None)
            operations.finish(store, op)

    # -- connections --------------------------------------------------------------------------

    async def awake(self, endpoint: records.Endpoint, branch: records.Branch) -> None:
        """Wake a suspended endpoint (or wait for the wake under way) and start its server."""
        endpoint_id = endpoint.id
        self._last_seen[endpoint_id] = time.time()  # not idle while connecting
        waking = self._waking.get(endpoint_id)
        if waking is None and endpoint.current_state == "idle" and not endpoint.pending_state:
            waking = self._waking[endpoint_id] = asyncio.ensure_future(self._wake(endpoint, branch))
            waking.add_done_callback(lambda _: self._waking.pop(endpoint_id, None))
        if waking is not None:
            await asyncio.shield(waking)

    def lease(self, endpoint: records.Endpoint, branch: records.Branch) -> Lease:
        """Account for a new client connection on ``endpoint``."""
        lease = Lease(self, endpoint.id, branch.id)
        runtime = self.clusters.runtime(branch.id)
        runtime.connections[id(lease)] = lease
        runtime.dirty = True
        runtime.traffic += 1
        self._last_seen[endpoint.id] = time.time()
        return lease

    def touched(self, lease: Lease, nbytes: int) -> None:
        self._last_seen[lease.endpoint_id] = time.time()
        self.clusters.runtime(lease.branch_id).traffic += nbytes

    def release(self, lease: Lease) -> None:
        runtime = self.clusters.runtimes.get(lease.branch_id)
        if runtime is not None:
            runtime.connections.pop(id(lease), None)
        self._last_seen[lease.endpoint_id] = time.time()
        store = self.clusters.store
        endpoint = store.endpoints.get(lease.endpoint_id)
        if endpoint is not None and endpoint.current_state == "active":
            endpoint.last_active = clock.now_iso()
            store.endpoints.put(endpoint)
            store.commit()

    async def _wake(self, endpoint: records.Endpoint, branch: records.Branch) -> None:
        """Start a suspended compute for a connection, as a ``start_compute`` operation: the
        cold start, the server, then ``active``."""
        store = self.clusters.store
        op = operations.begin_observed(
            store,
            endpoint.project_id,
            "start_compute",
            branch_id=branch.id,
            endpoint_id=endpoint.id,
        )
        self._set_pending(endpoint.id, "active")
        try:
            await asyncio.sleep(max(self.clusters.settings.cold_start_delay, 0.0))
            await self.clusters.ensure_running(branch)
        except asyncio.CancelledError:
            raise  # shutting down: the next start settles it (_settle_interrupted)
        except Exception as exc:
            self._set_pending(endpoint.id, None)
            operations.finish(store, op, "failed", str(exc) or type(exc).__name__)
            raise
        self._set_pending(endpoint.id, None)
        self._mark_active(endpoint.id)
        operations.finish(store, op)

    # -- endpoint states ----------------------------------------------------------------------

    def _set_pending(self, endpoint_id: str, state: str | None) -> None:
        store = self.clusters.store
        endpoint = store.endpoints.get(endpoint_id)
        if endpoint is not None:
            endpoint.pending_state = state
            store.endpoints.put(endpoint)

    def _mark_active(self, endpoint_id: str) -> None:
        store = self.clusters.store
        endpoint = store.endpoints.get(endpoint_id)
        if endpoint is None or endpoint.current_state == "active":
            return
        operations.activate(store, endpoint)
        store.commit()

    def _mark_idle(self, endpoint: records.Endpoint) -> None:
        operations.deactivate(self.clusters.store, endpoint)
        self.clusters.store.commit()

    # -- operations ---------------------------------------------------------------------------

    async def start_compute(self, op: records.Operation) -> None:
        """``start_compute``: nothing to do, computes start lazily on the first connection."""
        return None

    async def suspend_compute(self, op: records.Operation) -> None:
        """``suspend_compute`` and ``delete_endpoint``: drop the endpoint's connections and
        stop the servers nobody else uses."""
        await self.suspend_endpoint(op.endpoint_id, op.branch_id)

    async def suspend_endpoint(self, endpoint_id: str | None, branch_id: str | None) -> None:
        if endpoint_id is None:
            return
        touched = self.clusters.close_connections(lambda c: c.endpoint_id == endpoint_id)
        if branch_id:
            touched.add(branch_id)
        for candidate in touched:
            await self.clusters.stop(candidate, unless_used=True)

    async def delete_project(self, op: records.Operation) -> None:
        """``delete_project``: drop its connections and stop its servers (files are kept for
        the recovery window)."""
        store = self.clusters.store
        self.clusters.close_connections(
            lambda c: (
                (e := store.endpoints.get(c.endpoint_id)) is None or e.project_id == op.project_id
            )
        )
        for branch in store.branches.in_project(op.project_id):
            await self.clusters.stop(branch.id)

    # -- idleness and consumption -------------------------------------------------------------

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(max(self.clusters.settings.check_interval, 0.05))
            try:
                await self._check()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("idle check failed")

    def _timeout(self, endpoint: records.Endpoint) -> float | None:
        if endpoint.suspend_timeout_seconds < 0:
            return None
        if endpoint.suspend_timeout_seconds == 0:
            return self.clusters.settings.default_suspend_seconds
        return float(endpoint.suspend_timeout_seconds)

    async def _check(self) -> None:
        """Suspend computes idle past their timeout (a ``suspend_compute`` operation, finished
        once their server stopped), measure written WAL, stop servers nobody wants."""
        store = self.clusters.store
        now = time.time()
        busy_endpoints = {c.endpoint_id for c in self.clusters.connections()}
        suspensions: list[records.Operation] = []
        for endpoint in store.endpoints:
            if endpoint.current_state != "active" or endpoint.pending_state is not None:
                continue
            if endpoint.id in busy_endpoints:
                continue
            timeout = self._timeout(endpoint)
            if timeout is None:
                continue
            last = self._last_seen.get(endpoint.id)
            if last is None:
                stamp = endpoint.last_active or endpoint.started_at or endpoint.updated_at
                last = clock.parse(stamp).timestamp()
            if now - last < timeout:
                continue
            if any(
                op.status in records.RUNNING_STATUSES and op.intent != operations.OBSERVED
                for op in store.operations.in_project(endpoint.project_id)
            ):
                continue
            suspensions.append(
                operations.begin_observed(
                    store,
                    endpoint.project_id,
                    "suspend_compute",
                    branch_id=endpoint.branch_id,
                    endpoint_id=endpoint.id,
                )
            )
            self._mark_idle(endpoint)
        try:
            for branch_id, runtime in list(self.clusters.runtimes.items()):
                await self._check_branch(branch_id, runtime)
        finally:
            for op in suspensions:
                operations.finish(store, op)

    async def _check_branch(self, branch_id: str, runtime: Runtime) -> None:
        cluster = runtime.cluster
        if cluster is None or not cluster.running:
            return
        if runtime.dirty:
            runtime.dirty = bool(runtime.connections)
            with contextlib.suppress(Exception):
                await self.clusters.measure(branch_id, cluster)
        if runtime.connections:
            return
        branch = self.clusters.branch(branch_id)
        wanted = (
            branch is not None
            and not branch.deleted
            and any(
                e.current_state == "active"
                for e in lookups.branch_endpoints(self.clusters.store, branch)
            )
        )
        if not wanted:
            await self.clusters.stop(branch_id, unless_used=True)
