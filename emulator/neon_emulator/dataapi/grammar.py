"""PostgREST's query string, the subset the emulator serves.

* ``select=a,alias:b,c::text`` (``*`` by default); embedded resources (``rel(...)``) and JSON paths
  are refused with ``PGRST100``;
* filters ``column=[not.]op.value`` with ``eq neq gt gte lt lte like ilike in is`` (``like``'s ``*``
  is ``%``; ``in.(a,b,"c,d")``; ``is.null|true|false|unknown``); several on one column all apply;
* ``order=a,b.desc,c.asc.nullslast``; ``limit``, ``offset``;
* for writes: ``columns=a,b`` (insert) -- ``on_conflict``/upserts are not served.

Anything else (``or=``, ``and=``, unknown operators) is a ``PGRST100`` naming the parameter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from neon_emulator.dataapi.failures import bad_query

OPERATORS = {
    "eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=",
    "like": "LIKE", "ilike": "ILIKE", "in": "IN", "is": "IS",
}  # fmt: skip
IS_VALUES = {"null": "NULL", "true": "TRUE", "false": "FALSE", "unknown": "UNKNOWN"}
RESERVED = frozenset({"select", "order", "limit", "offset", "columns", "on_conflict"})
IDENTIFIER = re.compile(r'^(?:"(?:[^"]|"")+"|[^\s"(),:.*]+)$')


@dataclass(frozen=True)
class Column:
    name: str
    alias: str | None = None
    cast: str | None = None


@dataclass(frozen=True)
class Filter:
    column: str
    operator: str
    value: str | list[str]
    negated: bool = False


@dataclass(frozen=True)
class Order:
    column: str
    descending: bool = False
    nulls: str | None = None


@dataclass
class Query:
    columns: list[Column] | None = None
    """``None``: every column (``*``)."""
    filters: list[Filter] = field(default_factory=list)
    order: list[Order] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0
    insert_columns: list[str] | None = None


def split_top(text: str) -> list[str]:
    """Split on commas outside quotes and parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth, quoted = 0, False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        if char == "," and depth == 0 and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def identifier(text: str, parameter: str) -> str:
    if not IDENTIFIER.match(text):
        raise bad_query(f'"failed to parse {parameter} parameter ({text})"')
    if text.startswith('"'):
        return text[1:-1].replace('""', '"')
    return text


def _column(item: str) -> Column:
    if "(" in item or "->" in item:
        raise bad_query(
            f'"failed to parse select parameter ({item})"',
            "embedded resources and JSON paths are not served by neon-emulator",
        )
    item, _, cast = item.partition("::")
    alias, _, name = item.rpartition(":")
    return Column(
        name=identifier(name, "select"),
        alias=identifier(alias, "select") if alias else None,
        cast=identifier(cast, "select") if cast else None,
    )


def _select(text: str) -> list[Column] | None:
    items = split_top(text)
    if items == ["*"]:
        return None
    if "*" in items:
        raise bad_query(f'"failed to parse select parameter ({text})"', "use * alone or columns")
    return [_column(item) for item in items]


def _filter(column: str, text: str) -> Filter:
    negated = text.startswith("not.")
    if negated:
        text = text[4:]
    name, dot, value = text.partition(".")
    if not dot or name not in OPERATORS:
        raise bad_query(f'"failed to parse filter ({text})" (line 1, column 1)')
    if name == "in":
        if not (value.startswith("(") and value.endswith(")")):
            raise bad_query(f'"failed to parse filter (in.{value})"')
        items = [
            v[1:-1].replace('\\"', '"') if v.startswith('"') and v.endswith('"') else v
            for v in split_top(value[1:-1])
        ]
        return Filter(column, name, items, negated)
    if name == "is" and value.lower() not in IS_VALUES:
        raise bad_query(f'"failed to parse filter (is.{value})"')
    if name in ("like", "ilike"):
        value = value.replace("*", "%")
    return Filter(column, name, value, negated)


def _order(text: str) -> list[Order]:
    result = []
    for item in split_top(text):
        parts = item.split(".")
        descending, nulls = False, None
        for modifier in parts[1:]:
            if modifier in ("asc", "desc"):
                descending = modifier == "desc"
            elif modifier in ("nullsfirst", "nullslast"):
                nulls = "FIRST" if modifier == "nullsfirst" else "LAST"
            else:
                raise bad_query(f'"failed to parse order ({text})"')
        result.append(Order(identifier(parts[0], "order"), descending, nulls))
    return result


def _integer(value: str, name: str) -> int:
    if not value.isdigit():
        raise bad_query(f'"failed to parse {name} parameter ({value})"')
    return int(value)


def parse(items: Iterable[tuple[str, str]]) -> Query:
    query = Query()
    for key, value in items:
        if key == "select":
            query.columns = _select(value)
        elif key == "order":
            query.order = _order(value)
        elif key == "limit":
            query.limit = _integer(value, "limit")
        elif key == "offset":
            query.offset = _integer(value, "offset")
        elif key == "columns":
            query.insert_columns = [identifier(c, "columns") for c in split_top(value)]
        elif key == "on_conflict":
            raise bad_query("upserts (on_conflict) are not served by neon-emulator")
        elif key in ("or", "and", "not.or", "not.and"):
            raise bad_query(f'"failed to parse logic tree ({value})"', f"{key}= is not served")
        else:
            query.filters.append(_filter(identifier(key, "filter"), value))
    return query
