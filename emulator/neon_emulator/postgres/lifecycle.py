"""Cluster lifecycle: a branch's server starts when first needed (materializing its cluster from
its seed if it never ran), carries the roles and databases the API reports, and stops when
nobody wants it; its WAL is measured while it runs and when it stops.

:class:`Clusters` is the data plane's shared core: the store, the server programs (prepared on
first use: binaries, the server account, the initdb template, the private socket directory),
and one :class:`Runtime` per branch -- its lock, its started cluster, the client connections on
it. Every other part (capture, snapshots, activity, routing) goes through it. Everything that
touches a branch's files or server holds that branch's lock.

``delete_branch`` removes a branch's files, or keeps them for recovery; files of projects and
branches deleted more than the recovery window ago are removed at start-up
(:meth:`Clusters.purge_expired_projects`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Protocol

from neon_emulator import clock, ids, lookups, preload, records
from neon_emulator.postgres import binaries, branches, catalogs, clusters
from neon_emulator.postgres.branches import BranchFiles
from neon_emulator.postgres.clusters import Cluster, Server
from neon_emulator.postgres.settings import PlaneSettings
from neon_emulator.store import Store

logger = logging.getLogger(__name__)

RECOVERY_WINDOW = timedelta(days=7)


class Connection(Protocol):
    """A client connection on a branch's server, as the runtime tracks it."""

    @property
    def endpoint_id(self) -> str: ...

    @property
    def branch_id(self) -> str: ...

    def close(self) -> None:
        """Drop the connection (suspend, delete, disable, stop)."""


