"""The one place where reconcile results become retry decisions (and metrics).

==========================================  ===============================================
raised by a reconciler                      kopf sees
==========================================  ===============================================
nothing                                     success
:class:`errors.RetryLater`                  ``TemporaryError(delay=retry_later.delay)``
:class:`errors.AwaitChange`                 ``PermanentError``: no retry until a change
:class:`neon.TransientError`                ``TemporaryError(delay=Retry-After or 10 s)``
Neon or the apiserver unreachable           ``TemporaryError(delay=10 s, doubling per retry
(:class:`neon.NetworkError`; the apiserver  up to 60 s)``
down, 429 or 5xx)
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

import aiohttp
import kopf
from kubernetes.aio.client.exceptions import ApiException

from neon_operator import errors, metrics, neon

__all__ = ["TRANSIENT_DELAY", "recorded", "translated"]

logger = logging.getLogger(__name__)

TRANSIENT_DELAY: Final = 10.0
"""Seconds before retrying after a transient Neon failure that carried no ``Retry-After``."""
OUTAGE_MAX_DELAY: Final = 60.0
"""Longest wait between retries of one object while Neon or the apiserver cannot be reached:
the delay doubles from :data:`TRANSIENT_DELAY` with each failed retry, so a long outage costs
each object one retry (a status and an annotation write) a minute, and recovery finds it within
a minute of the outage's end."""


def outcome(error: Exception) -> str:
    """The metrics' name of what ``error`` means: retry, await_change, transient or error."""
    if isinstance(error, errors.RetryLater):
        return "retry"
    if isinstance(error, errors.AwaitChange):
        return "await_change"
    if isinstance(error, neon.TransientError) or kubernetes_unavailable(error):
        return "transient"
    return "error"


def kubernetes_unavailable(error: Exception) -> bool:
    """Whether ``error`` says the apiserver is down, restarting or overloaded: nothing was
    written (or a retry finds out), and the work is retried like a transient Neon failure
    rather than after kopf's minute for unexpected errors."""
    if isinstance(error, ApiException):
        return error.status == 429 or (error.status or 0) >= 500
    return isinstance(error, (aiohttp.ClientConnectionError, ConnectionError, TimeoutError))


@contextlib.asynccontextmanager
async def translated(kind: str, trigger: str, retry: int = 0) -> AsyncIterator[None]:
    """Run a reconcile; map its outcome onto kopf and count it. ``retry`` is kopf's count of
    the failed attempts of this change before this one."""
    try:
        yield
    except Exception as error:
        metrics.reconciled(kind, trigger, outcome(error))
        if isinstance(error, errors.RetryLater):
            raise kopf.TemporaryError(error.message, delay=error.delay) from None
        if isinstance(error, errors.AwaitChange):
            raise kopf.PermanentError(error.message) from None
        outage = min(TRANSIENT_DELAY * 2.0 ** min(retry, 10), OUTAGE_MAX_DELAY)
        if isinstance(error, neon.NetworkError):
            raise kopf.TemporaryError(str(error), delay=error.retry_after or outage) from None
        if isinstance(error, neon.TransientError):
            delay = error.retry_after or TRANSIENT_DELAY
            raise kopf.TemporaryError(str(error), delay=delay) from None
        if kubernetes_unavailable(error):
            message = f"the apiserver is unavailable: {type(error).__name__}"
            raise kopf.TemporaryError(message, delay=outage) from None
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
