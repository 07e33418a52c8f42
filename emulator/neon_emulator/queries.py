"""Query-string parameters the way Neon's clients send them.

Booleans arrive as ``true``/``false`` (JS) or ``True``/``False`` (Python ``requests``); arrays as
``a,b`` or repeated ``x=a&x=b``. A bad value is a 400 that names the parameter.
"""

from __future__ import annotations

from collections.abc import Mapping

from multidict import MultiMapping

from neon_emulator import errors


def _message(name: str, problem: str) -> str:
    return f"invalid request: decode params: query: {name!r}: {problem}"


def boolean(query: Mapping[str, str], name: str, default: bool = False) -> bool:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.lower()
    if lowered in {"true", "1"}:
        return True
    if lowered in {"false", "0"}:
        return False
    raise errors.BadRequest(_message(name, f"invalid boolean {raw!r}"))


def integer(query: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise errors.BadRequest(_message(name, f"invalid integer {raw!r}")) from None
    if value < minimum:
        raise errors.BadRequest(_message(name, f"value {value} is less than minimum {minimum}"))
    if value > maximum:
        raise errors.BadRequest(_message(name, f"value {value} is greater than maximum {maximum}"))
    return value


def choice(query: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    if raw not in allowed:
        raise errors.BadRequest(_message(name, f"value {raw!r} is not one of {', '.join(allowed)}"))
    return raw


def text(query: Mapping[str, str], name: str) -> str | None:
    raw = query.get(name)
    return raw if raw else None


def required(query: Mapping[str, str], name: str) -> str:
    raw = query.get(name)
    if not raw:
        raise errors.BadRequest(_message(name, "field required"))
    return raw


def strings(query: MultiMapping[str], name: str) -> list[str]:
    values: list[str] = []
    for raw in query.getall(name, []):
        values.extend(part for part in str(raw).split(",") if part)
    return values
