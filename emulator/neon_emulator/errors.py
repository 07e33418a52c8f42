"""The failure model of the API, as Neon reports it.

Every error reaches the client as ``GeneralError`` JSON -- ``{"code", "message", "request_id"}``,
``code`` usually ``""`` -- with the HTTP status telling the class of failure::

    ApiError
    ├── BadRequest          400  malformed body, invalid field (the message names the field)
    ├── Unauthorized        401  missing or unknown API key
    ├── Forbidden           403  key may not act on that organization / plan lacks the feature
    ├── NotFound            404  unknown id, or an id in an organization the key cannot see
    ├── NotAcceptable       406  transfer: destination limits unsatisfied (own body shape)
    ├── Conflict            409  already exists
    ├── PreconditionFailed  412  reveal_password with store_passwords disabled
    ├── Unprocessable       422  projects limit, transfer of integrated projects (own body shape)
    ├── Locked              423  conflicting operations are running: not applied, retry
    ├── TooManyRequests     429  over the rate budget; carries Retry-After
    └── Unavailable         503  injected fault; always safe to retry

A few Neon errors use another body (``LimitsUnsatisfiedResponse``,
``ProjectsWithIntegrationResponse``); those pass ``body`` explicitly.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ApiError(Exception):
    status: ClassVar[int] = 500

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        body: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.body = body
        self.retry_after = retry_after

    def payload(self, request_id: str) -> dict[str, Any]:
        if self.body is not None:
            return self.body
        return {"code": self.code, "message": self.message, "request_id": request_id}


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class NotAcceptable(ApiError):
    status = 406


class Conflict(ApiError):
    status = 409


class PreconditionFailed(ApiError):
    status = 412


class Unprocessable(ApiError):
    status = 422


class Locked(ApiError):
    status = 423


class TooManyRequests(ApiError):
    status = 429


class Unavailable(ApiError):
    status = 503


CONFLICTING_OPERATIONS = (
    "project already has running conflicting operations, scheduling of new ones is prohibited"
)
"""Neon's exact 423 message."""
