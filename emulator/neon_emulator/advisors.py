"""The database advisor (``GET /projects/{id}/advisors``): checks run on the real database.

Neon's advisor runs lint queries (Supabase's ``splinter``) against a branch database and reports
what it finds; the emulator runs the same kinds of checks with its own queries, on the database
behind the branch (through :mod:`neon_emulator.branch_sql`, so the compute wakes like for any
client). Tables are "exposed" when they sit in a schema the Data API serves (its ``db_schemas``
setting; ``public`` when the Data API is not enabled on the database).

=============================  =======  ========  ===========
check                          level    facing    category
=============================  =======  ========  ===========
``rls_disabled_in_public``     ERROR    EXTERNAL  SECURITY
``policy_exists_rls_disabled`` ERROR    EXTERNAL  SECURITY
``rls_enabled_no_policy``      INFO     EXTERNAL  SECURITY
``no_primary_key``             INFO     INTERNAL  PERFORMANCE
``unindexed_foreign_keys``     INFO     INTERNAL  PERFORMANCE
=============================  =======  ========  ===========
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from neon_emulator import branch_sql, records
from neon_emulator.context import Context

Level = Literal["INFO", "WARN", "ERROR"]
Category = Literal["SECURITY", "PERFORMANCE"]

LEVELS: tuple[Level, ...] = ("INFO", "WARN", "ERROR")
REMEDIATION = "https://neon.com/docs/data-api/database-advisor"

_TABLES = """
SELECT n.nspname, c.relname, c.relrowsecurity,
       EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid),
       EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
ORDER BY n.nspname, c.relname
"""
_UNINDEXED_FOREIGN_KEYS = """
SELECT n.nspname, c.relname, k.conname
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE k.contype = 'f'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND NOT EXISTS (
    SELECT 1 FROM pg_index i
    WHERE i.indrelid = k.conrelid
      AND (i.indkey::int2[])[0:cardinality(k.conkey) - 1] @> k.conkey
      AND (i.indkey::int2[])[0:cardinality(k.conkey) - 1] <@ k.conkey
  )
ORDER BY n.nspname, c.relname, k.conname
"""


@dataclass(frozen=True)
class Check:
    name: str
    title: str
    level: Level
    facing: Literal["EXTERNAL", "INTERNAL"]
    category: Category
    description: str

    def issue(self, detail: str, **metadata: Any) -> dict[str, Any]:
        key = "_".join([self.name, *(str(v) for v in metadata.values())])
        return {
            "name": self.name,
            "title": self.title,
            "level": self.level,
            "facing": self.facing,
            "categories": [self.category],
            "description": self.description,
            "detail": detail,
            "remediation": f"{REMEDIATION}#{self.name}",
            "metadata": metadata,
            "cache_key": key,
        }


RLS_DISABLED = Check(
    "rls_disabled_in_public",
    "RLS Disabled in Public",
    "ERROR",
    "EXTERNAL",
    "SECURITY",
    "Detects tables in a schema the Data API exposes that do not have row level security on.",
)
POLICY_WITHOUT_RLS = Check(
    "policy_exists_rls_disabled",
    "Policy Exists RLS Disabled",
    "ERROR",
    "EXTERNAL",
    "SECURITY",
    "Detects tables with row level security policies while row level security is off, so "
    "the policies do nothing.",
)
RLS_WITHOUT_POLICY = Check(
    "rls_enabled_no_policy",
    "RLS Enabled No Policy",
    "INFO",
    "EXTERNAL",
    "SECURITY",
    "Detects tables with row level security on and no policy: nobody but the owner sees a row.",
)
NO_PRIMARY_KEY = Check(
    "no_primary_key",
    "No Primary Key",
    "INFO",
    "INTERNAL",
    "PERFORMANCE",
    "Detects tables without a primary key, which are slow and ambiguous to update at scale.",
)
UNINDEXED_FOREIGN_KEY = Check(
    "unindexed_foreign_keys",
    "Unindexed foreign keys",
    "INFO",
    "INTERNAL",
    "PERFORMANCE",
    "Detects foreign keys without an index on their columns, which slows joins and deletes "
    "on the referenced table.",
)


def exposed_schemas(ctx: Context, branch: records.Branch, database_name: str) -> list[str]:
    """The schemas the Data API serves for the database (``public`` when it is not enabled)."""
    data_api = ctx.store.data_apis.get(f"{branch.id}/{database_name}")
    configured = data_api.settings.get("db_schemas") if data_api is not None else None
    return [str(s) for s in configured or ["public"]]


async def issues(
    ctx: Context,
    branch: records.Branch,
    database_name: str,
    *,
    category: Category | None = None,
    min_severity: Level = "INFO",
) -> list[dict[str, Any]]:
    """Every issue the checks find in the database, most severe first; raises
    :class:`branch_sql.NoDatabase` when it cannot be read."""
    exposed = set(exposed_schemas(ctx, branch, database_name))
    found: list[dict[str, Any]] = []
    async with branch_sql.connect(ctx, branch, database_name) as conn:
        tables = await (await conn.execute(_TABLES)).fetchall()
        foreign_keys = await (await conn.execute(_UNINDEXED_FOREIGN_KEYS)).fetchall()
    for schema, table, rls, has_policy, has_primary_key in tables:
        name = f"`{schema}.{table}`"
        where = {"schema": schema, "name": table, "type": "table"}
        if schema in exposed and not rls and has_policy:
            found.append(
                POLICY_WITHOUT_RLS.issue(
                    f"Table {name} has policies, but RLS has not been enabled.", **where
                )
            )
        elif schema in exposed and not rls:
            found.append(
                RLS_DISABLED.issue(
                    f"Table {name} is public, but RLS has not been enabled.", **where
                )
            )
        if schema in exposed and rls and not has_policy:
            found.append(
                RLS_WITHOUT_POLICY.issue(
                    f"Table {name} has RLS enabled, but no policies exist.", **where
                )
            )
        if not has_primary_key:
            found.append(
                NO_PRIMARY_KEY.issue(f"Table {name} does not have a primary key.", **where)
            )
    for schema, table, constraint in foreign_keys:
        found.append(
            UNINDEXED_FOREIGN_KEY.issue(
                f"Table `{schema}.{table}` has a foreign key `{constraint}` without a covering "
                "index.",
                schema=schema,
                name=table,
                type="table",
                fkey_name=constraint,
            )
        )

    def wanted(issue: dict[str, Any]) -> bool:
        return LEVELS.index(issue["level"]) >= LEVELS.index(min_severity) and (
            category is None or category in issue["categories"]
        )

    return sorted(
        (issue for issue in found if wanted(issue)), key=lambda i: -LEVELS.index(i["level"])
    )
