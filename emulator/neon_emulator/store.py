"""All emulator state: in-memory tables written through to SQLite.

Reads come from memory; every ``put``/``delete`` is written to ``state.sqlite3`` in the state
directory, and :meth:`Store.commit` (called once per request and per operation step) makes it
durable. On start the tables are loaded back, so a restart keeps keys, organizations, projects and
unfinished operations.

Concurrency: the whole server runs on one asyncio loop and store calls never await, so a handler's
read-check-write sequence cannot interleave with another request's. Handlers validate everything
before their first ``put``; that keeps memory and disk equal without rollbacks.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

from neon_emulator import records

R = TypeVar("R", bound=records.Record)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    id   TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class Table(Generic[R]):
    """One kind of record, keyed by ``key(record)`` and indexed by project when it has one."""

    def __init__(
        self, db: sqlite3.Connection, kind: str, model: type[R], key: Callable[[R], str]
    ) -> None:
        self._db = db
        self.kind = kind
        self._model = model
        self._key = key
        self._rows: dict[str, R] = {}
        self._by_project: dict[str, dict[str, R]] = {}

    def load(self) -> None:
        cursor = self._db.execute(
            "SELECT body FROM records WHERE kind = ? ORDER BY rowid", (self.kind,)
        )
        for (body,) in cursor:
            self._remember(self._model.model_validate_json(body))

    def _remember(self, record: R) -> None:
        key = self._key(record)
        previous = self._rows.get(key)
        if previous is not None:
            self._forget_index(key, previous)
        self._rows[key] = record
        project_id = getattr(record, "project_id", None)
        if isinstance(project_id, str):
            self._by_project.setdefault(project_id, {})[key] = record

    def _forget_index(self, key: str, record: R) -> None:
        project_id = getattr(record, "project_id", None)
        if isinstance(project_id, str):
            self._by_project.get(project_id, {}).pop(key, None)

    def get(self, key: str) -> R | None:
        return self._rows.get(key)

    def put(self, record: R) -> R:
        self._remember(record)
        self._db.execute(
            "INSERT INTO records (kind, id, body) VALUES (?, ?, ?) "
            "ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body",
            (self.kind, self._key(record), record.model_dump_json()),
        )
        return record

    def delete(self, key: str) -> None:
        record = self._rows.pop(key, None)
        if record is not None:
            self._forget_index(key, record)
        self._db.execute("DELETE FROM records WHERE kind = ? AND id = ?", (self.kind, key))

    def __contains__(self, key: str) -> bool:
        return key in self._rows

    def __iter__(self) -> Iterator[R]:
        return iter(list(self._rows.values()))

    def __len__(self) -> int:
        return len(self._rows)

    def in_project(self, project_id: str) -> list[R]:
        return list(self._by_project.get(project_id, {}).values())


class Store:
    """The tables, one SQLite connection, and monotonic counters (database ids, key ids)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level="DEFERRED")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        db = self._db
        self.users = Table(db, "user", records.User, lambda r: r.id)
        self.organizations = Table(db, "organization", records.Organization, lambda r: r.id)
        self.api_keys = Table(db, "api_key", records.ApiKey, lambda r: str(r.id))
        self.projects = Table(db, "project", records.Project, lambda r: r.id)
        self.branches = Table(db, "branch", records.Branch, lambda r: r.id)
        self.endpoints = Table(db, "endpoint", records.Endpoint, lambda r: r.id)
        self.roles = Table(db, "role", records.Role, lambda r: r.key)
        self.databases = Table(db, "database", records.Database, lambda r: r.key)
        self.operations = Table(db, "operation", records.Operation, lambda r: r.id)
        self.snapshots = Table(db, "snapshot", records.Snapshot, lambda r: r.id)
        self.neon_auth = Table(db, "neon_auth", records.NeonAuth, lambda r: r.branch_id)
        self.data_apis = Table(db, "data_api", records.DataApi, lambda r: r.key)
        self.members = Table(db, "member", records.Member, lambda r: r.id)
        self.invitations = Table(db, "invitation", records.Invitation, lambda r: r.id)
        self.permissions = Table(db, "permission", records.Permission, lambda r: r.id)
        self.transfer_requests = Table(
            db, "transfer_request", records.TransferRequest, lambda r: r.id
        )
        self.jwks = Table(db, "jwks", records.Jwks, lambda r: r.id)
        self.vpc_endpoints = Table(db, "vpc_endpoint", records.VpcEndpoint, lambda r: r.key)
        self.vpc_restrictions = Table(
            db, "vpc_restriction", records.VpcRestriction, lambda r: r.key
        )
        self.backup_schedules = Table(
            db, "backup_schedule", records.BackupSchedule, lambda r: r.branch_id
        )
        tables: tuple[Table[Any], ...] = (
            self.users,
            self.organizations,
            self.api_keys,
            self.projects,
            self.branches,
            self.endpoints,
            self.roles,
            self.databases,
            self.operations,
            self.snapshots,
            self.neon_auth,
            self.data_apis,
            self.members,
            self.invitations,
            self.permissions,
            self.transfer_requests,
            self.jwks,
            self.vpc_endpoints,
            self.vpc_restrictions,
            self.backup_schedules,
        )
        for table in tables:
            table.load()
        self._keys_by_token = {k.key: k for k in self.api_keys}

    def next_value(self, name: str, start: int = 1) -> int:
        """Next value of a persistent counter (database ids, API key ids, project order)."""
        row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        value = start if row is None else int(row[0]) + 1
        self._db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )
        return value

    def put_api_key(self, key: records.ApiKey) -> None:
        self.api_keys.put(key)
        self._keys_by_token[key.key] = key

    def api_key_by_token(self, token: str) -> records.ApiKey | None:
        return self._keys_by_token.get(token)

    def commit(self) -> None:
        self._db.commit()

    def close(self) -> None:
        self._db.commit()
        self._db.close()
