"""The one outcome translator: what went wrong in a reconcile becomes conditions and a
:mod:`neon_operator.errors` exception, the same way for every kind.

Each reconciler runs its work inside ``async with Outcomes(ctx, report, config_name):``::

    errors.Raced (the body in hand is stale)        → nothing reported, re-raised
    errors.ReconcileError (AwaitChange, RetryLater) → Ready/Synced=False with its reason
                                                      (Stalled for AwaitChange), re-raised
    AccountProblem (NeonConfig unusable)            → Ready/Synced=False, RetryLater
    neon.TransientError (Neon busy, unreachable)    → Synced=False NeonUnavailable (Ready only
                                                      if unset: Provisioning), passed through
    neon.InvalidRequestError (400/406/422)          → Ready/Synced=False ``on_invalid``, AwaitChange
    neon.AuthenticationError (key rejected)         → forget the client, ApiKeyRejected, RetryLater
                                                      (a quick RetryLater, nothing reported, if
                                                      the Secret holds a new key by now)
    neon.PermanentError (404 NeonNotFound, others)  → Ready/Synced=False, RetryLater

A status that keeps ``lastSyncTime`` (the NeonAppDatabase's) gets it stamped with every failure.
The handlers turn the exceptions into kopf's in :mod:`neon_operator.handlers.outcomes`.
"""

from __future__ import annotations

from typing import Any

from neon_operator import errors, neon
from neon_operator.accounts import AccountProblem
from neon_operator.models import READY
from neon_operator.reconcilers.context import Context
from neon_operator.reconcilers.reporting import Report

__all__ = ["Outcomes"]


class Outcomes:
    """Translates the exception leaving its block (see the module docstring).

    ``config_name`` is the NeonConfig whose cached client a rejected API key drops; a reconcile
    that learns it late (from its NeonAppDatabase) sets the attribute. ``on_invalid`` names the
    reason used when Neon rejects a request; the message is Neon's own.
    """

    def __init__(
        self,
        ctx: Context,
        report: Report[Any],
        config_name: str,
        *,
        on_invalid: str = "NeonRejected",
    ) -> None:
        self.ctx, self.report, self.config_name = ctx, report, config_name
        self.on_invalid = on_invalid

    async def __aenter__(self) -> Outcomes:
        return self

    async def __aexit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        if error is None or not isinstance(error, Exception):
            return
        delay = self.ctx.settings.retry_delay
        if isinstance(error, errors.Raced):
            return  # the newer status stands; the retry decides again on a fresh read
        if isinstance(error, errors.ReconcileError):
            stalled = isinstance(error, errors.AwaitChange)
            await self._fail(error.reason, error.message, stalled=stalled)
            return
        if isinstance(error, AccountProblem):
            await self._fail(error.reason, error.message)
            raise errors.RetryLater(error.reason, error.message, delay=delay) from None
        if isinstance(error, neon.TransientError):
            message = f"Neon is not answering right now, will retry: {error}"
            if self.report.status.condition(READY) is None:
                self.report.ready("False", "Provisioning", message)
            self.report.synced("False", "NeonUnavailable", message)
            await self.report.flush()
            return  # the handler retries after Retry-After (or a default delay)
        if isinstance(error, neon.InvalidRequestError):
            message = f"Neon rejected the request: {error.message}; fix the spec"
            await self._fail(self.on_invalid, message, stalled=True)
            raise errors.AwaitChange(self.on_invalid, message) from None
        if isinstance(error, neon.AuthenticationError):
            if (retry := await self.ctx.accounts.replaced(self.config_name)) is not None:
                raise retry from None  # the Secret holds a new key: the next attempt uses it
            await self.ctx.accounts.forget(self.config_name)
            message = (
                f"Neon rejected the API key of NeonConfig {self.config_name!r}: "
                "put a valid key into its Secret"
            )
            await self._fail("ApiKeyRejected", message)
            raise errors.RetryLater("ApiKeyRejected", message, delay=delay) from None
        if isinstance(error, neon.PermanentError):
            reason = "NeonNotFound" if isinstance(error, neon.NotFound) else "NeonError"
            message = f"Neon: {error}"
            await self._fail(reason, message)
            raise errors.RetryLater(reason, message, delay=delay) from None

    async def _fail(self, reason: str, message: str, *, stalled: bool = False) -> None:
        if "last_sync_time" in type(self.report.status).model_fields:
            self.report.update(last_sync_time=self.ctx.clock())
        await self.report.failed(reason, message, stalled=stalled)
