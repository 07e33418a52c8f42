"""Time as Neon writes it: RFC 3339, UTC, second precision, ``Z`` suffix."""

from __future__ import annotations

from datetime import UTC, datetime

ZERO_TIME = "0001-01-01T00:00:00Z"
"""What Neon reports for unset period fields (e.g. ``consumption_period_*`` on create)."""


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_iso() -> str:
    return iso(now())


def parse(value: str) -> datetime:
    """Parse an RFC 3339 timestamp; raises ``ValueError`` on anything else."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no time zone")
    return moment.astimezone(UTC)
