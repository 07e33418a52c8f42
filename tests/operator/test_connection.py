"""The connection Secret's data, as apps read it."""

from __future__ import annotations

import pytest

from neon_operator import connection
from neon_operator.kube import ObjectRef, SecretState
from neon_operator.reconcilers import connection_secret

pytestmark = pytest.mark.unit

CREDS = connection.Credentials(
    host="ep-round-unit-a5bn7qv4.us-east-2.aws.neon.tech",
    endpoint_id="ep-round-unit-a5bn7qv4",
    user="neondb_owner",
    database="neondb",
    password="npg_p@ss/word",
)


def test_rendered_secret_has_neons_integration_keys_with_a_pooled_database_url() -> None:
    data = connection.render(CREDS)

    assert set(data) == set(connection.KEYS)
    assert data["PGHOST"] == "ep-round-unit-a5bn7qv4-pooler.us-east-2.aws.neon.tech"
    assert data["PGHOST_UNPOOLED"] == CREDS.host
    assert data["DATABASE_URL"] == (
        "postgresql://neondb_owner:npg_p%40ss%2Fword@"
        "ep-round-unit-a5bn7qv4-pooler.us-east-2.aws.neon.tech/neondb?sslmode=require"
    )
    assert data["DATABASE_URL_UNPOOLED"].startswith(
        "postgresql://neondb_owner:npg_p%40ss%2Fword@ep-round-unit-a5bn7qv4.us-east-2"
    )
    assert (data["PGPORT"], data["PGUSER"], data["PGPASSWORD"], data["PGDATABASE"]) == (
        "5432",
        "neondb_owner",
        "npg_p@ss/word",
        "neondb",
    )


def test_a_host_with_a_port_puts_the_port_in_pgport_and_both_urls() -> None:
    local = connection.Credentials(
        host="ep-x-1.localtest.me:15432", endpoint_id="ep-x-1", user="u", database="d", password="p"
    )

    data = connection.render(local, key_prefix="APP_")

    assert data["APP_PGHOST"] == "ep-x-1-pooler.localtest.me"
    assert data["APP_PGPORT"] == "15432"
    assert "@ep-x-1-pooler.localtest.me:15432/d?" in data["APP_DATABASE_URL"]
    assert "@ep-x-1.localtest.me:15432/d?" in data["APP_DATABASE_URL_UNPOOLED"]


def test_a_proxy_reached_by_address_gets_the_endpoint_in_options_and_pgoptions() -> None:
    proxied = connection.Credentials(
        host="127.0.0.1:40123", endpoint_id="ep-x-1", user="u", database="d", password="p"
    )

    data = connection.render(proxied)

    assert set(data) == {*connection.KEYS, "PGOPTIONS"}
    assert data["PGHOST"] == data["PGHOST_UNPOOLED"] == "127.0.0.1"
    assert data["PGPORT"] == "40123"
    assert data["PGOPTIONS"] == "endpoint=ep-x-1"
    assert data["DATABASE_URL_UNPOOLED"] == (
        "postgresql://u:p@127.0.0.1:40123/d?sslmode=require&options=endpoint%3Dep-x-1"
    )
    assert data["DATABASE_URL"].endswith("&options=endpoint%3Dep-x-1-pooler")


def test_credentials_never_show_the_password_in_repr() -> None:
    assert "npg_" not in repr(CREDS)


def _desired(prefix: str = "") -> connection_secret.Desired:
    owner = ObjectRef(kind="NeonAppDatabase", plural="neonappdatabases", name="app", uid="u-1")
    return connection_secret.Desired(
        namespace="ns",
        name="app-neon",
        owner=owner,
        host=CREDS.host,
        endpoint_id=CREDS.endpoint_id,
        user="neondb_owner",
        database="neondb",
        key_prefix=prefix,
        labels={},
        annotations={},
    )


def test_the_password_of_an_untouched_secret_is_known_without_asking_neon() -> None:
    data, labels, annotations = _desired("APP_").render("secret-1")
    written = SecretState("app-neon", data, labels, annotations, "u-1")

    assert connection_secret.known_password(written) == "secret-1"


def test_an_edited_secret_does_not_vouch_for_its_password() -> None:
    data, labels, annotations = _desired().render("secret-1")
    edited = SecretState("app-neon", {**data, "PGPASSWORD": "guess"}, labels, annotations, "u-1")

    assert connection_secret.known_password(edited) is None
    assert connection_secret.known_password(None) is None
