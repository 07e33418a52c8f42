"""PostgreSQL clusters on disk and as processes: template, copies, base backups, point-in-time
recovery, start and stop.

Every branch that has ever been connected to owns a real data directory; its history is a *seed*
(an immutable data directory the cluster was first copied from) plus the WAL the cluster archived
since (``archive_command`` into the branch's ``archive/``). That is enough for real PITR: copy the
seed, replay archived WAL up to a ``recovery_target_time``/``recovery_target_lsn``, promote, stop.
The result is a new seed, for a child branch, a snapshot or a restore.

Seeds come in two kinds, both startable as they are: a cleanly stopped data directory (the
template, a cold copy, a recovery result) or a ``pg_basebackup`` of a running cluster (which
replays its own streamed WAL on first start). Seeds are never written to, so one may be shared by
hard links (``cp -al``); data directories are always real copies.

Settings favour a cheap, disposable server: 16 MB shared buffers, few connections, ``fsync=off``
and 1 MB WAL segments. ``synchronous_commit`` stays on (free without fsync) so that
``pg_current_wal_lsn()`` after a commit is past that commit, as branching at an LSN expects.
Durability against power loss is not an emulator's job; the WAL itself is real (archiving, base
backups and recovery need it).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg

from neon_emulator.postgres.binaries import Binaries, ServerUser

logger = logging.getLogger(__name__)

ADMIN_ROLE = "cloud_admin"
"""The superuser the emulator administers clusters with (Neon's own name for it)."""

STATIC_SETTINGS: dict[str, str] = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",
    "shared_buffers": "16MB",
    "max_connections": "30",
    "superuser_reserved_connections": "3",
    "max_worker_processes": "4",
    "max_parallel_workers": "2",
    "autovacuum_max_workers": "1",
    "fsync": "off",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "wal_level": "replica",
    "max_wal_senders": "4",
    "min_wal_size": "4MB",
    "max_wal_size": "64MB",
    "wal_keep_size": "0",
    "huge_pages": "off",
    "password_encryption": "scram-sha-256",
    "timezone": "UTC",
    "log_timezone": "UTC",
    "log_min_messages": "warning",
    "log_line_prefix": "%m [%p] ",
    "logging_collector": "off",
}

_NEON_SUPERUSER = (
    "CREATE ROLE neon_superuser NOLOGIN CREATEDB CREATEROLE BYPASSRLS "
    "IN ROLE pg_read_all_data, pg_write_all_data"
)


class ClusterError(RuntimeError):
    """A server command or start failed; the message carries PostgreSQL's own words."""


HBA = """\
# neon-emulator: the proxy's sessions arrive on the private socket, after the proxy itself
# authenticated the client; TCP (the emulator's own admin sessions) needs a SCRAM password
local all all trust
local replication all trust
host all all 127.0.0.1/32 scram-sha-256
host replication all 127.0.0.1/32 scram-sha-256
"""


@dataclass(frozen=True)
class Server:
    """How to run server programs here: which binaries, as whom, with which admin password.

    ``run_dir`` (short, private to the server user: only the emulator reaches it) holds every
    cluster's Unix socket and the ``pg_hba.conf`` they all use (:data:`HBA`)."""

    binaries: Binaries
    user: ServerUser
    admin_password: str
    run_dir: Path | None = None

    async def run(
        self, *args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> str:
        """Run a server program as the server user; raise :class:`ClusterError` on failure.

        ``cwd`` is entered before privileges drop, so relative paths under it work even where
        the server user may not traverse the ancestors.
        """
        process = await asyncio.create_subprocess_exec(
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "LC_ALL": "C", **(env or {})},
            user=self.user.uid,
            group=self.user.gid,
            extra_groups=[] if self.user.switches else None,
            cwd=str(cwd) if cwd else "/",
        )
        out, err = await process.communicate()
        if process.returncode != 0:
            name = os.path.basename(args[0])
            raise ClusterError(f"{name} failed: {err.decode(errors='replace').strip()}")
        return out.decode(errors="replace")

    async def copy(self, source: Path, target: Path, *, link: bool = False) -> None:
        """``cp -a`` (``-al``: hard links, for immutable seeds), keeping ownership."""
        flags = "-al" if link else "-a"
        process = await asyncio.create_subprocess_exec(
            "cp", flags, str(source), str(target), stderr=asyncio.subprocess.PIPE
        )
        _, err = await process.communicate()
        if process.returncode != 0:
            raise ClusterError(f"copying {source} failed: {err.decode(errors='replace').strip()}")

    def mkdir(self, path: Path, mode: int = 0o700) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(mode)
        self.user.chown(path)
        return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGQUIT (immediate shutdown) if the emulator dies."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGQUIT)  # PR_SET_PDEATHSIG


