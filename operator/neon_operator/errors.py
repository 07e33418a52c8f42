"""Why a reconciliation stopped short of converging, as the handlers need to know it.

::

    ReconcileError         the reconcile stopped; the resource's status already says why
    ├── RetryLater         something outside the spec must change or finish first (a missing
    │                      NeonConfig or API key Secret, Neon busy or unreachable): try again
    │                      after ``delay`` seconds
    │   └── Raced          the body in hand is stale: another writer (this operator's earlier
    │                      run, another instance) changed the resource first; nothing is
    │                      wrong and nothing is reported, decide again on a fresh read
    └── AwaitChange        only a change of the resource can help (Neon rejected the spec, the
                           spec contradicts its NeonConfig): no retry until the spec changes,
                           apart from the slow periodic resync

Reconcilers raise these (never kopf's exceptions) after writing a ``Ready=False`` status (all but
:class:`Raced`, whose winner's status stands), and
let :class:`neon_operator.neon.TransientError` pass through untouched. The handlers translate all
of them onto kopf in exactly one place, :mod:`neon_operator.handlers.outcomes`.

Messages are shown to people (conditions, events, logs): they never carry a password, a
connection URI or the API key.
"""

from __future__ import annotations

__all__ = ["AwaitChange", "Raced", "ReconcileError", "RetryLater"]


class ReconcileError(Exception):
    """The reconcile stopped; ``reason`` is the CamelCase condition reason already written."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class RetryLater(ReconcileError):
    """Try again in ``delay`` seconds; nothing in the resource itself is wrong."""

    def __init__(self, reason: str, message: str, *, delay: float) -> None:
        super().__init__(reason, message)
        self.delay = delay


class Raced(RetryLater):
    """The resource changed under this reconcile (see the module docstring); its status, written
    by whoever won, is left as it is. A stale run must never report over a newer one: a kopf
    re-run of a create with an old body once wrote ``Ready=False`` over a Ready resource and,
    its retry lost under load, left it so."""


class AwaitChange(ReconcileError):
    """Retrying the same spec will fail the same way; wait for the resource to change."""
