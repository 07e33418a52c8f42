"""What can go wrong when talking to Neon, as three kinds of failure a reconciler acts on.

::

    NeonError                      any failure of a Neon API call (status, request id, route)
    ├── TransientError             retry later; nothing is wrong with the request itself
    │   ├── LockedError            423: a conflicting operation runs; the call was NOT applied
    │   ├── RateLimitedError       429: over the key's budget; ``retry_after`` says how long
    │   ├── ServerError            5xx (503 is always safe to retry)
    │   ├── NetworkError           connect/read failures and timeouts (no HTTP status)
    │   └── OperationTimeout       operations still pending when ``wait_for_operations`` gave up
    ├── PermanentError             retrying the same call will not help; a person must act
    │   ├── AuthenticationError    401: missing or invalid API key
    │   ├── ForbiddenError         403, 412: not permitted for this key, plan or project setting
    │   ├── NotFound               404
    │   ├── Conflict               409
    │   ├── OperationFailed        an operation ended failed / error / cancelled
    │   └── UnexpectedResponse     a success response whose body does not parse
    └── InvalidRequestError        400, 406, 422: Neon rejected the input (its message names
        │                          the field)
        └── OrganizationFull       422 to a create: the organization holds as many projects
                                   as its limit allows (room may appear later)

The reconciler maps this tree onto kopf in one place: ``TransientError`` → ``TemporaryError``
(with ``retry_after`` as the delay when known), ``InvalidRequestError`` → ``Ready=False`` with
``message`` shown to the user, other ``PermanentError`` → ``PermanentError``.

Messages carry the HTTP method, the route *template* (``/projects/{project_id}``), the status,
Neon's own message and its request id: never the API key, a password or a connection URI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from neon_operator.neon.models import Operation

__all__ = [
    "AuthenticationError",
    "Conflict",
    "ForbiddenError",
    "InvalidRequestError",
    "LockedError",
    "NeonError",
    "NetworkError",
    "NotFound",
    "OperationFailed",
    "OperationTimeout",
    "OrganizationFull",
    "PermanentError",
    "RateLimitedError",
    "ServerError",
    "TransientError",
    "UnexpectedResponse",
    "error_for_status",
]


class NeonError(Exception):
    """A failed Neon API call.

    ``message`` is Neon's own text (or ours when Neon sent none); ``str()`` prefixes it with
    where the failure happened so logs read on their own. ``retry_after`` (seconds) is Neon's
    ``Retry-After`` hint when it sent one; only transient errors carry it in practice.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        method: str | None = None,
        route: str | None = None,
        request_id: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.method = method
        self.route = route
        self.request_id = request_id
        self.code = code or None
        self.retry_after = retry_after
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = " ".join(part for part in (self.method, self.route) if part)
        status = f"HTTP {self.status}" if self.status is not None else ""
        head = ": ".join(part for part in (where, status) if part)
        text = f"{head}: {self.message}" if head else self.message
        if self.request_id:
            text += f" (request id {self.request_id})"
        return text


class TransientError(NeonError):
    """Retrying later may succeed. ``retry_after`` (seconds) is Neon's hint when it gave one."""


class LockedError(TransientError):
    """423 Locked: a conflicting operation is running; the request was not applied."""


class RateLimitedError(TransientError):
    """429 Too Many Requests: the API key's budget is spent for now."""


class ServerError(TransientError):
    """5xx from Neon or a proxy in front of it."""


class NetworkError(TransientError):
    """The request failed below HTTP: refused, reset, or timed out."""


class OperationTimeout(TransientError):
    """Operations were still running when the wait's deadline passed; they may yet finish."""

    def __init__(self, pending: list[Operation], timeout: float) -> None:
        self.pending = pending
        summary = ", ".join(f"{op.action} {op.id} ({op.status})" for op in pending)
        super().__init__(f"operations still pending after {timeout:g}s: {summary}")


class PermanentError(NeonError):
    """Retrying the same call will not help until something changes outside the operator."""


class AuthenticationError(PermanentError):
    """401: the API key is missing, malformed or revoked."""


class ForbiddenError(PermanentError):
    """403 (plan or permission) or 412 (e.g. password storage disabled for the project)."""


class NotFound(PermanentError):
    """404: the project, branch, endpoint … does not exist (or is not visible to this key)."""


class Conflict(PermanentError):
    """409: the thing already exists in a way that conflicts with the request."""


class UnexpectedResponse(PermanentError):
    """A success response whose body is not the JSON the contract promises."""


class OperationFailed(PermanentError):
    """An operation ended ``failed``, ``error`` or ``cancelled``."""

    def __init__(self, operation: Operation) -> None:
        self.operation = operation
        detail = f": {operation.error}" if operation.error else ""
        super().__init__(
            f"operation {operation.action} {operation.id} {operation.status}{detail}",
            route="/projects/{project_id}/operations/{operation_id}",
        )


class InvalidRequestError(NeonError):
    """400, 406, 422: Neon judged the input invalid; ``message`` is Neon's and names the field."""


class OrganizationFull(InvalidRequestError):
    """422: the organization already holds as many projects as its limit allows. Nothing is
    wrong with the request: it succeeds once a project leaves the organization or the limit is
    raised (see :mod:`neon_operator.capacity`)."""


_PROJECTS_LIMIT_CODES = ("projects_limit_exceeded",)
_PROJECTS_LIMIT_HINTS = ("projects limit",)
"""How Neon's 422 says an organization is full: its ``code``, or its message (the emulator's
``organization projects limit of N exceeded``)."""

_RETRYABLE_422 = ("not ready yet",)
"""422 messages Neon's own test client treats as transient (``branch not ready yet``)."""


def error_for_status(
    status: int,
    message: str,
    *,
    method: str,
    route: str,
    request_id: str | None = None,
    code: str | None = None,
    retry_after: float | None = None,
) -> NeonError:
    """The exception for an HTTP error response ``status`` (≥ 400) with Neon's ``message``."""
    kind: type[NeonError]
    if status == 423:
        kind = LockedError
    elif status == 429:
        kind = RateLimitedError
    elif status >= 500:
        kind = ServerError
    elif status == 422 and any(hint in message for hint in _RETRYABLE_422):
        kind = TransientError
    elif status == 422 and (
        (code or "").lower() in _PROJECTS_LIMIT_CODES
        or any(hint in message.lower() for hint in _PROJECTS_LIMIT_HINTS)
    ):
        kind = OrganizationFull
    elif status in (400, 406, 422):
        kind = InvalidRequestError
    elif status == 401:
        kind = AuthenticationError
    elif status in (403, 412):
        kind = ForbiddenError
    elif status == 404:
        kind = NotFound
    elif status == 409:
        kind = Conflict
    else:
        kind = PermanentError
    return kind(
        message,
        status=status,
        method=method,
        route=route,
        request_id=request_id,
        code=code,
        retry_after=retry_after,
    )
