"""How the data plane runs: the ``neon-emulator serve --postgres-*`` flags."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class PlaneSettings:
    root: Path
    """Where clusters live: ``<state dir>/postgres``."""

    listen_host: str = "127.0.0.1"
    """Address the proxy listens on."""

    port: int = 0
    """Proxy port; 0 reuses the port of the previous run (URIs already handed out stay valid)
    or picks a free one."""

    advertised_host: str | None = None
    """Host put into connection URIs (default: ``listen_host``)."""

    host_domain: str = "neon.tech"
    cold_start_delay: float = 0.3
    """Seconds a connection to a suspended endpoint waits before the compute is up."""

    default_suspend_seconds: float = 300.0
    """What ``suspend_timeout_seconds: 0`` means."""

    check_interval: float = 1.0
    """How often idleness and consumption are checked."""
