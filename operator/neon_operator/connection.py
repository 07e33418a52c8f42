"""The connection Secret's data: what apps read with ``envFrom``.

Keys are those of Neon's own integrations (Vercel, Netlify …), each optionally prefixed:
``DATABASE_URL`` (pooled, through PgBouncer), ``DATABASE_URL_UNPOOLED``, ``PGHOST`` (pooled
host), ``PGHOST_UNPOOLED``, ``PGPORT``, ``PGUSER``, ``PGPASSWORD``, ``PGDATABASE``.

The host is where Neon's connection parameters say to connect. On Neon it is the compute's
name (``ep-….<region>.aws.neon.tech``): the pooled host puts ``-pooler`` after the endpoint id
(Neon API §1.6) and Neon's proxy learns the endpoint from the name (TLS SNI). A proxy reached by
address instead (``127.0.0.1:<port>``, as neon-emulator's data plane answers) cannot learn it
from the name, so the URLs name the endpoint in the ``options`` parameter, the routing Neon
documents for clients without SNI, and the Secret adds ``PGOPTIONS`` for clients built from
the ``PG*`` variables; such a proxy serves pooled and direct connections at the same address.
A host may carry a port (``host:port``); it then goes to ``PGPORT`` and into both URLs, and
``PGHOST*`` hold the bare host names.

Nothing here logs; :class:`Credentials` hides the password in ``repr``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import urllib.parse
from collections.abc import Mapping
from typing import Final

__all__ = [
    "KEYS",
    "Credentials",
    "fingerprint",
    "password_from",
    "pooler_host",
    "render",
]

KEYS: Final = (
    "DATABASE_URL",
    "DATABASE_URL_UNPOOLED",
    "PGHOST",
    "PGHOST_UNPOOLED",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGDATABASE",
)
OPTIONS_KEY: Final = "PGOPTIONS"
"""Added only when the host does not name the endpoint (see the module docstring)."""
DEFAULT_PORT: Final = 5432
QUERY: Final = "sslmode=require"
"""Neon requires TLS; ``channel_binding`` is left to the client (not every driver has it)."""


@dataclasses.dataclass(frozen=True)
class Credentials:
    """Everything a connection string is made of."""

    host: str
    """The compute's direct host, possibly ``host:port``."""
    endpoint_id: str
    """Id of the compute (``ep-…``), the host's first label."""
    user: str
    database: str
    password: str = dataclasses.field(repr=False)


def pooler_host(host: str, endpoint_id: str) -> str:
    """The PgBouncer host of a compute: ``-pooler`` right after the endpoint id (a host that
    does not name the endpoint is a proxy address serving both)."""
    return host.replace(endpoint_id, f"{endpoint_id}-pooler", 1)


def routes_by_name(host: str, endpoint_id: str) -> bool:
    """Whether the host name tells Neon's proxy which endpoint is meant."""
    return endpoint_id in host


def _split_port(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if sep and host and port.isdigit():
        return host, int(port)
    return address, DEFAULT_PORT


def _url(
    user: str, password: str, host: str, port: int, database: str, endpoint: str | None
) -> str:
    quote = urllib.parse.quote
    address = host if port == DEFAULT_PORT else f"{host}:{port}"
    query = QUERY if endpoint is None else f"{QUERY}&options={quote(f'endpoint={endpoint}')}"
    return (
        f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{address}"
        f"/{quote(database, safe='')}?{query}"
    )


def render(credentials: Credentials, *, key_prefix: str = "") -> dict[str, str]:
    """The Secret's ``stringData``: every key of :data:`KEYS`, prefixed with ``key_prefix``."""
    host, port = _split_port(credentials.host)
    endpoint_id = credentials.endpoint_id
    pooled = pooler_host(host, endpoint_id)
    by_name = routes_by_name(host, endpoint_id)
    direct_option = None if by_name else endpoint_id
    pooled_option = None if by_name else f"{endpoint_id}-pooler"
    user, database, password = credentials.user, credentials.database, credentials.password
    data = {
        "DATABASE_URL": _url(user, password, pooled, port, database, pooled_option),
        "DATABASE_URL_UNPOOLED": _url(user, password, host, port, database, direct_option),
        "PGHOST": pooled,
        "PGHOST_UNPOOLED": host,
        "PGPORT": str(port),
        "PGUSER": user,
        "PGPASSWORD": password,
        "PGDATABASE": database,
    }
    if not by_name:
        data[OPTIONS_KEY] = f"endpoint={endpoint_id}"
    return {key_prefix + key: value for key, value in data.items()}


def password_from(data: Mapping[str, str], *, key_prefix: str = "") -> str | None:
    """The password in a Secret rendered with ``key_prefix``, if it has one."""
    return data.get(key_prefix + "PGPASSWORD") or None


def fingerprint(data: Mapping[str, str]) -> str:
    """A digest of a Secret's data, stored as an annotation on the Secret itself so a resync
    can tell an edited Secret from the one the operator wrote (it reveals nothing the Secret
    does not already hold)."""
    canonical = json.dumps(dict(sorted(data.items())), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
