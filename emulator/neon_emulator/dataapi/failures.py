"""PostgREST's errors: ``{"code", "details", "hint", "message"}`` with PostgREST's statuses.

Errors raised by PostgreSQL carry their SQLSTATE as ``code`` and get PostgREST's status for it
(``42501`` insufficient privilege: 403 with a token, 401 without; ``42P01``/``42883``: 404;
``23505``/``23503``: 409; ``P0001``: 400; ``08*``/``53*``: 503; ``54*``: 413; ``25006``: 405; the
rest of the server-side classes: 500; anything else: 400). PostgREST's own errors use ``PGRST``
codes: ``PGRST100`` bad query string, ``PGRST106`` schema not exposed, ``PGRST116`` not one row
for ``vnd.pgrst.object``, ``PGRST126`` root metadata off, ``PGRST205`` unknown table,
``PGRST301``/``PGRST303`` bad or expired JWT (401, with ``WWW-Authenticate``).
"""

from __future__ import annotations

from typing import Any

import psycopg
from aiohttp import web


class Failure(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: str | None = None,
        hint: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details, self.hint, self.headers = details, hint, headers or {}

    def response(self) -> web.Response:
        body: dict[str, Any] = {
            "code": self.code,
            "details": self.details,
            "hint": self.hint,
            "message": self.message,
        }
        return web.json_response(body, status=self.status, headers=self.headers)


def bad_query(message: str, details: str | None = None) -> Failure:
    return Failure(400, "PGRST100", message, details=details)


def invalid_token(message: str, code: str = "PGRST301") -> Failure:
    description = message.replace('"', "'")
    return Failure(
        401,
        code,
        message,
        headers={
            "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{description}"'
        },
    )


_PREFIX_STATUS = {
    "08": 503, "09": 500, "0L": 403, "0P": 403, "25": 500, "28": 403, "2D": 500, "38": 500,
    "39": 500, "3B": 500, "40": 500, "53": 503, "54": 413, "55": 500, "57": 500, "58": 500,
    "F0": 500, "HV": 500, "P0": 500, "XX": 500,
}  # fmt: skip
_EXACT_STATUS = {
    "23503": 409, "23505": 409, "25006": 405, "42883": 404, "42P01": 404, "42P17": 500,
    "P0001": 400,
}  # fmt: skip


def status_for(sqlstate: str, *, authenticated: bool) -> int:
    if sqlstate == "42501":
        return 403 if authenticated else 401
    if sqlstate in _EXACT_STATUS:
        return _EXACT_STATUS[sqlstate]
    return _PREFIX_STATUS.get(sqlstate[:2], 400)


def from_database(exc: psycopg.Error, *, authenticated: bool) -> Failure:
    diag = exc.diag
    sqlstate = diag.sqlstate or "XX000"
    return Failure(
        status_for(sqlstate, authenticated=authenticated),
        sqlstate,
        diag.message_primary or type(exc).__name__,
        details=diag.message_detail,
        hint=diag.message_hint,
    )
