"""What enabling the Data API sets up in the database, as Neon does:

* the ``authenticated`` role (requests with a valid JWT) and the anonymous role
  (``settings.db_anon_role``, default ``anonymous``; requests without a token), both ``NOLOGIN``;
* membership of both in the database owner, the role the emulator's Data API connects as (Neon's
  ``authenticator``) and switches from with ``SET LOCAL ROLE``; a custom JWT ``role`` claim needs
  the same ``GRANT <role> TO <owner>``;
* unless ``skip_auth_schema``: the ``auth`` schema with ``auth.session()`` (the request's JWT
  claims) and ``auth.user_id()`` (their ``sub``) -- what Neon's ``pg_session_jwt`` provides, here
  as SQL functions over PostgREST's ``request.jwt.claims`` setting;
* with ``add_default_grants``: Neon's documented default grants to ``authenticated`` on every
  exposed schema (``USAGE``; ``SELECT, INSERT, UPDATE, DELETE`` on tables, now and by default
  privileges; ``USAGE, SELECT`` on sequences).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

AUTHENTICATED = "authenticated"

AUTH_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS auth;
CREATE OR REPLACE FUNCTION auth.session() RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$ SELECT coalesce(nullif(current_setting('request.jwt.claims', true), ''), '{}')::jsonb $$;
CREATE OR REPLACE FUNCTION auth.user_id() RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT auth.session() ->> 'sub' $$;
"""


async def ensure_role(conn: psycopg.AsyncConnection[Any], role: str, owner: str) -> None:
    cursor = await conn.execute(b"SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
    if await cursor.fetchone() is None:
        await conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
    await conn.execute(
        sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), sql.Identifier(owner))
    )


async def provision(
    conn: psycopg.AsyncConnection[Any],
    *,
    owner: str,
    anon_role: str,
    schemas: list[str],
    auth_schema: bool,
    default_grants: bool,
) -> None:
    async with conn.transaction():
        for role in dict.fromkeys([AUTHENTICATED, anon_role]):
            await ensure_role(conn, role, owner)
        roles = sql.SQL(", ").join(
            sql.Identifier(r) for r in dict.fromkeys([AUTHENTICATED, anon_role])
        )
        if auth_schema:
            await conn.execute(AUTH_SCHEMA.encode())
            await conn.execute(sql.SQL("GRANT USAGE ON SCHEMA auth TO {}").format(roles))
        if default_grants:
            for schema in schemas:
                name = sql.Identifier(schema)
                who = sql.Identifier(AUTHENTICATED)
                for statement in (
                    "GRANT USAGE ON SCHEMA {schema} TO {who}",
                    "GRANT SELECT, UPDATE, INSERT, DELETE ON ALL TABLES IN SCHEMA {schema} "
                    "TO {who}",
                    "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
                    "GRANT SELECT, UPDATE, INSERT, DELETE ON TABLES TO {who}",
                    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {who}",
                ):
                    await conn.execute(sql.SQL(statement).format(schema=name, who=who))


async def schemas(conn: psycopg.AsyncConnection[Any]) -> list[str]:
    """The database's own schemas (what ``available_schemas`` lists)."""
    cursor = await conn.execute(
        b"SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
        b"AND nspname <> 'information_schema' ORDER BY nspname"
    )
    return [str(row[0]) for row in await cursor.fetchall()]
