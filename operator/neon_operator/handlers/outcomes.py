"""The one place where reconcile results become kopf's retry decisions (and metrics).

==========================================  ===============================================
raised by a reconciler                      kopf sees
==========================================  ===============================================
nothing                                     success
:class:`errors.RetryLater`                  ``TemporaryError(delay=retry_later.delay)``
:class:`errors.AwaitChange`                 ``PermanentError``: no retry until a change
:class:`neon.TransientError`                ``TemporaryError(delay=Retry-After or 10 s)``
anything else                               kopf's default (a bug: logged, retried)
==========================================  ===============================================
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Final

import kopf

from neon_operator import errors, metrics, neon

__all__ = ["TRANSIENT_DELAY", "translated"]

TRANSIENT_DELAY: Final = 10.0
"""Seconds before retrying after a transient Neon failure that carried no ``Retry-After``."""


@contextlib.asynccontextmanager
async def translated(kind: str, trigger: str) -> AsyncIterator[None]:
    """Run a reconcile; map its outcome onto kopf and count it."""
    try:
        yield
    except errors.RetryLater as error:
        metrics.reconciled(kind, trigger, "retry")
        raise kopf.TemporaryError(error.message, delay=error.delay) from None
    except errors.AwaitChange as error:
        metrics.reconciled(kind, trigger, "await_change")
        raise kopf.PermanentError(error.message) from None
    except neon.TransientError as error:
        metrics.reconciled(kind, trigger, "transient")
        raise kopf.TemporaryError(str(error), delay=error.retry_after or TRANSIENT_DELAY) from None
    except Exception:
        metrics.reconciled(kind, trigger, "error")
        raise
    metrics.reconciled(kind, trigger, "ok")
