"""A branch database's schema, read from the real database at the branch's head.

* ``sql``: ``pg_dump --schema-only`` of the database, as Neon returns it (psql's ``\\restrict``
  lines, which carry a random key per dump, are left out so two dumps of one schema are equal);
* ``json``: the tables with their columns and primary-key, unique and foreign-key constraints,
  read from the catalogs;
* a comparison: the unified diff of two ``sql`` dumps.

Everything goes through :mod:`neon_emulator.branch_sql`'s owner URI (the compute wakes like for
any client). Without a data plane there is no schema to read: :class:`branch_sql.NoDatabase`.
"""

from __future__ import annotations

import asyncio
import difflib
import os
from collections import defaultdict
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from neon_emulator import branch_sql, records
from neon_emulator.context import Context

_TABLES = """
SELECT c.oid, n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
ORDER BY n.nspname, c.relname
"""
_COLUMNS = """
SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       a.attgenerated <> ''
FROM pg_attribute a
WHERE a.attrelid = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""
_CONSTRAINTS = """
SELECT con.conrelid, con.conname, con.contype,
       ARRAY(SELECT att.attname FROM unnest(con.conkey) WITH ORDINALITY AS k(num, ord)
             JOIN pg_attribute att ON att.attrelid = con.conrelid AND att.attnum = k.num
             ORDER BY k.ord),
       rn.nspname, rc.relname,
       ARRAY(SELECT att.attname FROM unnest(con.confkey) WITH ORDINALITY AS k(num, ord)
             JOIN pg_attribute att ON att.attrelid = con.confrelid AND att.attnum = k.num
             ORDER BY k.ord)
FROM pg_constraint con
LEFT JOIN pg_class rc ON rc.oid = con.confrelid
LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE con.conrelid = ANY(%s) AND con.contype IN ('p', 'u', 'f')
ORDER BY con.conrelid, con.conname
"""
_KINDS = {"p": "primary_key", "u": "unique", "f": "foreign_key"}


def _pg_dump() -> str:
    from neon_emulator.postgres import binaries

    try:
        found = binaries.find()
        found.require("pg_dump")
    except binaries.MissingBinaries as exc:
        raise branch_sql.NoDatabase(str(exc)) from None
    return found.path("pg_dump")


async def sql(ctx: Context, branch: records.Branch, database_name: str) -> str:
    """``pg_dump --schema-only`` of ``database_name`` on ``branch`` (the password travels in the
    environment, not on the command line)."""
    uri = urlsplit(branch_sql.owner_uri(ctx, branch, database_name))
    password = uri.password or ""
    netloc = uri.netloc.rpartition("@")[2]
    without_password = urlunsplit(uri._replace(netloc=f"{uri.username}@{netloc}"))
    process = await asyncio.create_subprocess_exec(
        _pg_dump(),
        "--schema-only",
        "--no-password",
        "--dbname",
        without_password,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PGPASSWORD": password, "PGCONNECT_TIMEOUT": "30"},
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        reason = lines[-1] if lines else f"pg_dump exited with {process.returncode}"
        raise branch_sql.NoDatabase(f"could not read the schema of branch {branch.id}: {reason}")
    kept = [
        line
        for line in out.decode().splitlines(keepends=True)
        if not line.startswith(("\\restrict ", "\\unrestrict "))
    ]
    return "".join(kept)


async def tables(ctx: Context, branch: records.Branch, database_name: str) -> dict[str, Any]:
    """``BranchSchemaJSON``: every table of the database's own schemas."""
    async with branch_sql.connect(ctx, branch, database_name) as conn:
        found = await (await conn.execute(_TABLES)).fetchall()
        oids = [row[0] for row in found]
        columns: list[Any] = await (await conn.execute(_COLUMNS, (oids,))).fetchall()
        constraints: list[Any] = await (await conn.execute(_CONSTRAINTS, (oids,))).fetchall()
    by_table: dict[object, list[dict[str, Any]]] = defaultdict(list)
    for oid, name, type_name, nullable, generated in columns:
        by_table[oid].append(
            {"name": name, "type": type_name, "nullable": nullable, "generated": generated}
        )
    rules: dict[object, list[dict[str, Any]]] = defaultdict(list)
    for oid, name, kind, keys, ref_schema, ref_table, ref_keys in constraints:
        rule: dict[str, Any] = {"type": _KINDS[str(kind)], "columns": list(keys), "name": name}
        if kind == "f":
            rule["referenced_table"] = {
                "schema": ref_schema,
                "table": ref_table,
                "columns": list(ref_keys),
            }
        rules[oid].append(rule)
    return {
        "tables": [
            {"schema": schema, "name": name, "columns": by_table[oid], "constraints": rules[oid]}
            for oid, schema, name in found
        ]
    }


def diff(base: str, other: str, base_label: str, other_label: str) -> str:
    """Unified diff from ``base`` to ``other`` (empty when the schemas are the same)."""
    return "".join(
        difflib.unified_diff(
            base.splitlines(keepends=True),
            other.splitlines(keepends=True),
            fromfile=base_label,
            tofile=other_label,
        )
    )
