"""Connection strings built the way Neon's docs and CLI build them connect: the host is
``endpoint.host`` (pooled: ``<endpoint id>-pooler`` in place of the id), with
``sslmode=require&channel_binding=require``. DNS-free recipe: ``PGHOSTADDR=127.0.0.1`` and
``PGPORT=<proxy port>`` in the environment; the proxy routes by the TLS server name and
authenticates with SCRAM-SHA-256-PLUS bound to its own certificate."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

pytestmark = pytest.mark.integration

Sql = Callable[[str, str], list[tuple[Any, ...]]]
STRICT = "sslmode=require&channel_binding=require"


def neon_style(body: dict[str, Any], pooled: bool) -> tuple[str, dict[str, str]]:
    """The string Neon's CLI prints for the project's default endpoint, and the environment of
    the DNS-free recipe."""
    endpoint = body["endpoints"][0]
    params = body["connection_uris"][0]["connection_parameters"]
    host = endpoint["host"]
    if pooled:
        host = host.replace(endpoint["id"], f"{endpoint['id']}-pooler", 1)
    credentials = f"{quote(params['role'], safe='')}:{quote(params['password'], safe='')}"
    uri = f"postgresql://{credentials}@{host}/{params['database']}?{STRICT}"
    _, _, port = params["host"].partition(":")
    return uri, {"PGHOSTADDR": "127.0.0.1", "PGPORT": port}


@pytest.mark.parametrize("pooled", [False, True], ids=["direct", "pooled"])
def test_a_host_named_string_with_channel_binding_required_connects_through_psql(
    new_project: Callable[..., dict[str, Any]], pooled: bool
) -> None:
    uri, recipe = neon_style(new_project(), pooled)

    result = subprocess.run(
        ["psql", uri, "-XAtc", "SELECT current_user || ' ' || current_database()"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **recipe},
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "neondb_owner neondb"


@pytest.mark.parametrize("pooled", [False, True], ids=["direct", "pooled"])
def test_a_host_named_string_with_channel_binding_required_connects_through_psycopg(
    new_project: Callable[..., dict[str, Any]], pooled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri, recipe = neon_style(new_project(), pooled)
    for name, value in recipe.items():
        monkeypatch.setenv(name, value)

    with psycopg.connect(uri) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("neondb_owner",)
        assert conn.pgconn.ssl_in_use


def test_the_uris_the_api_returns_connect_with_channel_binding_required(
    new_project: Callable[..., dict[str, Any]], sql: Sql
) -> None:
    uri = new_project()["connection_uris"][0]["connection_uri"]

    assert sql(f"{uri}&channel_binding=require", "SELECT 1") == [(1,)]


def test_a_wrong_password_is_refused_by_the_proxy_as_postgresql_refuses_it(
    new_project: Callable[..., dict[str, Any]],
) -> None:
    uri, recipe = neon_style(new_project(), pooled=False)
    wrong = uri.replace(":npg_", ":npg_x", 1)

    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(wrong, hostaddr=recipe["PGHOSTADDR"], port=recipe["PGPORT"])

    assert 'password authentication failed for user "neondb_owner"' in str(refused.value)


def test_a_role_made_with_sql_logs_in_through_the_proxy_with_its_sql_password(
    new_project: Callable[..., dict[str, Any]], sql: Sql
) -> None:
    body = new_project()
    uri = body["connection_uris"][0]["connection_uri"]
    sql(uri, "CREATE ROLE reporter LOGIN PASSWORD 'reporter-secret-1'")
    reporter = uri.replace(uri.split("//", 1)[1].split("@", 1)[0], "reporter:reporter-secret-1", 1)

    assert sql(f"{reporter}&channel_binding=require", "SELECT current_user") == [("reporter",)]
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        sql(reporter.replace("secret-1", "secret-2"), "SELECT 1")