def _relative(path: Path, start: Path) -> str:
    return os.path.relpath(path, start)


def _escape(path: Path | str) -> str:
    text = str(path)
    if '"' in text:
        raise ClusterError(f"paths with double quotes are not supported: {text}")
    return text.replace("%", "%%")


async def build_template(server: Server, target: Path) -> None:
    """initdb + Neon's ``neon_superuser`` role, stopped cleanly, at ``target`` (a data dir)."""
    work = target.parent
    password_file = work / f".pw-{secrets.token_hex(4)}"
    password_file.write_text(server.admin_password + "\n")
    password_file.chmod(0o600)
    server.user.chown(password_file)
    server.user.make_reachable(work)
    try:
        await server.run(
            server.binaries.path("initdb"),
            "-D",
            str(target),
            "-U",
            ADMIN_ROLE,
            f"--pwfile={password_file}",
            "--auth-host=scram-sha-256",
            "--auth-local=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--wal-segsize=1",
            "--no-sync",
        )
    finally:
        password_file.unlink(missing_ok=True)
    conf = target / "postgresql.conf"
    lines = [f"{key} = '{value}'" for key, value in STATIC_SETTINGS.items()]
    with conf.open("a") as handle:
        handle.write("\n# neon-emulator\n" + "\n".join(lines) + "\n")
    cluster = Cluster(server, target, archive=None, log=work / "template.log")
    await cluster.start()
    try:
        async with await cluster.connect() as conn:
            await conn.execute(_NEON_SUPERUSER)
    finally:
        await cluster.stop()


