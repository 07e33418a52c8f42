"""Connection strings the API returns connect as they are, to real PostgreSQL, as the roles and
databases the API reports -- and only those."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import psycopg
import pytest

pytestmark = pytest.mark.integration

Sql = Callable[[str, str], list[tuple[Any, ...]]]


def psql(uri: str, query: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["psql", uri, "-XAtc", query], capture_output=True, text=True, timeout=120, check=False
    )


def test_project_connection_uri_works_with_psql_and_psycopg(
    new_project: Callable[..., dict[str, Any]], sql: Sql
) -> None:
    body = new_project()
    uri = body["connection_uris"][0]["connection_uri"]

    result = psql(uri, "SELECT current_user || ' ' || current_database()")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "neondb_owner neondb"
    assert sql(
        uri,
        "SELECT current_user, current_database(), ssl FROM pg_stat_ssl "
        "JOIN pg_stat_activity USING (pid) WHERE pid = pg_backend_pid()",
    ) == [("neondb_owner", "neondb", False)]
    with psycopg.connect(uri) as conn:
        assert conn.pgconn.ssl_in_use, "sslmode=require is honoured by the proxy"


def test_pooled_and_direct_uris_reach_the_same_database(
    api: httpx.Client, new_project: Callable[..., dict[str, Any]], sql: Sql
) -> None:
    body = new_project()
    project_id = body["project"]["id"]
    params = {"database_name": "neondb", "role_name": "neondb_owner"}
    direct = api.get(f"/projects/{project_id}/connection_uri", params=params).json()["uri"]
    pooled = api.get(
        f"/projects/{project_id}/connection_uri", params={**params, "pooled": "true"}
    ).json()["uri"]

    sql(direct, "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('hello')")

    assert sql(pooled, "SELECT body FROM notes") == [("hello",)]
    assert psql(pooled, "SELECT count(*) FROM notes").stdout.strip() == "1"


def test_connection_parameters_connect_with_the_endpoint_option(
    new_project: Callable[..., dict[str, Any]],
) -> None:
    body = new_project()
    params = body["connection_uris"][0]["connection_parameters"]
    endpoint_id = body["endpoints"][0]["id"]
    for host_field in ("host", "pooler_host"):
        host, _, port = params[host_field].partition(":")
        with psycopg.connect(
            host=host,
            port=port,
            user=params["role"],
            password=params["password"],
            dbname=params["database"],
            sslmode="require",
            options=f"endpoint={endpoint_id}",
        ) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (params["role"],)


def test_sni_routes_like_neons_proxy(new_project: Callable[..., dict[str, Any]]) -> None:
    """A Neon-shaped host name reaches its endpoint through SNI (hostaddr avoids DNS)."""
    body = new_project()
    params = body["connection_uris"][0]["connection_parameters"]
    endpoint = body["endpoints"][0]
    address, _, port = params["host"].partition(":")
    conninfo = (
        f"host={endpoint['host']} hostaddr={address} port={port} user={params['role']} "
        f"password={params['password']} dbname={params['database']} sslmode=require"
    )
    result = psql(conninfo, "SELECT current_database()")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "neondb"


def test_roles_and_databases_carry_the_names_the_api_reports(
    api: httpx.Client,
    new_project: Callable[..., dict[str, Any]],
    wait: Callable[[str], None],
    sql: Sql,
) -> None:
    body = new_project(branch={"database_name": "shop", "role_name": "clerk"})
    project_id, branch_id = body["project"]["id"], body["branch"]["id"]
    api.post(
        f"/projects/{project_id}/branches/{branch_id}/roles", json={"role": {"name": "auditor"}}
    ).raise_for_status()
    wait(project_id)
    api.post(
        f"/projects/{project_id}/branches/{branch_id}/databases",
        json={"database": {"name": "ledger", "owner_name": "auditor"}},
    ).raise_for_status()
    wait(project_id)
    uri = api.get(
        f"/projects/{project_id}/connection_uri",
        params={"database_name": "ledger", "role_name": "auditor"},
    ).json()["uri"]

    rows = sql(
        uri,
        "SELECT current_user, current_database(), pg_get_userbyid(datdba) "
        "FROM pg_database WHERE datname = current_database()",
    )
    assert rows == [("auditor", "ledger", "auditor")]
    names = {r[0] for r in sql(uri, "SELECT datname FROM pg_database")}
    assert {"shop", "ledger"} <= names


def test_reset_password_changes_the_login_and_a_deleted_role_cannot_log_in(
    api: httpx.Client,
    new_project: Callable[..., dict[str, Any]],
    wait: Callable[[str], None],
    sql: Sql,
) -> None:
    body = new_project()
    project_id, branch_id = body["project"]["id"], body["branch"]["id"]
    old_uri = body["connection_uris"][0]["connection_uri"]
    sql(old_uri, "SELECT 1")
    roles = f"/projects/{project_id}/branches/{branch_id}/roles"

    reset = api.post(f"{roles}/neondb_owner/reset_password")
    reset.raise_for_status()
    wait(project_id)
    new_password = reset.json()["role"]["password"]
    new_uri = old_uri.replace(body["roles"][0]["password"], quote(new_password, safe=""))

    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        sql(old_uri, "SELECT 1")
    assert sql(new_uri, "SELECT current_user") == [("neondb_owner",)]

    created = api.post(roles, json={"role": {"name": "temp_worker"}})
    wait(project_id)
    worker_uri = new_uri.replace(
        f"neondb_owner:{quote(new_password, safe='')}",
        f"temp_worker:{quote(created.json()['role']['password'], safe='')}",
    )
    assert sql(worker_uri, "SELECT current_user") == [("temp_worker",)]
    api.delete(f"{roles}/temp_worker").raise_for_status()
    wait(project_id)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        sql(worker_uri, "SELECT 1")


def test_a_role_of_one_project_cannot_connect_to_another_project(
    new_project: Callable[..., dict[str, Any]], sql: Sql
) -> None:
    first, second = new_project(), new_project()
    uri = first["connection_uris"][0]["connection_uri"]
    sql(uri, "SELECT 1")
    foreign = uri.replace(first["endpoints"][0]["id"], second["endpoints"][0]["id"])

    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        sql(foreign, "SELECT 1")


def test_unknown_or_unnamed_endpoints_are_refused_with_neons_messages(
    new_project: Callable[..., dict[str, Any]], sql: Sql
) -> None:
    uri = new_project()["connection_uris"][0]["connection_uri"]
    unknown = uri.split("options=")[0] + "options=endpoint%3Dep-no-such-thing-a1b2c3d4"
    unnamed = uri.split("&options=")[0]

    with pytest.raises(psycopg.OperationalError, match="could not be found"):
        sql(unknown, "SELECT 1")
    with pytest.raises(psycopg.OperationalError, match="Endpoint ID is not specified"):
        sql(unnamed, "SELECT 1")


@pytest.mark.parametrize("point", ["neon_timestamp:2025-01-01T00:00:00Z", "neon_lsn:0/1F00000"])
def test_time_travel_options_are_refused_with_the_way_to_get_that_view(
    new_project: Callable[..., dict[str, Any]], sql: Sql, point: str
) -> None:
    uri = new_project()["connection_uris"][0]["connection_uri"]
    asked = uri.replace("options=endpoint%3D", f"options={quote(point, safe='')}%20endpoint%3D")

    with pytest.raises(psycopg.OperationalError) as refused:
        sql(asked, "SELECT 1")

    assert "time-travel connections" in str(refused.value)
    assert "parent_timestamp" in str(refused.value)
