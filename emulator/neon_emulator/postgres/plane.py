"""The real data plane: operations change real clusters, and the proxy wakes computes on connect.

:class:`PostgresDataPlane` implements :class:`~neon_emulator.dataplane.DataPlane` (operation
intents, connection addresses) and :class:`~neon_emulator.postgres.proxy.Router` (what a client
connection reaches).

Compute lifecycle, as a client sees it:

* A branch's PostgreSQL starts when the first connection arrives (materializing the cluster from
  its seed if it never ran) and stops when its endpoints suspend -- by API, or after
  ``suspend_timeout_seconds`` without connections (``0``: the default, 300 s unless configured;
  ``-1``: never).
* Connecting to a suspended endpoint wakes it: after ``cold_start_delay`` seconds (and the server
  start) the endpoint is ``active`` again (``started_at``, ``last_active`` and active time
  follow). Connections arriving meanwhile wait for the same wake. A ``disabled`` endpoint refuses
  connections; an endpoint on a deleted project does not exist.
* Waking and idle suspension appear in the project's operations as Neon lists them:
  ``start_compute``/``suspend_compute``, ``running`` while they happen, ``finished`` after
  (observed operations: they lock nothing, see :mod:`neon_emulator.operations`).
* Read-only endpoints connect to the same cluster with ``default_transaction_read_only=on``.
* Consumption: active time is the control plane's ``started_at``/``active_seconds`` accounting,
  fed by waking and idling; written bytes are the WAL a branch's cluster generated (measured
  while it runs and when it stops, kept in ``branch.json`` and added to the branch record's
  ``written_data_bytes``, which the API reports and sums per project).

Operation intents (see :mod:`neon_emulator.dataplane`): branch creation captures the parent's data
as of the branch point (:func:`branches.capture`), snapshots capture into the project's
``snapshots/``, restores swap a new seed in, ``apply_config`` syncs roles and databases of running
clusters (stopped ones sync when they next start), suspend/delete drop connections and stop
servers. ``delete_project`` stops the project's servers and keeps its files (projects can be
recovered for 7 days); files of projects deleted earlier than that are removed at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from neon_emulator import clock, dataplane, ids, lookups, operations, records
from neon_emulator.postgres import binaries, branches, catalogs, clusters, proxy, tls
from neon_emulator.postgres.branches import BranchFiles, Point, SeedDir
from neon_emulator.postgres.clusters import Cluster, Server
from neon_emulator.store import Store

logger = logging.getLogger(__name__)

NOT_FOUND = (
    "The requested endpoint could not be found, or you don't have access to it. "
    "Please check the provided ID and try again."
)
RECOVERY_WINDOW = timedelta(days=7)
DATA_INTENTS = frozenset({"create_branch", "restore_branch"})
"""Operations that give a branch its data: connections to it wait until they are done."""
ENDPOINT_INTENTS = frozenset({"suspend_compute", "start_compute"})
"""Operations that restart an endpoint's compute: connections to it wait until they are done."""
SETTLE_TIMEOUT = 120.0
"""Seconds a connection waits for such operations before it is refused."""


@dataclass
class PlaneSettings:
    """How the data plane runs (``neon-emulator serve --postgres-*`` flags)."""

    root: Path
    """Where clusters live: ``<state dir>/postgres``."""

    listen_host: str = "127.0.0.1"
    """Address the proxy listens on."""

    port: int = 0
    """Proxy port; 0 reuses the port of the previous run (URIs already handed out stay valid)
    or picks a free one."""

    advertised_host: str | None = None
    """Host put into connection URIs (default: ``listen_host``)."""

    host_domain: str = "neon.tech"
    cold_start_delay: float = 0.3
    """Seconds a connection to a suspended endpoint waits before the compute is up."""

    default_suspend_seconds: float = 300.0
    """What ``suspend_timeout_seconds: 0`` means."""

    check_interval: float = 1.0
    """How often idleness and consumption are checked."""


