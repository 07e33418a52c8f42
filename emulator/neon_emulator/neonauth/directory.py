"""Users, credential accounts and sessions in the branch database's ``neon_auth`` tables, the way
Better Auth writes them (a password lives on the user's ``credential`` account; a session is a
row keyed by its token). Rows come back as Better Auth's JSON (camelCase, ISO timestamps).
"""

from __future__ import annotations

import secrets
import string
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

SESSION_LIFETIME = timedelta(days=7)
"""Better Auth's default ``session.expiresIn``."""

USER_COLUMNS = (
    'id, name, email, "emailVerified", image, "createdAt", "updatedAt", role, banned, '
    '"banReason", "banExpires"'
)
SESSION_COLUMNS = (
    'id, token, "userId", "expiresAt", "createdAt", "updatedAt", "ipAddress", "userAgent", '
    '"impersonatedBy", "activeOrganizationId"'
)
_TOKEN_ALPHABET = string.ascii_letters + string.digits

Connection = psycopg.AsyncConnection[Any]


def _json(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, datetime):
            value = value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        elif not isinstance(value, (str, bool, int, float, type(None))):
            value = str(value)
        out[key] = value
    return out


async def _one(conn: Connection, query: str, params: tuple[Any, ...]) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query.encode(), params)
        row = await cur.fetchone()
    return _json(row) if row is not None else None


async def user_by_email(conn: Connection, email: str) -> dict[str, Any] | None:
    return await _one(
        conn,
        f'SELECT {USER_COLUMNS} FROM neon_auth."user" WHERE lower(email) = lower(%s)',
        (email,),
    )


async def create_user(
    conn: Connection, *, email: str, name: str, image: str | None = None
) -> dict[str, Any]:
    row = await _one(
        conn,
        f'INSERT INTO neon_auth."user" (name, email, "emailVerified", image) '
        f"VALUES (%s, %s, false, %s) RETURNING {USER_COLUMNS}",
        (name, email.lower(), image),
    )
    assert row is not None
    return row


async def add_password(conn: Connection, user_id: str, password_hash: str) -> None:
    await conn.execute(
        b'INSERT INTO neon_auth.account ("accountId", "providerId", "userId", password, '
        b'"updatedAt") VALUES (%s, %s, %s, %s, now())',
        (user_id, "credential", user_id, password_hash),
    )


async def password_of(conn: Connection, user_id: str) -> str | None:
    row = await _one(
        conn,
        'SELECT password FROM neon_auth.account WHERE "userId" = %s '
        "AND \"providerId\" = 'credential'",
        (user_id,),
    )
    return None if row is None else row["password"]


async def delete_user(conn: Connection, user_id: str) -> bool:
    row = await _one(
        conn, 'DELETE FROM neon_auth."user" WHERE id::text = %s RETURNING id', (user_id,)
    )
    return row is not None


async def set_role(conn: Connection, user_id: str, role: str) -> bool:
    row = await _one(
        conn,
        'UPDATE neon_auth."user" SET role = %s, "updatedAt" = now() WHERE id::text = %s '
        "RETURNING id",
        (role, user_id),
    )
    return row is not None


def new_token() -> str:
    """A session token like Better Auth's (32 alphanumerics)."""
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(32))


async def create_session(
    conn: Connection, user_id: str, *, ip_address: str | None, user_agent: str | None
) -> dict[str, Any]:
    row = await _one(
        conn,
        'INSERT INTO neon_auth.session (token, "userId", "expiresAt", "updatedAt", '
        f'"ipAddress", "userAgent") VALUES (%s, %s, %s, now(), %s, %s) RETURNING {SESSION_COLUMNS}',
        (new_token(), user_id, datetime.now(UTC) + SESSION_LIFETIME, ip_address, user_agent),
    )
    assert row is not None
    return row


async def session_by_token(
    conn: Connection, token: str
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The live session with ``token`` and its user, or ``None`` (unknown or expired)."""
    session = await _one(
        conn,
        f'SELECT {SESSION_COLUMNS} FROM neon_auth.session WHERE token = %s AND "expiresAt" > now()',
        (token,),
    )
    if session is None:
        return None
    user = await _one(
        conn, f'SELECT {USER_COLUMNS} FROM neon_auth."user" WHERE id = %s', (session["userId"],)
    )
    return (session, user) if user is not None else None


async def delete_session(conn: Connection, token: str) -> None:
    await conn.execute(b"DELETE FROM neon_auth.session WHERE token = %s", (token,))
