"""Cursor pagination as Neon's newer lists do it: sort by a field, cut after an opaque cursor.

The cursor is the sort value and id of the last item of the previous page (base64 JSON), so a
page boundary stays put when items are added or removed elsewhere. A cursor that does not decode
is a 400 that names it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any, TypeVar

from neon_emulator import errors

T = TypeVar("T")


def _encode(value: str, item_id: str) -> str:
    token = json.dumps({"sort_by_value": value, "id": item_id})
    return base64.urlsafe_b64encode(token.encode()).decode()


def _decode(cursor: str) -> tuple[str, str]:
    try:
        token = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return str(token["sort_by_value"]), str(token["id"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise errors.BadRequest(f"invalid cursor {cursor!r}") from None


def page(
    items: list[T],
    sort_key: Callable[[T], tuple[str, str]],
    *,
    descending: bool,
    cursor: str | None,
    limit: int | None,
    sort_by: str,
) -> tuple[list[T], dict[str, Any] | None]:
    """One page of ``items`` sorted by ``sort_key`` (value, id), and its ``pagination`` object
    (``None`` when nothing follows)."""
    ordered = sorted(items, key=sort_key, reverse=descending)
    if cursor is not None:
        anchor = _decode(cursor)
        ordered = [
            i for i in ordered if (sort_key(i) < anchor if descending else sort_key(i) > anchor)
        ]
    if limit is None or len(ordered) <= limit:
        return ordered, None
    shown = ordered[:limit]
    value, last_id = sort_key(shown[-1])
    return shown, {
        "next": _encode(value, last_id),
        "sort_by": sort_by,
        "sort_order": "DESC" if descending else "ASC",
    }
