"""Run SQL in a branch's database as its owner -- the one entry point Neon Auth and the Data API
use to reach the data plane.

It connects the way any client does: the database owner's connection URI (from
:class:`~neon_emulator.hosts.Addresses`), through the data plane's proxy, with the owner's
password. So the compute wakes on the first request (a ``start_compute`` operation, as for any
connection), idles when nobody asks, and the emulator's services depend on nothing inside
:mod:`neon_emulator.postgres`. A service that needs another role switches to it inside the
transaction (``SET LOCAL ROLE``), as PostgREST does from its authenticator role.

Without a data plane (``--no-postgres``) there is no database: :class:`NoDatabase`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg

from neon_emulator import lookups, records
from neon_emulator.context import Context
from neon_emulator.dataplane import NoDataPlane


class NoDatabase(Exception):
    """The branch's database cannot be reached; the message says why (no secrets in it)."""


def available(ctx: Context) -> bool:
    """Whether real databases stand behind branches (``--postgres``)."""
    return not isinstance(ctx.dataplane, NoDataPlane)


def owner_uri(ctx: Context, branch: records.Branch, database_name: str) -> str:
    """The database owner's direct connection URI for ``database_name`` on ``branch``."""
    if not available(ctx):
        raise NoDatabase(
            "this emulator runs without PostgreSQL (--no-postgres): branches have no database"
        )
    database = ctx.store.databases.get(f"{branch.id}/{database_name}")
    if database is None:
        raise NoDatabase(f"database {database_name!r} does not exist on branch {branch.id}")
    owner = ctx.store.roles.get(f"{branch.id}/{database.owner_name}")
    if owner is None or owner.password is None:
        raise NoDatabase(f"the owner of database {database_name!r} cannot log in")
    endpoint = lookups.read_write_endpoint(ctx.store, branch)
    if endpoint is None:
        raise NoDatabase(f"branch {branch.id} has no read_write endpoint")
    return ctx.addresses.uri(endpoint, owner.name, owner.password, database.name, pooled=False)


@asynccontextmanager
async def connect(
    ctx: Context, branch: records.Branch, database_name: str
) -> AsyncIterator[psycopg.AsyncConnection[tuple[object, ...]]]:
    """An autocommit connection to ``database_name`` on ``branch`` as the database owner; open
    a transaction with ``conn.transaction()`` for anything that must be atomic."""
    uri = owner_uri(ctx, branch, database_name)
    try:
        conn = await psycopg.AsyncConnection.connect(uri, autocommit=True, connect_timeout=30)
    except psycopg.OperationalError as exc:
        raise NoDatabase(f"could not connect to branch {branch.id}: {_reason(exc)}") from None
    try:
        yield conn
    finally:
        await conn.close()


def _reason(exc: psycopg.Error) -> str:
    """The server's message without the connection string psycopg may quote."""
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None)
    return str(primary) if primary else type(exc).__name__
