"""A branch's schema as SQL and JSON, and the diff between two branches, read from the real
databases at their heads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

Sql = Callable[[str, str], list[tuple[Any, ...]]]

DDL = """
CREATE TABLE authors (id int PRIMARY KEY, email text NOT NULL UNIQUE);
CREATE TABLE books (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    author_id int REFERENCES authors (id),
    title text,
    slug text GENERATED ALWAYS AS (lower(title)) STORED
);
"""


def test_schema_diff_and_json_come_from_the_branch_databases(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], wait: Any, sql: Sql
) -> None:
    body = new_project()
    project_id, main = body["project"]["id"], body["branch"]["id"]
    sql(body["connection_uris"][0]["connection_uri"], DDL)
    child = api.post(
        f"/projects/{project_id}/branches",
        json={"branch": {"name": "dev"}, "endpoints": [{"type": "read_write"}]},
    ).json()
    wait(project_id)
    sql(child["connection_uris"][0]["connection_uri"], "ALTER TABLE books ADD COLUMN pages int")
    dev = child["branch"]["id"]

    dumped = api.get(f"/projects/{project_id}/branches/{main}/schema", params={"db_name": "neondb"})
    assert dumped.status_code == 200, dumped.text
    assert "CREATE TABLE public.books" in dumped.json()["sql"]
    assert "pages" not in dumped.json()["sql"]

    shaped = api.get(
        f"/projects/{project_id}/branches/{dev}/schema",
        params={"db_name": "neondb", "format": "json"},
    ).json()["json"]
    books = next(t for t in shaped["tables"] if t["name"] == "books")
    assert books["schema"] == "public"
    assert [(c["name"], c["type"], c["nullable"], c["generated"]) for c in books["columns"]] == [
        ("id", "bigint", False, False),
        ("author_id", "integer", True, False),
        ("title", "text", True, False),
        ("slug", "text", True, True),
        ("pages", "integer", True, False),
    ]
    foreign = next(c for c in books["constraints"] if c["type"] == "foreign_key")
    assert (foreign["columns"], foreign["referenced_table"]) == (
        ["author_id"],
        {"schema": "public", "table": "authors", "columns": ["id"]},
    )

    compared = api.get(
        f"/projects/{project_id}/branches/{dev}/compare_schema", params={"db_name": "neondb"}
    ).json()["diff"]
    added = [line for line in compared.splitlines() if line.startswith("+") and "+++" not in line]
    removed = [line for line in compared.splitlines() if line.startswith("-") and "---" not in line]
    assert any("pages integer" in line for line in added), compared
    assert all("pages" not in line for line in removed)
    same = api.get(
        f"/projects/{project_id}/branches/{main}/compare_schema",
        params={"db_name": "neondb", "base_branch_id": main},
    ).json()
    assert same == {"diff": ""}


def test_a_schema_at_an_earlier_point_is_refused_with_the_way_round(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]]
) -> None:
    body = new_project()
    branch = f"/projects/{body['project']['id']}/branches/{body['branch']['id']}"
    response = api.get(f"{branch}/schema", params={"db_name": "neondb", "lsn": "0/1000000"})
    assert response.status_code == 400
    assert response.json()["message"].startswith("lsn: the emulator reads schemas at")
    root = api.get(f"{branch}/compare_schema", params={"db_name": "neondb"})
    assert root.status_code == 400
    assert "base_branch_id is required" in root.json()["message"]
