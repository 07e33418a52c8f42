"""The database advisor reports what the real database holds; shared preload libraries named in
a project's settings are loaded by its computes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

Sql = Callable[[str, str], list[tuple[Any, ...]]]

DDL = """
CREATE TABLE open_notes (id int PRIMARY KEY, body text);
CREATE TABLE guarded (id int PRIMARY KEY, owner text);
ALTER TABLE guarded ENABLE ROW LEVEL SECURITY;
CREATE TABLE forgotten (id int PRIMARY KEY);
CREATE POLICY mine ON forgotten USING (true);
CREATE TABLE events (note_id int REFERENCES open_notes (id));
CREATE SCHEMA private;
CREATE TABLE private.secrets (id int PRIMARY KEY);
"""


def test_the_advisor_reports_the_tables_of_the_real_database(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], sql: Sql
) -> None:
    body = new_project()
    project_id = body["project"]["id"]
    sql(body["connection_uris"][0]["connection_uri"], DDL)

    response = api.get(f"/projects/{project_id}/advisors")

    assert response.status_code == 200, response.text
    found = {(i["name"], i["metadata"]["name"], i["level"]) for i in response.json()["issues"]}
    assert found == {
        ("rls_disabled_in_public", "open_notes", "ERROR"),
        ("rls_disabled_in_public", "events", "ERROR"),
        ("policy_exists_rls_disabled", "forgotten", "ERROR"),
        ("rls_enabled_no_policy", "guarded", "INFO"),
        ("no_primary_key", "events", "INFO"),
        ("unindexed_foreign_keys", "events", "INFO"),
    }
    errors_only = api.get(
        f"/projects/{project_id}/advisors",
        params={"min_severity": "ERROR", "category": "SECURITY", "database_name": "neondb"},
    ).json()["issues"]
    assert {i["level"] for i in errors_only} == {"ERROR"}
    assert len(errors_only) == 3


def test_the_advisor_counts_the_schemas_the_data_api_exposes(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], sql: Sql
) -> None:
    body = new_project()
    project_id, main = body["project"]["id"], body["branch"]["id"]
    sql(body["connection_uris"][0]["connection_uri"], DDL)
    data_api = f"/projects/{project_id}/branches/{main}/data-api/neondb"
    external = {"auth_provider": "external", "jwks_url": "https://auth.example.com/jwks.json"}
    enabled = api.post(data_api, json=external)
    assert enabled.status_code in (200, 201), enabled.text
    api.patch(data_api, json={"settings": {"db_schemas": ["private"]}}).raise_for_status()

    advisors = f"/projects/{project_id}/advisors"
    issues = api.get(advisors, params={"category": "SECURITY"}).json()["issues"]

    assert [(i["name"], i["metadata"]["schema"], i["metadata"]["name"]) for i in issues] == [
        ("rls_disabled_in_public", "private", "secrets")
    ]


def test_a_database_must_be_named_when_the_branch_has_several(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], wait: Any
) -> None:
    body = new_project()
    project_id, main = body["project"]["id"], body["branch"]["id"]
    api.post(
        f"/projects/{project_id}/branches/{main}/databases",
        json={"database": {"name": "shop", "owner_name": "neondb_owner"}},
    ).raise_for_status()
    wait(project_id)

    advisors = f"/projects/{project_id}/advisors"
    response = api.get(advisors)

    assert response.status_code == 400
    assert "database_name is required" in response.json()["message"]
    assert api.get(advisors, params={"database_name": "shop"}).json() == {"issues": []}


def test_an_enabled_preload_library_is_loaded_by_the_compute(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], sql: Sql
) -> None:
    body = new_project(settings={"preload_libraries": {"enabled_libraries": ["auto_explain"]}})
    project_id = body["project"]["id"]
    uri = body["connection_uris"][0]["connection_uri"]

    offered = api.get(f"/projects/{project_id}/available_preload_libraries").json()["libraries"]

    names = {library["library_name"] for library in offered}
    assert {"pg_stat_statements", "auto_explain"} <= names
    # the module's settings exist only once the server has loaded it
    assert sql(uri, "SHOW auto_explain.log_min_duration") == [("-1",)]


def test_a_library_the_computes_cannot_load_is_refused(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], org: str
) -> None:
    project_id = new_project()["project"]["id"]
    wanted = {"preload_libraries": {"enabled_libraries": ["no_such_library"]}}

    updated = api.patch(f"/projects/{project_id}", json={"project": {"settings": wanted}})
    created = api.post("/projects", json={"project": {"org_id": org, "settings": wanted}})

    for response in (updated, created):
        assert response.status_code == 400
        assert "no_such_library cannot be preloaded" in response.json()["message"]
    settings = api.get(f"/projects/{project_id}").json()["project"]["settings"]
    assert "preload_libraries" not in settings
