"""Branch capture: "the data of this branch at that moment", as a new seed -- for a child branch,
a branch restore, a schema-only copy, or a snapshot (:mod:`.snapshots`).

A moment is a :class:`Point`: a timestamp, an LSN the client named, or "now". "Now" is the
moment the API answered, not the moment the operation runs: the route handler calls
:meth:`Capture.pin` before answering (the server's real LSN then, plus how much traffic the
branch had seen), and the operation later captures exactly that:

* nobody used the branch since the pin (its proxy traffic is unchanged, checked again after the
  copy) → its present state is that moment: a ``pg_basebackup`` of the running server or a copy
  of the stopped cluster, labelled with the pinned LSN;
* otherwise → real point-in-time recovery to the pinned LSN (seed + archived WAL), which
  leaves out every transaction committed after it.

A branch whose history before the point is its seed alone (never started, or the point precedes
its first start) gets that seed (hard links).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from neon_emulator import clock, dataplane, ids, lookups, records
from neon_emulator.postgres import branches, clusters
from neon_emulator.postgres.branches import BranchFiles, SeedDir, SeedInfo, adopt_seed
from neon_emulator.postgres.clusters import Cluster, Server
from neon_emulator.postgres.lifecycle import Clusters, Runtime

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Point:
    """A moment in a branch's history: ``None`` fields mean "now" (when the capture runs)."""

    timestamp: datetime | None = None
    lsn: int | None = None
    traffic: int | None = None
    """With ``lsn``, pinned when the request was answered: the branch's proxy traffic count
    then. While it is unchanged, nobody wrote since, and the present state is that moment's."""


async def capture(
    server: Server,
    files: BranchFiles,
    running: Cluster | None,
    point: Point,
    target: SeedDir,
    scratch: Path,
    *,
    quiet: bool = False,
) -> str | None:
    """Store the branch's data as of ``point`` as seed ``target``; returns its LSN.

    ``running`` is the branch's started cluster, when there is one (PITR needs it started, to
    seal the archive). ``quiet``: nothing was written since ``point``, its present state will
    do (a base backup or a copy instead of a recovery). The caller holds the branch's lock.
    """
    meta = files.meta()
    server.mkdir(target.directory)
    clusters.remove_tree(target.own)
    named = ids.format_lsn(point.lsn) if point.lsn is not None else None
    if not files.materialized or meta.materialized_at is None:
        await adopt_seed(server, files.seed, target)
        return named or files.seed.info.lsn
    now = quiet or (point.timestamp is None and point.lsn is None)
    materialized = datetime.fromisoformat(meta.materialized_at)
    start_lsn = ids.parse_lsn(meta.start_lsn) if meta.start_lsn else 0
    before_cluster = not now and (
        (point.timestamp is not None and point.timestamp < materialized)
        or (point.lsn is not None and point.lsn <= start_lsn)
    )
    if before_cluster:
        await adopt_seed(server, files.seed, target)
        return named or files.seed.info.lsn
    info = SeedInfo(applied=meta.applied)
    if now:
        if running is not None and running.running:
            info.lsn = await running.base_backup(target.own)
        else:
            await server.copy(files.data, target.own)
            for leftover in ("postmaster.pid", "postmaster.opts"):
                (target.own / leftover).unlink(missing_ok=True)
            info.lsn = meta.last_lsn
        info.lsn = named or info.lsn
    else:
        if running is None or not running.running:
            raise clusters.ClusterError("point-in-time recovery needs the branch's cluster started")
        await running.seal_history()
        clusters.remove_tree(scratch)
        server.mkdir(scratch)
        info.lsn = await clusters.recover(
            server,
            files.seed.path,
            files.archive,
            target.own,
            scratch / "recovery.log",
            time_target=point.timestamp.isoformat() if point.timestamp else None,
            lsn_target=named,
        )
        info.lsn = named or info.lsn
        clusters.remove_tree(scratch)
    target.write_info(info)
    return info.lsn


