"""Compute host names and connection URIs, shaped like Neon's.

An endpoint's host is ``<ep-id>.<region>.<platform>.<host_domain>`` (``ep-round-unit-a5bn7qv4
.us-east-2.aws.neon.tech``); the pooler host inserts ``-pooler`` after the endpoint id. Clients
derive one from the other by string replacement, so the endpoint id must appear verbatim and the
URI must contain the host verbatim.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from neon_emulator import records
from neon_emulator.dataplane import DataPlane
from neon_emulator.settings import Settings


def split_region(region_id: str) -> tuple[str, str]:
    """``aws-us-east-2`` → (``aws``, ``us-east-2``)."""
    platform, _, region = region_id.partition("-")
    return platform, region


def proxy_host(region_id: str, domain: str) -> str:
    platform, region = split_region(region_id)
    return f"{region}.{platform}.{domain}"


def endpoint_host(endpoint_id: str, region_id: str, domain: str) -> str:
    return f"{endpoint_id}.{proxy_host(region_id, domain)}"


def pooler_host(host: str, endpoint_id: str) -> str:
    return host.replace(endpoint_id, f"{endpoint_id}-pooler", 1)


class Addresses:
    """Where clients connect: Neon-like names, or whatever the data plane says; and the HTTP
    services the emulator itself serves for a branch (Neon Auth, the Data API)."""

    def __init__(self, settings: Settings, dataplane: DataPlane) -> None:
        self._settings = settings
        self._dataplane = dataplane
        host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        self._origin = f"http://{host}:{settings.port}"

    def serve_at(self, origin: str) -> None:
        """The emulator's own HTTP origin (``http://127.0.0.1:<port>``), once the socket is
        bound: the Neon Auth and Data API URLs it hands out live there."""
        self._origin = origin.rstrip("/")

    @property
    def origin(self) -> str:
        return self._origin

    def neon_auth_base_url(self, label: str, database: str) -> str:
        """Neon: ``https://<ep-id>.neonauth.<region>.aws.neon.tech/<db>/auth``; here the same
        parts under a path of the emulator's origin, so the URL works with no DNS."""
        return f"{self._origin}/neonauth/{label}/{quote(database, safe='')}/auth"

    def data_api_url(self, label: str, database: str) -> str:
        """Neon: ``https://<ep-id>.apirest.<region>.aws.neon.tech/<db>/rest/v1``; here the same
        parts under a path of the emulator's origin."""
        return f"{self._origin}/apirest/{label}/{quote(database, safe='')}/rest/v1"

    def host(self, endpoint: records.Endpoint) -> str:
        return endpoint_host(endpoint.id, endpoint.region_id, self._settings.host_domain)

    def proxy_host(self, region_id: str) -> str:
        return proxy_host(region_id, self._settings.host_domain)

    def address(self, endpoint: records.Endpoint, pooled: bool) -> str:
        host = self.host(endpoint)
        if pooled:
            host = pooler_host(host, endpoint.id)
        host, port = self._dataplane.address(endpoint, host, pooled)
        port = port if port is not None else self._settings.postgres_port
        return host if port is None else f"{host}:{port}"

    def uri(
        self, endpoint: records.Endpoint, role: str, password: str, database: str, pooled: bool
    ) -> str:
        address = self.address(endpoint, pooled)
        credentials = f"{quote(role, safe='')}:{quote(password, safe='')}"
        extra = self._dataplane.uri_parameters(endpoint, pooled)
        query = urlencode({"sslmode": "require", **extra})
        return f"postgresql://{credentials}@{address}/{quote(database, safe='')}?{query}"
