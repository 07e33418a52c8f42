"""Make a cluster's roles and databases match what the API reports (``apply_config``).

Roles are created the way Neon creates them -- ``LOGIN CREATEDB CREATEROLE``, members of
``neon_superuser``, SCRAM passwords equal to the API's -- or ``NOLOGIN`` for ``no_login`` roles.
A role the API no longer lists has its sessions ended and is dropped (or, when it still owns
objects, loses ``LOGIN``): either way it cannot log in again. Databases are tracked by the API's
database id, so a rename is a real ``ALTER DATABASE … RENAME``; owners follow ``owner_name``.

What was applied is remembered in :class:`Applied` (kept in the branch's ``branch.json``), so only
roles the emulator made are ever dropped -- never ones users created with SQL.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from typing import Any

import psycopg
import psycopg.errors
from psycopg import sql

from neon_emulator.postgres.clusters import Cluster


@dataclass(frozen=True)
class RoleSpec:
    name: str
    password: str | None
    login: bool


@dataclass(frozen=True)
class DatabaseSpec:
    id: int
    name: str
    owner: str


@dataclass
class Applied:
    roles: dict[str, str] = field(default_factory=dict)
    """Role name → digest of the password last set (``""`` for none)."""

    databases: dict[str, str] = field(default_factory=dict)
    """API database id → name in the cluster."""

    adoptable: list[str] = field(default_factory=list)
    """Database names inherited from the seed, matched to this branch's ids by name."""

    def to_json(self) -> dict[str, Any]:
        return {"roles": self.roles, "databases": self.databases, "adoptable": self.adoptable}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Applied:
        return cls(
            roles=dict(data.get("roles", {})),
            databases=dict(data.get("databases", {})),
            adoptable=list(data.get("adoptable", [])),
        )

    def inherited(self) -> Applied:
        """What a copy of this cluster starts with: same roles, databases matched by name."""
        names = [*self.databases.values(), *self.adoptable]
        return Applied(roles=dict(self.roles), adoptable=sorted(set(names)))


def _digest(password: str | None) -> str:
    return "" if password is None else hashlib.sha256(password.encode()).hexdigest()


Conn = psycopg.AsyncConnection[tuple[Any, ...]]


async def _end_sessions(conn: Conn, column: str, value: str) -> None:
    query = sql.SQL(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE {} = %s AND pid <> pg_backend_pid()"
    ).format(sql.Identifier(column))
    await conn.execute(query, (value,))


async def _apply_role(conn: Conn, role: RoleSpec, exists: bool) -> None:
    name = sql.Identifier(role.name)
    login = sql.SQL("LOGIN" if role.login else "NOLOGIN")
    password = (
        sql.SQL("PASSWORD {}").format(sql.Literal(role.password))
        if role.password is not None and role.login
        else sql.SQL("PASSWORD NULL")
    )
    if exists:
        await conn.execute(sql.SQL("ALTER ROLE {} {} {}").format(name, login, password))
    else:
        await conn.execute(
            sql.SQL("CREATE ROLE {} {} CREATEDB CREATEROLE {} IN ROLE neon_superuser").format(
                name, login, password
            )
        )


async def _retire_role(conn: Conn, name: str) -> None:
    await conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN PASSWORD NULL").format(sql.Identifier(name)))
    await _end_sessions(conn, "usename", name)
    with contextlib.suppress(psycopg.errors.DependentObjectsStillExist):
        # owning objects, it stays -- unable to log in
        await conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


async def apply(
    cluster: Cluster, roles: list[RoleSpec], databases: list[DatabaseSpec], applied: Applied
) -> Applied:
    """Bring ``cluster`` in line with ``roles``/``databases``; returns the new :class:`Applied`."""
    result = Applied(roles=dict(applied.roles), databases=dict(applied.databases))
    async with await cluster.connect() as conn:
        existing_roles = {
            str(r[0]) for r in await (await conn.execute("SELECT rolname FROM pg_roles")).fetchall()
        }
        wanted = {r.name for r in roles}
        for role in roles:
            digest = _digest(role.password if role.login else None) + ("" if role.login else "-")
            if role.name in existing_roles and result.roles.get(role.name) == digest:
                continue
            await _apply_role(conn, role, role.name in existing_roles)
            result.roles[role.name] = digest

        rows = await (
            await conn.execute(
                "SELECT datname, pg_get_userbyid(datdba) FROM pg_database WHERE datallowconn"
            )
        ).fetchall()
        existing = {str(r[0]): str(r[1]) for r in rows}
        adoptable = set(applied.adoptable)
        wanted_ids = {str(d.id) for d in databases}
        wanted_names = {d.name for d in databases}
        for key, name in list(result.databases.items()):
            if key not in wanted_ids and name not in wanted_names and name in existing:
                await conn.execute(
                    sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name))
                )
                del existing[name]
            if key not in wanted_ids:
                del result.databases[key]
        for name in sorted(adoptable - wanted_names):
            if name in existing:
                await conn.execute(
                    sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name))
                )
                del existing[name]
        for database in databases:
            key = str(database.id)
            current = result.databases.get(key)
            if current is None and database.name in existing:
                current = database.name
            if current is not None and current != database.name and current in existing:
                await _end_sessions(conn, "datname", current)
                await conn.execute(
                    sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                        sql.Identifier(current), sql.Identifier(database.name)
                    )
                )
                existing[database.name] = existing.pop(current)
            if database.name not in existing:
                await conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(database.name), sql.Identifier(database.owner)
                    )
                )
            elif existing[database.name] != database.owner:
                await conn.execute(
                    sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                        sql.Identifier(database.name), sql.Identifier(database.owner)
                    )
                )
            result.databases[key] = database.name
        for name in sorted(set(result.roles) - wanted):
            if name in existing_roles:
                await _retire_role(conn, name)
            del result.roles[name]
    return result
