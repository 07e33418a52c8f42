"""The real data plane: operations change real clusters, and the proxy wakes computes on connect.

:class:`PostgresDataPlane` implements :class:`~neon_emulator.dataplane.DataPlane` by composing
one part per concern:

========================  ==============================================================
:mod:`.lifecycle`         cluster lifecycle: start (materialize), stop, roles/databases,
                          WAL measurements; the shared per-branch runtimes
:mod:`.capture`           branch capture: pins, points in time, child branches, restores,
                          schema-only copies
:mod:`.snapshots`         snapshot seeds: capture, restore into a branch, delete
:mod:`.activity`          activity and suspension: leases, wake on connect, idle suspension,
                          consumption, suspend/delete of endpoints and projects
:mod:`.routing`           proxy routing: what a connection to an endpoint reaches
:mod:`.proxy`             the one-port front door (wire protocol, TLS, SCRAM)
========================  ==============================================================

Operations are dispatched through one table, :attr:`PostgresDataPlane.operations`, which covers
exactly :data:`neon_emulator.dataplane.INTENTS`; an operation with any other intent fails loudly.

Another part of the emulator that needs SQL on a branch's database (Neon Auth, the Data API)
uses :meth:`PostgresDataPlane.session`: it wakes the compute like a client connection would and
counts as activity.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from pathlib import Path

import psycopg

from neon_emulator import dataplane, records
from neon_emulator.postgres import binaries, proxy, tls
from neon_emulator.postgres.activity import Activity
from neon_emulator.postgres.capture import Capture
from neon_emulator.postgres.clusters import ADMIN_ROLE
from neon_emulator.postgres.lifecycle import Clusters
from neon_emulator.postgres.routing import Routing
from neon_emulator.postgres.settings import PlaneSettings
from neon_emulator.postgres.snapshots import Snapshots
from neon_emulator.store import Store

logger = logging.getLogger(__name__)

Handler = Callable[[records.Operation], Awaitable[None]]


class PostgresDataPlane:
    def __init__(self, settings: PlaneSettings) -> None:
        self.settings = settings
        self.clusters = Clusters(settings)
        self.capture = Capture(self.clusters)
        self.snapshots = Snapshots(self.clusters, self.capture)
        self.activity = Activity(self.clusters)
        self.routing = Routing(self.clusters, self.activity)
        self._proxy: proxy.Proxy | None = None
        self._binaries: binaries.Binaries | None = None
        self.operations: dict[str, Handler] = {
            "create_branch": self._create_branch,
            "delete_branch": self.clusters.delete_branch,
            "restore_branch": self.capture.restore_branch,
            "start_compute": self.activity.start_compute,
            "suspend_compute": self.activity.suspend_compute,
            "delete_endpoint": self.activity.suspend_compute,
            "apply_config": self._apply_config,
            "create_snapshot": self.snapshots.create_snapshot,
            "delete_snapshot": self.snapshots.delete_snapshot,
            "delete_project": self.activity.delete_project,
        }
        """What each operation intent does (:data:`neon_emulator.dataplane.INTENTS`)."""
        if set(self.operations) != dataplane.INTENTS:
            raise RuntimeError("the data plane's operation table must cover exactly INTENTS")

    # -- DataPlane ----------------------------------------------------------------------------

    async def start(self, store: Store) -> None:
        """Bind the proxy (before any URI is rendered) and start watching idleness."""
        self.clusters.bind(store)
        root = self.settings.root
        root.mkdir(parents=True, exist_ok=True)
        cert, key = tls.ensure_certificate(root, self.settings.host_domain)
        context, pem = tls.server_context(cert, key), cert.read_text()
        remembered = _read_port(root / "proxy.json")
        wanted = self.settings.port or remembered or 0
        front = proxy.Proxy(self.routing, context, self.settings.listen_host, wanted, pem)
        try:
            await front.start()
        except OSError:
            if self.settings.port:
                raise
            logger.warning("port %s is taken; connection URIs handed out before are stale", wanted)
            front = proxy.Proxy(self.routing, context, self.settings.listen_host, 0, pem)
            await front.start()
        self._proxy = front
        (root / "proxy.json").write_text(json.dumps({"port": front.port}))
        self.clusters.purge_expired_projects()
        self.activity.start()

    async def close(self) -> None:
        """Stop accepting, drop connections, stop every server (nothing outlives the emulator)."""
        await self.activity.close()
        if self._proxy is not None:
            self.clusters.close_connections(lambda _: True)
            await self._proxy.close()
        await self.clusters.close()

    async def pin(self, branch: records.Branch) -> dataplane.Pin:
        return await self.capture.pin(branch)

    async def run(self, operation: records.Operation, store: Store) -> None:
        dataplane.check_intent(operation.intent)
        await self.operations[operation.intent](operation)

    @property
    def port(self) -> int:
        if self._proxy is None:
            raise RuntimeError("the data plane is not started")
        return self._proxy.port

    def address(
        self, endpoint: records.Endpoint, host: str, pooled: bool
    ) -> tuple[str, int | None]:
        advertised = self.settings.advertised_host or self.settings.listen_host
        return advertised, self.port

    def uri_parameters(self, endpoint: records.Endpoint, pooled: bool) -> dict[str, str]:
        """Query parameters every URI needs: Neon's ``options=endpoint=<id>`` routing."""
        name = f"{endpoint.id}-pooler" if pooled else endpoint.id
        return {"options": f"endpoint={name}"}

    def loadable_libraries(self, names: Collection[str]) -> set[str]:
        """The installation's library files decide (no server needs to run)."""
        if self._binaries is None:
            self._binaries = binaries.find()
        return self._binaries.loadable(names)

    # -- for other parts of the emulator ------------------------------------------------------

    @contextlib.asynccontextmanager
    async def session(
        self, endpoint_id: str, dbname: str
    ) -> AsyncIterator[psycopg.AsyncConnection[tuple[object, ...]]]:
        """An admin (``cloud_admin``, superuser) connection to ``dbname`` behind ``endpoint_id``,
        for emulator features that run SQL on a branch's data (Neon Auth, the Data API).

        It reaches the endpoint as a client connection does (refusals are
        :class:`~neon_emulator.postgres.proxy.Refused`; a suspended compute wakes) and counts
        as one while open: the compute stays active, and a pinned snapshot or branch point
        knows someone may have written. Use ``SET ROLE`` to act as a user.
        """
        route = await self.routing.route(endpoint_id, pooled=False, params={})
        endpoint = self.clusters.store.endpoints.get(endpoint_id)
        assert endpoint is not None  # routed
        runtime = self.clusters.runtime(endpoint.branch_id)
        runtime.sessions += 1
        try:
            async with await psycopg.AsyncConnection.connect(
                host=str(Path(route.socket).parent),
                port=route.port,
                user=ADMIN_ROLE,
                dbname=dbname,
                autocommit=True,
                connect_timeout=10,
            ) as conn:
                route.lease.attach(conn.pgconn.finish)
                yield conn
        finally:
            runtime.sessions -= 1
            route.lease.touch(1)
            route.lease.release()

    # -- operations that span parts -----------------------------------------------------------

    async def _create_branch(self, op: records.Operation) -> None:
        """``create_branch``: a project's root branch starts from the template (nothing to do);
        a child or copy gets its source's data at the branch point; a restore gets a
        snapshot's seed."""
        branch = self.clusters.branch(op.branch_id)
        if branch is None:
            return
        source = op.subject.get("source")
        if source == "snapshot":
            await self.snapshots.restore_into(branch, str(op.subject["snapshot_id"]))
        elif source == "branch":
            await self.capture.create_branch(op, branch)

    async def _apply_config(self, op: records.Operation) -> None:
        """``apply_config``: roles and databases follow the store; a disabled endpoint drops
        its connections."""
        branch = self.clusters.branch(op.branch_id)
        if branch is None:
            return
        await self.clusters.sync_config(branch)
        endpoint = self.clusters.store.endpoints.get(op.endpoint_id) if op.endpoint_id else None
        if endpoint is not None and endpoint.disabled:
            await self.activity.suspend_endpoint(endpoint.id, endpoint.branch_id)


def _read_port(path: Path) -> int | None:
    try:
        value = json.loads(path.read_text()).get("port")
    except (OSError, ValueError, AttributeError):
        return None
    return int(value) if isinstance(value, int) else None