class Capture:
    def __init__(self, clusters: Clusters) -> None:
        self.clusters = clusters
        self.epoch = secrets.token_hex(8)
        """Tells this process's pins from those of an earlier run (whose traffic is lost)."""

    async def pin(self, branch: records.Branch) -> dataplane.Pin:
        """The branch's real LSN now, and how busy it was: its data as of this moment.

        A running server is asked (``pg_current_wal_lsn()``: every commit acknowledged before
        is below it, every later one starts at or past it); a stopped cluster has its shutdown
        checkpoint; a branch nobody started has its seed's LSN. The head LSN the API reports
        follows.
        """
        files = self.clusters.files(branch)
        runtime = self.clusters.runtime(branch.id)
        async with runtime.lock:
            if runtime.cluster is not None and runtime.cluster.running:
                lsn = await runtime.cluster.current_lsn()
            elif files.materialized:
                lsn = await clusters.checkpoint_lsn(await self.clusters.server(), files.data)
            else:
                lsn = files.seed.info.lsn or await self.clusters.template_lsn()
            traffic = runtime.traffic
        branch.head_lsn = ids.parse_lsn(lsn)
        self.clusters.store.branches.put(branch)
        return dataplane.Pin(
            lsn=ids.parse_lsn(lsn), token={"epoch": self.epoch, "traffic": traffic}
        )

    def point(self, subject: dict[str, Any]) -> Point:
        """The moment an operation's subject names (see :mod:`neon_emulator.dataplane`)."""
        timestamp = subject.get("timestamp")
        if timestamp:
            return Point(timestamp=clock.parse(str(timestamp)))
        lsn_text = subject.get("lsn")
        if not lsn_text:
            return Point()
        lsn = ids.parse_lsn(str(lsn_text))
        pin = subject.get("pin")
        if isinstance(pin, dict):
            same_run = pin.get("epoch") == self.epoch and isinstance(pin.get("traffic"), int)
            return Point(lsn=lsn, traffic=int(pin["traffic"]) if same_run else None)
        if subject.get("exact_lsn"):
            return Point(lsn=lsn)
        return Point()  # scheduled by an earlier version: "now"

    async def capture(self, source: records.Branch, point: Point, target: SeedDir) -> str | None:
        """Capture ``source`` as of ``point`` into ``target`` under the branch's lock. A pinned
        point nobody wrote after is copied as it is; otherwise (or when a client writes while
        the copy runs) it is recovered to."""
        server = await self.clusters.server()
        files = self.clusters.files(source)
        runtime = self.clusters.runtime(source.id)
        scratch = target.directory.parent / f".recovery-{secrets.token_hex(4)}"
        async with runtime.lock:
            if self._quiet(point, runtime):
                lsn = await capture(
                    server, files, runtime.cluster, point, target, scratch, quiet=True
                )
                if self._quiet(point, runtime):
                    return lsn
            needs_server = files.materialized and (point.timestamp or point.lsn is not None)
            if needs_server:
                await self.clusters.ensure_running_locked(source, runtime)
            return await capture(server, files, runtime.cluster, point, target, scratch)

    @staticmethod
    def _quiet(point: Point, runtime: Runtime) -> bool:
        """Nobody can have written since ``point`` was pinned."""
        return (
            point.traffic is not None and point.traffic == runtime.traffic and not runtime.sessions
        )

    # -- operations ---------------------------------------------------------------------------

    async def create_branch(self, op: records.Operation, branch: records.Branch) -> None:
        """``create_branch`` from another branch: its data (or schema) at the branch point."""
        subject = op.subject
        source = self.clusters.branch(str(subject.get("source_branch_id")))
        if source is None:
            return
        if subject.get("schema_only"):
            await self._copy_schema(source, self.point(subject), branch)
            return
        files = self.clusters.files(branch)
        lsn = await self.capture(source, self.point(subject), files.seed)
        if lsn is not None and branch.parent_id is not None and not subject.get("copy"):
            branch.parent_lsn = lsn
            self.clusters.store.branches.put(branch)

    async def restore_branch(self, op: records.Operation) -> None:
        """``restore_branch``: the target's data becomes the source's at the point; its
        server stops (connections drop) and starts on the new data when next connected to."""
        target = self.clusters.branch(op.branch_id)
        source = self.clusters.branch(str(op.subject.get("source_branch_id")))
        if target is None or source is None:
            return
        staged = SeedDir(
            self.clusters.settings.root / "projects" / target.project_id / f".staged-{target.id}",
            self.clusters.template,
        )
        clusters.remove_tree(staged.directory)
        await self.capture(source, self.point(op.subject), staged)
        server = await self.clusters.server()
        runtime = self.clusters.runtime(target.id)
        async with runtime.lock:
            await self.clusters.stop_locked(target.id, runtime)
            branches.replace_seed(server, self.clusters.files(target), staged)

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
        server = await self.clusters.server()
        server.binaries.require("pg_dump", "psql")
        files = self.clusters.files(branch)
        server.mkdir(files.directory)
        dumps = server.mkdir(files.directory / "schema")
        scratch = SeedDir(files.directory / ".schema-source", self.clusters.template)
        wanted = {d.id: d.name for d in lookups.branch_databases(self.clusters.store, branch)}
        dumped: dict[int, Path] = {}
        try:
            await self.capture(source, point, scratch)
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
            runtime = self.clusters.runtime(branch.id)
            async with runtime.lock:
                cluster = await self.clusters.ensure_running_locked(branch, runtime)
                for database_id, script in dumped.items():
                    errors = await cluster.run_script(wanted[database_id], script)
                    if errors:
                        logger.warning("schema copy into %s: %s", branch.id, errors)
                if not runtime.connections:
                    await self.clusters.stop_locked(branch.id, runtime)
        finally:
            clusters.remove_tree(scratch.directory)
            clusters.remove_tree(dumps)