@dataclass
class Runtime:
    """A branch's live state: its lock, its started cluster and who uses it."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    cluster: Cluster | None = None
    connections: dict[int, Connection] = field(default_factory=dict)
    dirty: bool = False
    """Activity since consumption was last measured."""

    traffic: int = 0
    """Connections made and bytes exchanged through the proxy since this process started:
    unchanged since a :class:`~neon_emulator.dataplane.Pin`, nobody can have written."""

    sessions: int = 0
    """Open admin sessions of other emulator parts (their traffic is not seen): while any is
    open, someone may be writing."""

    @property
    def running(self) -> bool:
        return self.cluster is not None and self.cluster.running


class Clusters:
    def __init__(self, settings: PlaneSettings) -> None:
        self.settings = settings
        self.runtimes: dict[str, Runtime] = {}
        self._store: Store | None = None
        self._server: Server | None = None
        self._template_lock = asyncio.Lock()
        self._template_lsn: str | None = None

    def bind(self, store: Store) -> None:
        self._store = store

    @property
    def store(self) -> Store:
        if self._store is None:
            raise RuntimeError("the data plane is not started")
        return self._store

    # -- the server programs ------------------------------------------------------------------

    async def server(self) -> Server:
        """Binaries, the server account and the template, prepared on first use only."""
        async with self._template_lock:
            if self._server is None:
                self._server = await asyncio.get_running_loop().run_in_executor(None, self._prepare)
                template = self.template
                if not (template / "PG_VERSION").exists():
                    await self._build_template(self._server, template)
            return self._server

    @property
    def template(self) -> Path:
        return self.settings.root / "template"

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

    async def template_lsn(self) -> str:
        """The template's shutdown checkpoint: the LSN of a branch that never started."""
        server = await self.server()
        if self._template_lsn is None:
            self._template_lsn = await clusters.checkpoint_lsn(server, self.template)
        return self._template_lsn

    # -- branches -----------------------------------------------------------------------------

    def runtime(self, branch_id: str) -> Runtime:
        runtime = self.runtimes.get(branch_id)
        if runtime is None:
            runtime = self.runtimes[branch_id] = Runtime()
        return runtime

    def files(self, branch: records.Branch) -> BranchFiles:
        return BranchFiles(self.settings.root, branch.project_id, branch.id)

    def branch(self, branch_id: str | None) -> records.Branch | None:
        return self.store.branches.get(branch_id) if branch_id else None

    def connections(self) -> list[Connection]:
        return [c for runtime in self.runtimes.values() for c in runtime.connections.values()]

    def close_connections(self, predicate: Callable[[Connection], bool]) -> set[str]:
        """Drop matching connections; returns the branches they were on."""
        touched: set[str] = set()
        for runtime in self.runtimes.values():
            for key, connection in list(runtime.connections.items()):
                if predicate(connection):
                    touched.add(connection.branch_id)
                    with contextlib.suppress(Exception):
                        connection.close()
                    runtime.connections.pop(key, None)
        return touched

    async def ensure_running(self, branch: records.Branch) -> Cluster:
        runtime = self.runtime(branch.id)
        async with runtime.lock:
            return await self.ensure_running_locked(branch, runtime)

    async def ensure_running_locked(self, branch: records.Branch, runtime: Runtime) -> Cluster:
        if runtime.cluster is not None and runtime.cluster.running:
            return runtime.cluster
        server = await self.server()
        files = self.files(branch)
        first = not files.materialized
        meta = await branches.materialize(server, files) if first else files.meta()
        cluster = files.cluster(server)
        await cluster.start(self.preload(server, branch))
        runtime.cluster = cluster
        lsn = await cluster.current_lsn()
        if first or meta.start_lsn is None:
            meta.start_lsn = lsn
        meta.last_lsn = lsn
        meta.applied = await self.apply_config(branch, cluster, meta.applied)
        files.save(meta)
        self.record_lsn(branch.id, lsn)
        return cluster

    def preload(self, server: Server, branch: records.Branch) -> dict[str, str]:
        """``shared_preload_libraries`` from the project's settings (those the server has)."""
        project = self.store.projects.get(branch.project_id)
        wanted = preload.enabled(project.settings) if project is not None else []
        loadable = server.binaries.loadable(wanted)
        chosen = [name for name in wanted if name in loadable]
        return {"shared_preload_libraries": ",".join(chosen)} if chosen else {}

    async def apply_config(
        self, branch: records.Branch, cluster: Cluster, applied: catalogs.Applied
    ) -> catalogs.Applied:
        """Make the server's roles and databases those the store gives the branch."""
        roles = [
            catalogs.RoleSpec(r.name, r.password, login=not r.no_login)
            for r in lookups.branch_roles(self.store, branch)
        ]
        databases = [
            catalogs.DatabaseSpec(d.id, d.name, d.owner_name)
            for d in lookups.branch_databases(self.store, branch)
        ]
        return await catalogs.apply(cluster, roles, databases, applied)

    async def sync_config(self, branch: records.Branch) -> None:
        """``apply_config``: a running server follows the store now, a stopped one when it
        next starts."""
        runtime = self.runtime(branch.id)
        async with runtime.lock:
            if runtime.cluster is None or not runtime.cluster.running:
                return
            files = self.files(branch)
            meta = files.meta()
            meta.applied = await self.apply_config(branch, runtime.cluster, meta.applied)
            files.save(meta)

    async def stop(self, branch_id: str, *, unless_used: bool = False) -> None:
        runtime = self.runtimes.get(branch_id)
        if runtime is None:
            return
        async with runtime.lock:
            if unless_used and runtime.connections:
                return  # a connection arrived while we waited for the lock
            await self.stop_locked(branch_id, runtime)

    async def stop_locked(self, branch_id: str, runtime: Runtime) -> None:
        cluster = runtime.cluster
        if cluster is None:
            return
        if cluster.running:
            with contextlib.suppress(Exception):
                await self.measure(branch_id, cluster)
        self.close_connections(lambda c: c.branch_id == branch_id)
        await cluster.stop()
        runtime.cluster = None

    async def delete_branch(self, op: records.Operation) -> None:
        """``delete_branch``: stop its server; remove its files unless it may be recovered
        (``subject["keep"]``; then they go at the first start after its recovery window)."""
        if op.branch_id is None:
            return
        await self.stop(op.branch_id)
        self.runtimes.pop(op.branch_id, None)
        if not op.subject.get("keep"):
            clusters.remove_tree(
                self.settings.root / "projects" / op.project_id / "branches" / op.branch_id
            )

    # -- measurements -------------------------------------------------------------------------

    async def measure(self, branch_id: str, cluster: Cluster) -> None:
        """Current LSN → the branch's head LSN; WAL since the last measurement → written bytes
        (in ``branch.json`` and on the branch record, which the API reports)."""
        branch = self.branch(branch_id)
        if branch is None or self._store is None:
            return
        lsn = await cluster.current_lsn()
        files = self.files(branch)
        meta = files.meta()
        written = 0
        if meta.last_lsn:
            written = max(ids.parse_lsn(lsn) - ids.parse_lsn(meta.last_lsn), 0)
        meta.written_bytes += written
        meta.last_lsn = lsn
        files.save(meta)
        self.record_lsn(branch_id, lsn, written)

    def record_lsn(self, branch_id: str, lsn: str, written: int = 0) -> None:
        """Put a measurement on the branch record: its head LSN, and ``written`` bytes added to
        its ``written_data_bytes`` (a counter: restores and restarts never take it back)."""
        branch = self.branch(branch_id)
        if branch is None or self._store is None:
            return
        branch.head_lsn = ids.parse_lsn(lsn)
        branch.written_data_bytes += written
        self.store.branches.put(branch)
        self.store.commit()

    # -- the whole plane ----------------------------------------------------------------------

    def purge_expired_projects(self) -> None:
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
                continue
            for branch_dir in (directory / "branches").glob("*"):
                branch = self.store.branches.get(branch_dir.name)
                if (
                    branch is not None
                    and branch.deleted
                    and (branch.deleted_at is None or clock.parse(branch.deleted_at) < cutoff)
                ):
                    clusters.remove_tree(branch_dir)

    async def close(self) -> None:
        """Stop every server (nothing outlives the emulator) and remove the socket directory."""
        for branch_id in list(self.runtimes):
            with contextlib.suppress(Exception):
                await self.stop(branch_id)
        if self._server is not None and self._server.run_dir is not None:
            clusters.remove_tree(self._server.run_dir)