class Cluster:
    """One data directory and, while started, its ``postgres`` process on a loopback port."""

    def __init__(
        self,
        server: Server,
        data: Path,
        *,
        archive: Path | None,
        log: Path,
    ) -> None:
        self.server = server
        self.data = data
        self.archive = archive
        self.log = log
        self.port: int | None = None
        self._process: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(
        self, extra: Mapping[str, str] | None = None, *, wait_for: str = "ready"
    ) -> None:
        """Start on a free port and wait until it accepts connections (``wait_for`` is the
        ``postmaster.pid`` status: ``ready``)."""
        for pidfile in ("postmaster.pid", "postmaster.opts"):
            (self.data / pidfile).unlink(missing_ok=True)
        last_error: ClusterError | None = None
        for _ in range(3):
            self.server.user.make_reachable(self.data)
            try:
                await self._start_once(free_port(), extra or {}, wait_for)
                return
            except ClusterError as exc:
                last_error = exc
                retry = ("could not bind", "in use", "Permission denied")
                if not any(reason in str(exc) for reason in retry):
                    raise
        assert last_error is not None
        raise last_error

    def _settings(self, port: int, extra: Mapping[str, str]) -> list[str]:
        settings = {"port": str(port)}
        if self.archive is not None:
            # relative to the data directory (the server's working directory): no ancestor of
            # it has to stay traversable for the server user (pytest resets /tmp/pytest-of-*
            # to 0700 whenever a session starts)
            target = _escape(_relative(self.archive, self.data))
            settings["archive_mode"] = "on"
            settings["archive_command"] = (
                f'cp "%p" "{target}/%f.part" && mv "{target}/%f.part" "{target}/%f"'
            )
        else:
            settings["archive_mode"] = "off"
        if self.server.run_dir is not None:
            settings["unix_socket_directories"] = _escape(self.server.run_dir)
            settings["unix_socket_permissions"] = "0700"
            settings["hba_file"] = _escape(self.server.run_dir / "pg_hba.conf")
        settings.update(extra)
        args: list[str] = []
        for key, value in settings.items():
            args += ["-c", f"{key}={value}"]
        return args

    async def _start_once(self, port: int, extra: Mapping[str, str], wait_for: str) -> None:
        with self.log.open("ab") as log:
            self.server.user.chown(self.log)
            self._process = await asyncio.create_subprocess_exec(
                self.server.binaries.path("postgres"),
                "-D",
                str(self.data),
                *self._settings(port, extra),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                user=self.server.user.uid,
                group=self.server.user.gid,
                extra_groups=[] if self.server.user.switches else None,
                preexec_fn=_die_with_parent,
                start_new_session=True,
                cwd="/",
                env={**os.environ, "LC_ALL": "C"},
            )
        started = time.monotonic()
        pidfile = self.data / "postmaster.pid"
        while True:
            if self._process.returncode is not None or time.monotonic() - started > 120:
                if self._process.returncode is None:
                    self._process.kill()
                    await self._process.wait()
                self._process = None
                raise ClusterError(f"postgres did not start: {self.log_tail()}")
            with contextlib.suppress(OSError):
                lines = pidfile.read_text().splitlines()
                if len(lines) >= 8 and lines[7].strip() == wait_for:
                    self.port = port
                    return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._process.wait()), 0.01)

    def log_tail(self, lines: int = 8) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        wanted = [line for line in text if "FATAL" in line or "ERROR" in line or "PANIC" in line]
        return " | ".join((wanted or text)[-lines:])

    async def stop(self, mode: signal.Signals = signal.SIGINT) -> None:
        """Fast shutdown (SIGINT); immediate (SIGQUIT) if that takes over 30 s."""
        process = self._process
        self._process = None
        self.port = None
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(mode)
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGQUIT)
            await process.wait()

    async def connect(
        self, dbname: str = "postgres"
    ) -> psycopg.AsyncConnection[tuple[object, ...]]:
        if self.port is None:
            raise ClusterError("cluster is not running")
        return await psycopg.AsyncConnection.connect(
            host="127.0.0.1",
            port=self.port,
            user=ADMIN_ROLE,
            password=self.server.admin_password,
            dbname=dbname,
            autocommit=True,
            connect_timeout=10,
        )

    @property
    def socket(self) -> str:
        """The private Unix socket where the server trusts every session (the proxy's)."""
        if self.port is None or self.server.run_dir is None:
            raise ClusterError("cluster is not running with a private socket")
        return str(self.server.run_dir / f".s.PGSQL.{self.port}")

    async def role_secret(self, role: str) -> str | None:
        """``role``'s password verifier in ``pg_authid`` (``None``: no such role or password)."""
        if self.port is None or self.server.run_dir is None:
            raise ClusterError("cluster is not running with a private socket")
        async with await psycopg.AsyncConnection.connect(
            host=str(self.server.run_dir),
            port=self.port,
            user=ADMIN_ROLE,
            dbname="postgres",
            autocommit=True,
            connect_timeout=10,
        ) as conn:
            row = await (
                await conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", [role])
            ).fetchone()
        return str(row[0]) if row is not None and row[0] is not None else None

    async def current_lsn(self) -> str:
        async with await self.connect() as conn:
            row = await (await conn.execute("SELECT pg_current_wal_lsn()::text")).fetchone()
        assert row is not None
        return str(row[0])

    async def base_backup(self, target: Path) -> str:
        """``pg_basebackup`` into ``target`` (which must not exist); the LSN it is consistent
        with (every commit before it is in the copy)."""
        lsn = await self.current_lsn()
        assert self.port is not None
        await self.server.run(
            self.server.binaries.path("pg_basebackup"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            ADMIN_ROLE,
            "-D",
            target.name,
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-sync",
            "--no-manifest",
            env={"PGPASSWORD": self.server.admin_password},
            cwd=target.parent,
        )
        return lsn

    async def database_names(self) -> set[str]:
        async with await self.connect() as conn:
            rows = await (
                await conn.execute("SELECT datname FROM pg_database WHERE datallowconn")
            ).fetchall()
        return {str(row[0]) for row in rows}

    async def dump_schema(self, dbname: str, target: Path) -> None:
        """``pg_dump --schema-only`` of ``dbname`` into the SQL file ``target`` (its directory
        must belong to the server user). Publications and subscriptions are left out: a
        schema-only copy must not start replicating."""
        assert self.port is not None
        await self.server.run(
            self.server.binaries.path("pg_dump"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            ADMIN_ROLE,
            "--schema-only",
            "--no-publications",
            "--no-subscriptions",
            "-f",
            target.name,
            dbname,
            env={"PGPASSWORD": self.server.admin_password},
            cwd=target.parent,
        )

    async def run_script(self, dbname: str, script: Path) -> str:
        """Run an SQL file with ``psql`` as the admin role; statements that fail are skipped
        (e.g. a grant to a role that exists only where the script came from). Returns the
        errors ``psql`` reported."""
        assert self.port is not None
        process = await asyncio.create_subprocess_exec(
            self.server.binaries.path("psql"),
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=0",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            ADMIN_ROLE,
            "-d",
            dbname,
            "-f",
            script.name,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "LC_ALL": "C", "PGPASSWORD": self.server.admin_password},
            user=self.server.user.uid,
            group=self.server.user.gid,
            extra_groups=[] if self.server.user.switches else None,
            cwd=str(script.parent),
        )
        _, err = await process.communicate()
        if process.returncode != 0:
            raise ClusterError(f"psql failed: {err.decode(errors='replace').strip()}")
        return err.decode(errors="replace").strip()

    async def seal_history(self) -> None:
        """Make the archive cover everything committed so far, with one commit after it.

        Recovery to a time or LSN stops at the first commit past the target; a fresh commit plus
        a WAL switch (waiting until the archiver has copied the switched segment) guarantees
        that commit exists in ``archive/``.
        """
        async with await self.connect() as conn:
            await conn.execute("SELECT pg_current_xact_id()")
            row = await (await conn.execute("SELECT pg_walfile_name(pg_switch_wal())")).fetchone()
            assert row is not None
            segment = str(row[0])
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                done = await (
                    await conn.execute("SELECT last_archived_wal FROM pg_stat_archiver")
                ).fetchone()
                if done and done[0] and str(done[0]) >= segment:
                    return
                await asyncio.sleep(0.02)
        raise ClusterError(f"WAL segment {segment} was not archived in time")


async def recover(
    server: Server,
    seed: Path,
    archive: Path,
    target: Path,
    log: Path,
    *,
    time_target: str | None = None,
    lsn_target: str | None = None,
) -> str:
    """Copy ``seed`` to ``target`` and replay ``archive`` up to the target, then promote and stop.

    A time target includes the commits made at that time; an LSN target includes every record
    that starts before it and none that starts at or after it (``recovery_target_inclusive``
    off), as a Neon branch at that LSN does: ``pg_current_wal_lsn()`` read after a commit is
    the end of its commit record, and the next transaction's records start there. Returns the
    LSN the new timeline starts from.
    """
    await server.copy(seed, target)
    (target / "recovery.signal").touch()
    server.user.chown(target / "recovery.signal")
    extra = {
        "hot_standby": "off",
        "restore_command": f'cp "{_escape(_relative(archive, target))}/%f" "%p"',
        "recovery_target_action": "promote",
        "recovery_target_inclusive": "off" if lsn_target is not None else "on",
    }
    if time_target is not None:
        extra["recovery_target_time"] = time_target
    if lsn_target is not None:
        extra["recovery_target_lsn"] = lsn_target
    cluster = Cluster(server, target, archive=None, log=log)
    await cluster.start(extra)
    try:
        deadline = time.monotonic() + 120
        async with await cluster.connect() as conn:
            while time.monotonic() < deadline:
                row = await (await conn.execute("SELECT pg_is_in_recovery()")).fetchone()
                if row is not None and not row[0]:
                    break
                await asyncio.sleep(0.02)
            else:
                raise ClusterError("recovery did not finish in time")
        return await cluster.current_lsn()
    finally:
        await cluster.stop()


async def checkpoint_lsn(server: Server, data: Path) -> str:
    """The latest checkpoint of a stopped data directory (``pg_controldata``). After a clean
    stop that is the shutdown checkpoint: every commit of the cluster precedes it."""
    out = await server.run(server.binaries.path("pg_controldata"), "-D", str(data))
    for line in out.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "Latest checkpoint location":
            return value.strip()
    raise ClusterError(f"pg_controldata printed no checkpoint location for {data}")


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
