"""The ``neon_auth`` schema Neon provisions in a branch database when Neon Auth is enabled.

``better_auth`` integrations get Better Auth's tables as Neon creates them (``user``, ``account``,
``session``, ``verification``, ``jwks``, the organization plugin's ``organization``, ``member``,
``invitation``, and Neon's ``project_config``), camelCase columns included. Legacy ``stack`` and
``mock`` integrations get ``users_sync``, the table their users were synchronized into.

Everything is created by the database owner (the emulator reaches the database as the owner,
see :mod:`neon_emulator.branch_sql`), with ``IF NOT EXISTS``: enabling again after a disable
without ``delete_data`` keeps the users.
"""

from __future__ import annotations

from typing import Any

import psycopg

SCHEMA = "neon_auth"

BETTER_AUTH = """
CREATE SCHEMA IF NOT EXISTS neon_auth;
CREATE TABLE IF NOT EXISTS neon_auth."user" (
    id uuid DEFAULT gen_random_uuid() PRIMARY KEY,
    name text NOT NULL,
    email text NOT NULL UNIQUE,
    "emailVerified" boolean NOT NULL,
    image text,
    "createdAt" timestamptz DEFAULT CURRENT_TIMESTAMP NOT NULL,
    "updatedAt" timestamptz DEFAULT CURRENT_TIMESTAMP NOT NULL,
    role text,
    banned boolean,
    "banReason" text,
    "banExpires" timestamptz
);
CREATE TABLE IF NOT EXISTS neon_auth.account (
    id uuid DEFAULT gen_random_uuid() PRIMARY KEY,
    "accountId" text NOT NULL,
    "providerId" text NOT NULL,
    "userId" uuid NOT NULL REFERENCES neon_auth."user" (id) ON DELETE CASCADE,
    "accessToken" text,
    "refreshToken" text,
    "idToken" text,
    "accessTokenExpiresAt" timestamptz,
    "refreshTokenExpiresAt" timestamptz,
    scope text,
    password text,
    "createdAt" timestamptz DEFAULT CURRENT_TIMESTAMP NOT NULL,
    "updatedAt" timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS neon_auth.session (
    id uuid DEFAULT gen_random_uuid() PRIMARY KEY,
    "expiresAt" timestamptz NOT NULL,
    token text NOT NULL UNIQUE,
    "createdAt" timestamptz DEFAULT CURRENT_TIMESTAMP NOT NULL,
    "updatedAt" timestamptz NOT NULL,
    "ipAddress" text,
    "userAgent" text,
    "userId" uuid NOT NULL REFERENCES neon_auth."user" (id) ON DELETE CASCADE,
    "impersonatedBy" text,
    "activeOrganizationId" text
);
CREATE TABLE IF NOT EXISTS neon_auth.verification (
    id uuid DEFAULT gen_random_uuid() PRIMARY KEY,
    identifier text NOT NULL,
    value text NOT NULL,
    "expiresAt" timestamptz NOT NULL,
    "createdAt" timestamptz DEFAULT CURRENT_TIMESTAMP NOT NULL,
    "updatedAt" timestamptz DEFAULT CURRENT_TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS neon_auth.jwks (
    id uuid DEFAULT gen_random_uuid() PRIMARY KEY,
    "publicKey" text NOT NULL,
    "privateKey" text NOT NULL,
    "createdAt" timestamptz NOT NULL,
    "expiresAt" timestamptz
);
CREATE TABLE IF NOT EXISTS neon_auth.organization (
    id uuid DEFAULT gen_random_uuid() PRIMARY KEY,
    name text NOT NULL,
    slug text NOT NULL UNIQUE,
    logo text,
    "createdAt" timestamptz NOT NULL,
    metadata text
);
CREATE TABLE IF NOT EXISTS neon_auth.member (
    id uuid DEFAULT gen_random_uuid() PRIMARY KEY,
    "organizationId" uuid NOT NULL REFERENCES neon_auth.organization (id) ON DELETE CASCADE,
    "userId" uuid NOT NULL REFERENCES neon_auth."user" (id) ON DELETE CASCADE,
    role text NOT NULL,
    "createdAt" timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS neon_auth.invitation (
    id uuid DEFAULT gen_random_uuid() PRIMARY KEY,
    "organizationId" uuid NOT NULL REFERENCES neon_auth.organization (id) ON DELETE CASCADE,
    email text NOT NULL,
    role text,
    status text NOT NULL,
    "expiresAt" timestamptz NOT NULL,
    "createdAt" timestamptz DEFAULT CURRENT_TIMESTAMP NOT NULL,
    "inviterId" uuid NOT NULL REFERENCES neon_auth."user" (id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS neon_auth.project_config (
    id uuid DEFAULT gen_random_uuid() PRIMARY KEY,
    name text NOT NULL,
    endpoint_id text NOT NULL,
    created_at timestamptz DEFAULT CURRENT_TIMESTAMP NOT NULL,
    updated_at timestamptz DEFAULT CURRENT_TIMESTAMP NOT NULL,
    trusted_origins jsonb NOT NULL,
    social_providers jsonb NOT NULL,
    email_provider jsonb,
    email_and_password jsonb,
    allow_localhost boolean NOT NULL,
    plugin_configs jsonb,
    webhook_config jsonb
);
"""

USERS_SYNC = """
CREATE SCHEMA IF NOT EXISTS neon_auth;
CREATE TABLE IF NOT EXISTS neon_auth.users_sync (
    raw_json jsonb NOT NULL,
    id text PRIMARY KEY,
    name text,
    email text,
    created_at timestamptz,
    updated_at timestamptz,
    deleted_at timestamptz
);
"""


def ddl(auth_provider: str) -> str:
    return BETTER_AUTH if auth_provider == "better_auth" else USERS_SYNC


async def provision(conn: psycopg.AsyncConnection[Any], auth_provider: str) -> None:
    async with conn.transaction():
        await conn.execute(ddl(auth_provider).encode())


async def drop(conn: psycopg.AsyncConnection[Any]) -> None:
    """``delete_data: true``: the schema and every user, session and account in it."""
    await conn.execute(b"DROP SCHEMA IF EXISTS neon_auth CASCADE")
