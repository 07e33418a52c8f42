"""What a reconciler works with: Kubernetes, Neon accounts, settings, the clock, locks.

Reconcilers take a :class:`Context` and a parsed resource, never kopf objects, so tests drive
them with :class:`~neon_operator.testing.InMemoryKube` and the emulator
(``tests/operator/reconcilers``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import os
import signal
from collections.abc import Callable

from neon_operator import kube, settings
from neon_operator.accounts import Accounts

__all__ = ["Context", "crash_hook_from_env", "utcnow"]


def utcnow() -> datetime.datetime:
    """Now, in UTC, at whole seconds (Kubernetes' precision)."""
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def _no_crash(step: str) -> None:
    return None


def crash_hook_from_env() -> Callable[[str], None]:
    """The test hook of :data:`settings.CRASH_AFTER_ENV`: SIGKILL this process after ``step``."""
    target = os.environ.get(settings.CRASH_AFTER_ENV, "").strip()
    if not target:
        return _no_crash

    def crash(step: str) -> None:
        if step == target:
            os.kill(os.getpid(), signal.SIGKILL)

    return crash


@dataclasses.dataclass
class Context:
    """Everything a reconcile needs besides the resource."""

    kube: kube.Kube
    accounts: Accounts
    settings: settings.Settings = dataclasses.field(default_factory=settings.Settings)
    clock: Callable[[], datetime.datetime] = utcnow
    crash_after: Callable[[str], None] = _no_crash
    """Called with a step name right after that step's Neon call (see ``CRASH_AFTER_ENV``)."""
    identity: str = "neon-operator"
    """This process's identity in the leader election: what its creation claims carry."""
    _locks: dict[str, asyncio.Lock] = dataclasses.field(default_factory=dict)

    def lock(self, uid: str) -> asyncio.Lock:
        """The lock serializing reconciles of one object (change handlers vs. the resync timer)."""
        return self._locks.setdefault(uid, asyncio.Lock())

    def release(self, uid: str) -> None:
        """Forget the lock of a deleted object."""
        self._locks.pop(uid, None)
