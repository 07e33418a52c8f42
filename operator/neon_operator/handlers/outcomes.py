"""The one place where reconcile results become retry decisions (and metrics).

==========================================  ===============================================
raised by a reconciler                      kopf sees
==========================================  ===============================================
nothing                                     success
:class:`errors.RetryLater`                  ``TemporaryError(delay=retry_later.delay)``
:class:`errors.AwaitChange`                 ``PermanentError``: no retry until a change
:class:`neon.TransientError`                ``TemporaryError(delay=Retry-After or 10 s)``
anything else                               kopf's default (a bug: logged, retried)
==========================================  ===============================================

Work that kopf does not drive (drift checks, Secret repairs: :mod:`.upkeep`) goes through
:func:`recorded` instead: the same outcomes are counted, nothing is raised, and the next sweep
comes round again.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Final

import kopf

from neon_operator import errors, metrics, neon

__all__ = ["TRANSIENT_DELAY", "recorded", "translated"]

logger = logging.getLogger(__name__)

TRANSIENT_DELAY: Final = 10.0
"""Seconds before retrying after a transient Neon failure that carried no ``Retry-After``."""


def outcome(error: Exception) -> str:
    """The metrics' name of what ``error`` means: retry, await_change, transient or error."""
    if isinstance(error, errors.RetryLater):
        return "retry"
    if isinstance(error, errors.AwaitChange):
        return "await_change"
    if isinstance(error, neon.TransientError):
        return "transient"
    return "error"


@contextlib.asynccontextmanager
async def translated(kind: str, trigger: str) -> AsyncIterator[None]:
    """Run a reconcile; map its outcome onto kopf and count it."""
    try:
        yield
    except Exception as error:
        metrics.reconciled(kind, trigger, outcome(error))
        if isinstance(error, errors.RetryLater):
            raise kopf.TemporaryError(error.message, delay=error.delay) from None
        if isinstance(error, errors.AwaitChange):
            raise kopf.PermanentError(error.message) from None
        if isinstance(error, neon.TransientError):
            delay = error.retry_after or TRANSIENT_DELAY
            raise kopf.TemporaryError(str(error), delay=delay) from None
        raise
    metrics.reconciled(kind, trigger, "ok")


@contextlib.asynccontextmanager
async def recorded(kind: str, trigger: str, name: str) -> AsyncIterator[None]:
    """Run work of the operator's own (``trigger``: drift, repair) on the object ``name``:
    count its outcome, log a failure, raise nothing."""
    try:
        yield
    except Exception as error:
        result = outcome(error)
        metrics.reconciled(kind, trigger, result)
        if result == "error":
            logger.exception("%s %s %s failed", kind, name, trigger)
        else:
            logger.info("%s %s %s: %s", kind, name, trigger, error)
        return
    metrics.reconciled(kind, trigger, "ok")