@dataclass
class _Lease:
    plane: PostgresDataPlane
    endpoint_id: str
    branch_id: str
    closers: list[Callable[[], None]] = field(default_factory=list)

    def attach(self, close: Callable[[], None]) -> None:
        self.closers.append(close)

    def touch(self, nbytes: int) -> None:
        self.plane._activity[self.endpoint_id] = time.time()
        self.plane._runtime(self.branch_id).traffic += nbytes

    def release(self) -> None:
        self.plane._release(self)

    def close(self) -> None:
        for close in self.closers:
            with contextlib.suppress(Exception):
                close()


@dataclass
class _Runtime:
    """A branch's live state: its lock, its started cluster and who uses it."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    cluster: Cluster | None = None
    leases: set[int] = field(default_factory=set)
    dirty: bool = False
    """Activity since consumption was last measured."""
    traffic: int = 0
    """Connections made and bytes exchanged through the proxy since this process started:
    unchanged since a :class:`~neon_emulator.dataplane.Pin`, nobody can have written."""


class PostgresDataPlane:
    def __init__(self, settings: PlaneSettings) -> None:
        self.settings = settings
        self._store: Store | None = None
        self._server: Server | None = None
        self._proxy: proxy.Proxy | None = None
        self._runtimes: dict[str, _Runtime] = {}
        self._leases: dict[int, _Lease] = {}
        self._activity: dict[str, float] = {}
        self._waking: dict[str, asyncio.Future[None]] = {}
        self._monitor: asyncio.Task[None] | None = None
        self._template_lock = asyncio.Lock()
        self._template_lsn: str | None = None
        self._epoch = secrets.token_hex(8)
        """Tells this process's pins from those of an earlier run (whose traffic is lost)."""

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self, store: Store) -> None:
        """Bind the proxy (before any URI is rendered) and start watching idleness."""
        self._store = store
        root = self.settings.root
        root.mkdir(parents=True, exist_ok=True)
        cert, key = tls.ensure_certificate(root, self.settings.host_domain)
        remembered = _read_port(root / "proxy.json")
        wanted = self.settings.port or remembered or 0
        pem = cert.read_text()
        front = proxy.Proxy(
            self, tls.server_context(cert, key), self.settings.listen_host, wanted, pem
        )
        try:
            await front.start()
        except OSError:
            if self.settings.port:
                raise
            logger.warning("port %s is taken; connection URIs handed out before are stale", wanted)
            front = proxy.Proxy(
                self, tls.server_context(cert, key), self.settings.listen_host, 0, pem
            )
            await front.start()
        self._proxy = front
        (root / "proxy.json").write_text(json.dumps({"port": front.port}))
        self._purge_expired_projects()
        self._settle_interrupted()
        self._monitor = asyncio.get_running_loop().create_task(self._watch())

    async def close(self) -> None:
        """Stop accepting, drop connections, stop every server (nothing outlives the emulator)."""
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(BaseException):
                await self._monitor
        if self._proxy is not None:
            for lease in list(self._leases.values()):
                lease.close()
            await self._proxy.close()
        for waking in list(self._waking.values()):
            waking.cancel()
            with contextlib.suppress(BaseException):
                await waking
        for branch_id in list(self._runtimes):
            with contextlib.suppress(Exception):
                await self._stop_cluster(branch_id)
        if self._server is not None and self._server.run_dir is not None:
            clusters.remove_tree(self._server.run_dir)

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

    # -- plumbing -----------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        if self._store is None:
            raise RuntimeError("the data plane is not started")
        return self._store

    async def server(self) -> Server:
        """Binaries, the server account and the template, prepared on first use only."""
        async with self._template_lock:
            if self._server is None:
                self._server = await asyncio.get_running_loop().run_in_executor(None, self._prepare)
                template = self.settings.root / "template"
                if not (template / "PG_VERSION").exists():
                    await self._build_template(self._server, template)
            return self._server

    def _prepare(self) -> Server:
        found = binaries.find()
        user = binaries.server_user()
        root = self.settings.root
        root.mkdir(parents=True, exist_ok=True)
        user.make_reachable(root)
        password_file = root / "admin-password"
        if not password_file.exists():
            password_file.write_text(secrets.token_urlsafe(24))
            password_file.chmod(0o600)
        run_dir = Path(tempfile.mkdtemp(prefix="neon-emulator-"))
        (run_dir / "pg_hba.conf").write_text(clusters.HBA)
        user.chown(run_dir / "pg_hba.conf")
        server = Server(found, user, password_file.read_text().strip(), run_dir)
        for directory in (root, root / "projects", run_dir):
            server.mkdir(directory)
        return server

    async def _build_template(self, server: Server, template: Path) -> None:
        staging = self.settings.root / f".template-{secrets.token_hex(4)}"
        server.mkdir(staging)
        try:
            await clusters.build_template(server, staging / "data")
            clusters.remove_tree(template)
            (staging / "data").rename(template)
        finally:
            clusters.remove_tree(staging)

    def _settle_interrupted(self) -> None:
        """Wakes and suspensions a previous run left ``running`` (it stopped mid-way): a wake
        never marked its endpoint active, a suspension already marked it idle; what is left is
        a pending state to clear and the operation to close."""
        for op in self.store.operations:
            if op.intent != operations.OBSERVED or op.status not in records.RUNNING_STATUSES:
                continue
            if op.endpoint_id and op.action == "start_compute":
                self._set_pending(op.endpoint_id, None)
            operations.finish(self.store, op)

    def _runtime(self, branch_id: str) -> _Runtime:
        runtime = self._runtimes.get(branch_id)
        if runtime is None:
            runtime = self._runtimes[branch_id] = _Runtime()
        return runtime

    def _files(self, branch: records.Branch) -> BranchFiles:
        return BranchFiles(self.settings.root, branch.project_id, branch.id)

    def _branch(self, branch_id: str | None) -> records.Branch | None:
        return self.store.branches.get(branch_id) if branch_id else None

    # -- connections (proxy.Router) -----------------------------------------------------------

    async def route(self, endpoint_id: str, pooled: bool, params: dict[str, str]) -> proxy.Route:
        await self._settled(endpoint_id)
        store = self.store
        endpoint = store.endpoints.get(endpoint_id)
        project = store.projects.get(endpoint.project_id) if endpoint else None
        if endpoint is None or project is None or project.deleted_at is not None:
            raise proxy.Refused(NOT_FOUND, "XX000")
        if endpoint.disabled:
            raise proxy.Refused(f"endpoint {endpoint_id} is disabled", "XX000")
        branch = self._branch(endpoint.branch_id)
        if branch is None or branch.deleted:
            raise proxy.Refused(NOT_FOUND, "XX000")
        self._activity[endpoint_id] = time.time()  # not idle while connecting
        try:
            waking = self._waking.get(endpoint_id)
            if waking is None and endpoint.current_state == "idle" and not endpoint.pending_state:
                waking = self._waking[endpoint_id] = asyncio.ensure_future(
                    self._wake(endpoint, branch)
                )
                waking.add_done_callback(lambda _: self._waking.pop(endpoint_id, None))
            if waking is not None:
                await asyncio.shield(waking)
            cluster = await self._ensure_running(branch)
        except Exception as exc:
            logger.exception("could not start compute for %s", endpoint_id)
            raise proxy.Refused(f"Couldn't connect to compute node: {exc}", "08006") from exc
        assert cluster.port is not None
        lease = _Lease(self, endpoint_id, branch.id)
        self._leases[id(lease)] = lease
        runtime = self._runtime(branch.id)
        runtime.leases.add(id(lease))
        runtime.dirty = True
        runtime.traffic += 1
        self._activity[endpoint_id] = time.time()
        options = ["-c", "default_transaction_read_only=on"] if endpoint.type == "read_only" else []
        return proxy.Route(
            host="127.0.0.1",
            port=cluster.port,
            socket=cluster.socket,
            lease=lease,
            secret=cluster.role_secret,
            options=options,
        )

    def _unsettled(self, endpoint_id: str) -> bool:
        endpoint = self.store.endpoints.get(endpoint_id)
        if endpoint is None:
            return False
        return any(
            op.status in records.RUNNING_STATUSES
            and op.intent != operations.OBSERVED
            and (
                (op.intent in DATA_INTENTS and op.branch_id == endpoint.branch_id)
                or (op.intent in ENDPOINT_INTENTS and op.endpoint_id == endpoint_id)
            )
            for op in self.store.operations.in_project(endpoint.project_id)
        )

    async def _settled(self, endpoint_id: str) -> None:
        """Wait while the endpoint's branch gets its data (a new branch, a restore) or its
        compute restarts (a finalized restore moves it): until then the data it would serve
        is not the one the API already answered with."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while self._unsettled(endpoint_id):
            if time.monotonic() > deadline:
                raise proxy.Refused(
                    f"Couldn't connect to compute node: endpoint {endpoint_id} is still being "
                    "prepared (its operations are running)",
                    "08006",
                )
            await asyncio.sleep(0.02)

    def _release(self, lease: _Lease) -> None:
        self._leases.pop(id(lease), None)
        runtime = self._runtimes.get(lease.branch_id)
        if runtime is not None:
            runtime.leases.discard(id(lease))
        self._activity[lease.endpoint_id] = time.time()
        endpoint = self._store.endpoints.get(lease.endpoint_id) if self._store else None
        if endpoint is not None and endpoint.current_state == "active":
            endpoint.last_active = clock.now_iso()
            self.store.endpoints.put(endpoint)
            self.store.commit()

    async def _wake(self, endpoint: records.Endpoint, branch: records.Branch) -> None:
        """Start a suspended compute for a connection, as a ``start_compute`` operation: the
        cold start, the server, then ``active``."""
        op = operations.begin_observed(
            self.store,
            endpoint.project_id,
            "start_compute",
            branch_id=branch.id,
            endpoint_id=endpoint.id,
        )
        self._set_pending(endpoint.id, "active")
        try:
            await asyncio.sleep(max(self.settings.cold_start_delay, 0.0))
            await self._ensure_running(branch)
        except asyncio.CancelledError:
            raise  # shutting down: the next start settles it (_settle_interrupted)
        except Exception as exc:
            self._set_pending(endpoint.id, None)
            operations.finish(self.store, op, "failed", str(exc) or type(exc).__name__)
            raise
        self._set_pending(endpoint.id, None)
        self._mark_active(endpoint.id)
        operations.finish(self.store, op)

    def _set_pending(self, endpoint_id: str, state: str | None) -> None:
        endpoint = self.store.endpoints.get(endpoint_id)
        if endpoint is not None:
            endpoint.pending_state = state
            self.store.endpoints.put(endpoint)

    def _mark_active(self, endpoint_id: str) -> None:
        endpoint = self.store.endpoints.get(endpoint_id)
        if endpoint is None or endpoint.current_state == "active":
            return
        stamp = clock.now_iso()
        endpoint.current_state = "active"
        endpoint.started_at = stamp
        endpoint.last_active = stamp
        endpoint.updated_at = stamp
        self.store.endpoints.put(endpoint)
        project = self.store.projects.get(endpoint.project_id)
        if project is not None:
            project.compute_last_active_at = stamp
            self.store.projects.put(project)
        self.store.commit()

    def _mark_idle(self, endpoint: records.Endpoint) -> None:
        stamp = clock.now_iso()
        if endpoint.started_at:
            started = clock.parse(endpoint.started_at)
            endpoint.active_seconds += max((clock.now() - started).total_seconds(), 0.0)
        endpoint.current_state = "idle"
        endpoint.suspended_at = stamp
        endpoint.updated_at = stamp
        self.store.endpoints.put(endpoint)
        self.store.commit()

    def _close_leases(self, predicate: Callable[[_Lease], bool]) -> set[str]:
        """Drop matching connections; returns the branches they were on."""
        touched: set[str] = set()
        for lease in list(self._leases.values()):
            if predicate(lease):
                touched.add(lease.branch_id)
                lease.close()
                self._leases.pop(id(lease), None)
                runtime = self._runtimes.get(lease.branch_id)
                if runtime is not None:
                    runtime.leases.discard(id(lease))
        return touched

    # -- clusters -------------------------------------------------------------------------

    async def _ensure_running(self, branch: records.Branch) -> Cluster:
        runtime = self._runtime(branch.id)
        async with runtime.lock:
            return await self._ensure_running_locked(branch, runtime)

    async def _ensure_running_locked(self, branch: records.Branch, runtime: _Runtime) -> Cluster:
        if runtime.cluster is not None and runtime.cluster.running:
            return runtime.cluster
        server = await self.server()
        files = self._files(branch)
        first = not files.materialized
        meta = await branches.materialize(server, files) if first else files.meta()
        cluster = files.cluster(server)
        await cluster.start()
        runtime.cluster = cluster
        lsn = await cluster.current_lsn()
        if first or meta.start_lsn is None:
            meta.start_lsn = lsn
        meta.last_lsn = lsn
        meta.applied = await self._apply_config(branch, cluster, meta.applied)
        files.save(meta)
        self._record_lsn(branch.id, lsn)
        return cluster

    async def _apply_config(
        self, branch: records.Branch, cluster: Cluster, applied: catalogs.Applied
    ) -> catalogs.Applied:
        roles = [
            catalogs.RoleSpec(r.name, r.password, login=not r.no_login)
            for r in lookups.branch_roles(self.store, branch)
        ]
        databases = [
            catalogs.DatabaseSpec(d.id, d.name, d.owner_name)
            for d in lookups.branch_databases(self.store, branch)
        ]
        return await catalogs.apply(cluster, roles, databases, applied)

    async def _stop_cluster(self, branch_id: str, *, unless_used: bool = False) -> None:
        runtime = self._runtimes.get(branch_id)
        if runtime is None:
            return
        async with runtime.lock:
            if unless_used and runtime.leases:
                return  # a connection arrived while we waited for the lock
            await self._stop_locked(branch_id, runtime)

    async def _stop_locked(self, branch_id: str, runtime: _Runtime) -> None:
        cluster = runtime.cluster
        if cluster is None:
            return
        if cluster.running:
            with contextlib.suppress(Exception):
                await self._measure(branch_id, cluster)
        self._close_leases(lambda lease: lease.branch_id == branch_id)
        await cluster.stop()
        runtime.cluster = None

    async def _measure(self, branch_id: str, cluster: Cluster) -> None:
        """Current LSN → the branch's head LSN; WAL since the last measurement → written bytes
        (in ``branch.json`` and on the branch record, which the API reports)."""
        branch = self._branch(branch_id)
        if branch is None or self._store is None:
            return
        lsn = await cluster.current_lsn()
        files = self._files(branch)
        meta = files.meta()
        written = 0
        if meta.last_lsn:
            written = max(ids.parse_lsn(lsn) - ids.parse_lsn(meta.last_lsn), 0)
        meta.written_bytes += written
        meta.last_lsn = lsn
        files.save(meta)
        self._record_lsn(branch_id, lsn, written)

    def _record_lsn(self, branch_id: str, lsn: str, written: int = 0) -> None:
        """Put a measurement on the branch record: its head LSN, and ``written`` bytes added to
        its ``written_data_bytes`` (a counter: restores and restarts never take it back)."""
        branch = self._branch(branch_id)
        if branch is None or self._store is None:
            return
        branch.head_lsn = ids.parse_lsn(lsn)
        branch.written_data_bytes += written
        self.store.branches.put(branch)
        self.store.commit()

    # -- operations (DataPlane) ------------------------------------------------------------

    async def run(self, operation: records.Operation, store: Store) -> None:
        handler = getattr(self, f"_on_{operation.intent}", None)
        if handler is not None:
            await handler(operation)

    async def pin(self, branch: records.Branch) -> dataplane.Pin:
        """The branch's real LSN now, and how busy it was: its data as of this moment.

        A running server is asked (``pg_current_wal_lsn()``: every commit acknowledged before
        is below it, every later one starts at or past it); a stopped cluster has its shutdown
        checkpoint; a branch nobody started has its seed's LSN. The head LSN the API reports
        follows.
        """
        files = self._files(branch)
        runtime = self._runtime(branch.id)
        async with runtime.lock:
            if runtime.cluster is not None and runtime.cluster.running:
                lsn = await runtime.cluster.current_lsn()
            elif files.materialized:
                lsn = await clusters.checkpoint_lsn(await self.server(), files.data)
            else:
                lsn = files.seed.info.lsn or await self._template_checkpoint()
            traffic = runtime.traffic
        branch.head_lsn = ids.parse_lsn(lsn)
        self.store.branches.put(branch)
        return dataplane.Pin(
            lsn=ids.parse_lsn(lsn), token={"epoch": self._epoch, "traffic": traffic}
        )

    async def _template_checkpoint(self) -> str:
        server = await self.server()
        if self._template_lsn is None:
            template = self.settings.root / "template"
            self._template_lsn = await clusters.checkpoint_lsn(server, template)
        return self._template_lsn

    def _point(self, source: records.Branch, subject: dict[str, Any]) -> Point:
        timestamp = subject.get("timestamp")
        if timestamp:
            return Point(timestamp=clock.parse(str(timestamp)))
        lsn_text = subject.get("lsn")
        if not lsn_text:
            return Point()
        lsn = ids.parse_lsn(str(lsn_text))
        pin = subject.get("pin")
        if isinstance(pin, dict):
            same_run = pin.get("epoch") == self._epoch and isinstance(pin.get("traffic"), int)
            return Point(lsn=lsn, traffic=int(pin["traffic"]) if same_run else None)
        if subject.get("exact_lsn"):
            return Point(lsn=lsn)
        return Point()  # scheduled by an earlier version: "now"

    async def _capture(self, source: records.Branch, point: Point, target: SeedDir) -> str | None:
        """Capture ``source`` as of ``point`` into ``target`` under the branch's lock. A pinned
        point nobody wrote after is copied as it is; otherwise (or when a client writes while
        the copy runs) it is recovered to."""
        server = await self.server()
        files = self._files(source)
        runtime = self._runtime(source.id)
        scratch = target.directory.parent / f".recovery-{secrets.token_hex(4)}"
        async with runtime.lock:
            if point.traffic is not None and point.traffic == runtime.traffic:
                lsn = await branches.capture(
                    server, files, runtime.cluster, point, target, scratch, quiet=True
                )
                if point.traffic == runtime.traffic:
                    return lsn
            needs_server = files.materialized and (point.timestamp or point.lsn is not None)
            if needs_server:
                await self._ensure_running_locked(source, runtime)
            return await branches.capture(server, files, runtime.cluster, point, target, scratch)

    async def _on_create_branch(self, op: records.Operation) -> None:
        branch = self._branch(op.branch_id)
        if branch is None:
            return
        subject = op.subject
        files = self._files(branch)
        source_kind = subject.get("source")
        if source_kind == "snapshot":
            await self.server()
            seed = branches.snapshot_seed(
                self.settings.root, branch.project_id, str(subject["snapshot_id"])
            )
            server = await self.server()
            await branches.adopt_seed(server, seed, files.seed)
            return
        if source_kind != "branch":
            return
        source = self._branch(str(subject.get("source_branch_id")))
        if source is None:
            return
        if subject.get("schema_only"):
            await self._copy_schema(source, self._point(source, subject), branch)
            return
        lsn = await self._capture(source, self._point(source, subject), files.seed)
        if lsn is not None and branch.parent_id is not None and not subject.get("copy"):
            branch.parent_lsn = lsn
            self.store.branches.put(branch)

    async def _copy_schema(
        self, source: records.Branch, point: Point, branch: records.Branch
    ) -> None:
        """``init_source: schema-only``: the new root branch gets the source's schema as of
        ``point`` and no rows.

        The source's data at that point is captured into a scratch seed (as for a child branch),
        a copy of it is served by a temporary server for ``pg_dump --schema-only`` of each of
        the branch's databases, then the branch's own cluster (from the template, with its roles
        and databases) runs the dumps and stops again. Its endpoints start it on first
        connection. (The operation holds the project's lock: nothing renames a database
        meanwhile.)
        """
        server = await self.server()
        server.binaries.require("pg_dump", "psql")
        files = self._files(branch)
        server.mkdir(files.directory)
        dumps = server.mkdir(files.directory / "schema")
        scratch = SeedDir(files.directory / ".schema-source", self.settings.root / "template")
        wanted = {d.id: d.name for d in lookups.branch_databases(self.store, branch)}
        dumped: dict[int, Path] = {}
        try:
            await self._capture(source, point, scratch)
            if scratch.own.exists():  # else the source never held more than the template
                # a real copy: a captured seed may share its files (hard links) with the source's
                data = scratch.directory / "data"
                await server.copy(scratch.own, data)
                temporary = Cluster(server, data, archive=None, log=dumps / "source.log")
                await temporary.start()
                try:
                    present = await temporary.database_names()
                    for database_id, name in wanted.items():
                        if name in present:
                            dumped[database_id] = dumps / f"{database_id}.sql"
                            await temporary.dump_schema(name, dumped[database_id])
                finally:
                    await temporary.stop()
            if not dumped:
                return
            runtime = self._runtime(branch.id)
            async with runtime.lock:
                cluster = await self._ensure_running_locked(branch, runtime)
                for database_id, script in dumped.items():
                    errors = await cluster.run_script(wanted[database_id], script)
                    if errors:
                        logger.warning("schema copy into %s: %s", branch.id, errors)
                if not runtime.leases:
                    await self._stop_locked(branch.id, runtime)
        finally:
            clusters.remove_tree(scratch.directory)
            clusters.remove_tree(dumps)

    async def _on_restore_branch(self, op: records.Operation) -> None:
        target = self._branch(op.branch_id)
        source = self._branch(str(op.subject.get("source_branch_id")))
        if target is None or source is None:
            return
        staged = SeedDir(
            self.settings.root / "projects" / target.project_id / f".staged-{target.id}",
            self.settings.root / "template",
        )
        clusters.remove_tree(staged.directory)
        await self._capture(source, self._point(source, op.subject), staged)
        server = await self.server()
        runtime = self._runtime(target.id)
        async with runtime.lock:
            await self._stop_locked(target.id, runtime)
            branches.replace_seed(server, self._files(target), staged)

    async def _on_create_snapshot(self, op: records.Operation) -> None:
        branch = self._branch(op.branch_id)
        snapshot = self.store.snapshots.get(str(op.subject.get("snapshot_id")))
        if branch is None or snapshot is None:
            return
        point = self._point(branch, op.subject)
        seed = branches.snapshot_seed(self.settings.root, branch.project_id, snapshot.id)
        lsn = await self._capture(branch, point, seed)
        snapshot = self.store.snapshots.get(snapshot.id)
        if snapshot is not None:
            if lsn:
                snapshot.lsn = lsn
            snapshot.full_size = branches.tree_size(seed.own) if seed.own.exists() else 0
            self.store.snapshots.put(snapshot)

    async def _on_delete_snapshot(self, op: records.Operation) -> None:
        seed = branches.snapshot_seed(
            self.settings.root, op.project_id, str(op.subject.get("snapshot_id"))
        )
        clusters.remove_tree(seed.directory)

    async def _on_delete_branch(self, op: records.Operation) -> None:
        if op.branch_id is None:
            return
        await self._stop_cluster(op.branch_id)
        self._runtimes.pop(op.branch_id, None)
        clusters.remove_tree(
            self.settings.root / "projects" / op.project_id / "branches" / op.branch_id
        )

    async def _on_start_compute(self, op: records.Operation) -> None:
        return None  # computes start lazily, on the first connection

    async def _on_suspend_compute(self, op: records.Operation) -> None:
        await self._suspend_endpoint(op.endpoint_id, op.branch_id)

    async def _on_delete_endpoint(self, op: records.Operation) -> None:
        await self._suspend_endpoint(op.endpoint_id, op.branch_id)

    async def _suspend_endpoint(self, endpoint_id: str | None, branch_id: str | None) -> None:
        if endpoint_id is None:
            return
        touched = self._close_leases(lambda lease: lease.endpoint_id == endpoint_id)
        if branch_id:
            touched.add(branch_id)
        for candidate in touched:
            await self._stop_cluster(candidate, unless_used=True)

    async def _on_apply_config(self, op: records.Operation) -> None:
        branch = self._branch(op.branch_id)
        if branch is None:
            return
        runtime = self._runtime(branch.id)
        async with runtime.lock:
            if runtime.cluster is None or not runtime.cluster.running:
                return  # applied when it next starts
            files = self._files(branch)
            meta = files.meta()
            meta.applied = await self._apply_config(branch, runtime.cluster, meta.applied)
            files.save(meta)
        endpoint = self.store.endpoints.get(op.endpoint_id) if op.endpoint_id else None
        if endpoint is not None and endpoint.disabled:
            await self._suspend_endpoint(endpoint.id, endpoint.branch_id)

    async def _on_delete_project(self, op: records.Operation) -> None:
        self._close_leases(
            lambda lease: (
                (e := self.store.endpoints.get(lease.endpoint_id)) is None
                or e.project_id == op.project_id
            )
        )
        for branch in self.store.branches.in_project(op.project_id):
            await self._stop_cluster(branch.id)

    def _purge_expired_projects(self) -> None:
        projects_dir = self.settings.root / "projects"
        if not projects_dir.exists():
            return
        cutoff = clock.now() - RECOVERY_WINDOW
        for directory in projects_dir.iterdir():
            project = self.store.projects.get(directory.name)
            gone = project is None or (
                project.deleted_at is not None and clock.parse(project.deleted_at) < cutoff
            )
            if gone:
                clusters.remove_tree(directory)

    # -- idleness and consumption ---------------------------------------------------------

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(max(self.settings.check_interval, 0.05))
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
            return self.settings.default_suspend_seconds
        return float(endpoint.suspend_timeout_seconds)

    async def _check(self) -> None:
        """Suspend computes idle past their timeout (a ``suspend_compute`` operation, finished
        once their server stopped), measure written WAL, stop servers nobody wants."""
        now = time.time()
        busy_endpoints = {lease.endpoint_id for lease in self._leases.values()}
        suspensions: list[records.Operation] = []
        for endpoint in self.store.endpoints:
            if endpoint.current_state != "active" or endpoint.pending_state is not None:
                continue
            if endpoint.id in busy_endpoints:
                continue
            timeout = self._timeout(endpoint)
            if timeout is None:
                continue
            last = self._activity.get(endpoint.id)
            if last is None:
                stamp = endpoint.last_active or endpoint.started_at or endpoint.updated_at
                last = clock.parse(stamp).timestamp()
            if now - last < timeout:
                continue
            if any(
                op.status in records.RUNNING_STATUSES and op.intent != operations.OBSERVED
                for op in self.store.operations.in_project(endpoint.project_id)
            ):
                continue
            suspensions.append(
                operations.begin_observed(
                    self.store,
                    endpoint.project_id,
                    "suspend_compute",
                    branch_id=endpoint.branch_id,
                    endpoint_id=endpoint.id,
                )
            )
            self._mark_idle(endpoint)
        try:
            for branch_id, runtime in list(self._runtimes.items()):
                cluster = runtime.cluster
                if cluster is None or not cluster.running:
                    continue
                if runtime.dirty:
                    runtime.dirty = bool(runtime.leases)
                    with contextlib.suppress(Exception):
                        await self._measure(branch_id, cluster)
                if runtime.leases:
                    continue
                branch = self._branch(branch_id)
                wanted = (
                    branch is not None
                    and not branch.deleted
                    and any(
                        e.current_state == "active"
                        for e in lookups.branch_endpoints(self.store, branch)
                    )
                )
                if not wanted:
                    await self._stop_cluster(branch_id, unless_used=True)
        finally:
            for op in suspensions:
                operations.finish(self.store, op)


def _read_port(path: Path) -> int | None:
    try:
        value = json.loads(path.read_text()).get("port")
    except (OSError, ValueError, AttributeError):
        return None
    return int(value) if isinstance(value, int) else None
