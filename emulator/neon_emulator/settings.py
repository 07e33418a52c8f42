"""Knobs of a running emulator.

Static settings are fixed at start; :class:`Knobs` may change at runtime through the admin API
(``/admin/...``), so every reader fetches the current value instead of caching it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Faults:
    """Injected misbehaviour, for testing clients' retry logic."""

    error_5xx_probability: float = 0.0
    """Chance that an ``/api/v2`` request fails with 503 before it is handled."""

    latency_seconds: float = 0.0
    """Delay added to every ``/api/v2`` request before it is handled."""

    locked_probability: float = 0.0
    """Chance that a mutating project request gets 423 Locked although nothing runs."""

    echo_body_probability: float = 0.0
    """Chance that a mutating request with a body gets 400 quoting the body, as Neon's schema
    validation quotes the value it refused."""


@dataclass
class RateLimits:
    """Neon's documented budget: 700 requests/minute per key, bursts of 40/s per route."""

    per_minute: int = 700
    """Requests per minute per API key; 0 disables the limit."""

    burst_per_second: int = 40
    """Requests per second per API key and route; 0 disables the limit."""


@dataclass
class Knobs:
    """Runtime-adjustable behaviour."""

    operation_latency: float = 0.5
    """Seconds for the operations of one mutation to go from ``scheduling`` to ``finished``."""

    faults: Faults = field(default_factory=Faults)
    rate_limits: RateLimits = field(default_factory=RateLimits)


@dataclass(frozen=True)
class Settings:
    """Settings fixed for the life of the process."""

    state_dir: Path
    """Where ``state.sqlite3`` and ``bootstrap.json`` live."""

    host: str = "127.0.0.1"
    port: int = 0
    """0 picks a free port; the real one is written to ``bootstrap.json``."""

    host_domain: str = "neon.tech"
    """Suffix of compute hosts: ``<ep-id>.<region>.<platform>.<host_domain>``."""

    postgres_port: int | None = None
    """When set, connection URIs carry ``host:port`` (for a local data plane)."""

    api_prefix: str = "/api/v2"
    default_region: str = "aws-us-east-2"
