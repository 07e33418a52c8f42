"""What keeps reconciled resources right between changes, without a timer per object.

kopf runs the change handlers (create, update, resume, delete). Everything periodic is here, and
costs the apiserver O(changes), not O(resources):

* **Secret repairs.** The :class:`~neon_operator.secretwatch.SecretWatch` reports every change
  of the operator's Secrets. One that is gone, edited (its data no longer matches the
  fingerprint the operator wrote, or a label or annotation it set was removed) or taken over by
  another controller gets its owner's repair step: the Secret alone, rebuilt from status and
  Kubernetes; Neon is asked only for a password it cannot read back.
* **The sweep.** Every ``resyncInterval`` each tracked resource's Secret is compared with the
  watch cache (no request); what is missing or edited is repaired. It catches what a watch
  cannot tell (a repair that failed) and retries it.
* **Drift checks.** A :class:`~neon_operator.drift.DriftScheduler` walks the tracked resources
  and compares each with Neon about once per ``neonResyncInterval``, evenly spread, within
  ``neonResyncShare`` of each key's budget and at ``DRIFT`` priority in the rate limiter, so new
  work always goes first. A change of a resource preempts its drift check under way.
* **Consumption.** A :class:`~neon_operator.handlers.consumption.ConsumptionPoller` fetches the
  consumption of every tracked NeonAppDatabase every ``consumptionInterval``, up to 100 projects
  per Neon call, into ``status.consumption`` and the ``neon_operator_consumption_*`` gauges.
* **Resume.** A resource that is :func:`settled <neon_operator.reconcilers.steady>` when the
  operator starts is only tracked, and its Secret checked from the cache: no Neon call.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from neon_operator import accounts, drift, grants, kube, neon
from neon_operator.handlers import outcomes
from neon_operator.handlers.consumption import ConsumptionPoller
from neon_operator.reconcilers import connection_secret
from neon_operator.reconcilers.context import Context
from neon_operator.secretwatch import Owner, SecretWatch

__all__ = ["Tended", "Upkeep"]

logger = logging.getLogger(__name__)

Step = Callable[[Context, dict[str, Any]], Awaitable[None]]

REPAIR_WORKERS: Final = 4
SYNC_TIMEOUT: Final = 60.0
"""Seconds a resume waits for the Secret watch's first listing before reading Secrets itself."""


@dataclasses.dataclass(frozen=True)
class Tended:
    """How the upkeep looks after one kind."""

    kind: str
    plural: str
    repair: Step
    """Bring the Secret back (from status and Kubernetes)."""
    check_drift: Step
    """Compare with Neon and put back what changed there (never creates)."""
    target: Callable[[dict[str, Any]], drift.Target]
    """What the scheduler keeps about an object of the kind."""
    consumes: bool = False
    """Whether its objects' consumption is fetched by the :class:`ConsumptionPoller`."""


@dataclasses.dataclass(frozen=True)
class _Repair:
    kind: str
    namespace: str
    name: str
    uid: str


def _lost(previous: kube.SecretState | None, current: kube.SecretState) -> bool:
    """Whether a label or annotation of ``previous`` is gone or changed in ``current``."""
    if previous is None:
        return False
    return not (
        previous.labels.items() <= current.labels.items()
        and previous.annotations.items() <= current.annotations.items()
    )


class Upkeep:
    """Secret repairs, the sweep and drift checks of every tended kind."""

    def __init__(self, ctx: Context, secrets: SecretWatch | None = None) -> None:
        self.ctx = ctx
        self.secrets = secrets
        self.kinds: dict[str, Tended] = {}
        self.scheduler = drift.DriftScheduler(
            self._check,
            self._budget,
            interval=ctx.settings.neon_resync_interval,
            share=ctx.settings.neon_resync_share,
        )
        self.consumption = ConsumptionPoller(
            ctx,
            interval=ctx.settings.consumption_interval,
            share=ctx.settings.consumption_share,
        )
        self._queue: asyncio.Queue[_Repair] | None = None
        self._pending: set[str] = set()
        self._checking: dict[str, asyncio.Task[Any]] = {}
        self._preempted: set[str] = set()
        self._stopped: set[str] = set()
        """Objects a sweep found stopped on their NeonConfig (grant revoked, key rejected)."""
        if secrets is not None:
            secrets.listener = self.secret_changed

    def tend(self, tended: Tended) -> None:
        """Look after objects of ``tended.kind``."""
        self.kinds[tended.kind] = tended

    # -- what the change handlers call -----------------------------------------------------

    def track(self, tended: Tended, body: dict[str, Any], *, due_in: float | None = None) -> None:
        """Check ``body`` for drift from now on (again, after a change)."""
        self.scheduler.enroll(tended.target(body), due_in=due_in)
        if tended.consumes:
            self.consumption.track(body)

    def untrack(self, uid: str) -> None:
        """Forget a deleted object."""
        self.scheduler.withdraw(uid)
        self._stopped.discard(uid)
        self.consumption.untrack(uid)

    def preempt(self, uid: str) -> None:
        """Cancel the drift check of ``uid`` under way: a change of it goes first."""
        task = self._checking.get(uid)
        if task is not None:
            self._preempted.add(uid)
            task.cancel()

    async def resumed(self, tended: Tended, body: dict[str, Any]) -> None:
        """A settled object seen at startup: track it, repair its Secret if the cache says so."""
        target = tended.target(body)
        self.scheduler.enroll(target, due_in=_due_in(body, self.scheduler.interval))
        if tended.consumes:
            self.consumption.track(body)
        if target.secret is None:
            return
        if self.secrets is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.secrets.wait_synced(), SYNC_TIMEOUT)
        if self.healthy(target) is not True:
            await tended.repair(self.ctx, body)

    def healthy(self, target: drift.Target) -> bool | None:
        """Whether the cache holds ``target``'s Secret as the operator wrote it (``None``: the
        cache cannot tell)."""
        if target.secret is None:
            return True
        if self.secrets is None or not self.secrets.covers(target.namespace):
            return None
        state = self.secrets.get(target.namespace, target.secret)
        return (
            state is not None
            and state.controller_uid == target.uid
            and connection_secret.known_password(state) is not None
        )

    # -- Secret events and repairs ---------------------------------------------------------

    def secret_changed(
        self,
        namespace: str,
        previous: kube.SecretState | None,
        current: kube.SecretState | None,
        owner: Owner | None,
    ) -> None:
        """The watch saw a change of a Secret; repair its owner's if it is no longer right."""
        if owner is None or owner.kind not in self.kinds:
            return
        if (
            current is not None
            and current.controller_uid == owner.uid
            and connection_secret.known_password(current) is not None
            and not _lost(previous, current)
        ):
            return
        self.request_repair(owner.kind, namespace, owner.name, owner.uid)

    def request_repair(self, kind: str, namespace: str, name: str, uid: str) -> None:
        """Queue a Secret repair of the object (once, however often asked meanwhile)."""
        if self._queue is None or uid in self._pending:
            return
        self._pending.add(uid)
        self._queue.put_nowait(_Repair(kind, namespace, name, uid))

    async def _repair(self, item: _Repair) -> None:
        tended = self.kinds[item.kind]
        ref = kube.ObjectRef(item.kind, tended.plural, item.name, item.uid, item.namespace)
        async with self.ctx.lock(item.uid), outcomes.recorded(item.kind, "repair", item.name):
            fresh = await self._fresh(ref)
            if fresh is not None:
                await tended.repair(self.ctx, fresh)
            # Reached only when the repair went through: a NeonConfig serving the object again
            # is asked about (and the object repaired) at every sweep until then.
            self._stopped.discard(item.uid)

    async def _repairs(self) -> None:
        assert self._queue is not None
        while True:
            item = await self._queue.get()
            self._pending.discard(item.uid)
            try:
                await self._repair(item)
            except Exception:
                logger.exception("repair of %s %s/%s failed", *dataclasses.astuple(item)[:3])
            finally:
                self._queue.task_done()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.ctx.settings.resync_interval)
            for target in self.scheduler.targets():
                if self.healthy(target) is False or await self._config_changed(target):
                    self.request_repair(target.kind, target.namespace, target.name, target.uid)

    async def _config_changed(self, target: drift.Target) -> bool:
        """Whether the target's NeonConfig stopped serving it (its grant revoked, its key
        rejected), or serves it again since a sweep saw that: its repair then reports or lifts
        ``NeonConfigNotGranted`` / ``ApiKeyRejected``. A cached lookup (Namespace labels are
        read at most every 30 s, a rejected key's Secret every few seconds), no Neon call."""
        try:
            await self.ctx.accounts.get(target.lane, namespace=target.namespace)
        except accounts.AccountProblem as problem:
            if problem.reason not in grants.STOPPED_ON_CONFIG or target.uid in self._stopped:
                return False  # other problems: the change handlers and drift checks report them
            self._stopped.add(target.uid)
            return True
        except Exception as error:  # the sweep goes on; the next one asks again
            logger.warning("cannot check the NeonConfig of %s %s/%s: %s", *_about(target), error)
            return False
        return target.uid in self._stopped  # served again: repaired until that succeeds

    # -- drift checks ----------------------------------------------------------------------

    async def _budget(self, lane: str) -> float | None:
        # The key's budget is no namespace's business: no grant to check for it.
        account = await self.ctx.accounts.get(lane, namespace=None)
        return float(account.config.spec.rate_limit.requests_per_minute)

    async def _check(self, target: drift.Target) -> None:
        tended = self.kinds[target.kind]
        ref = kube.ObjectRef(target.kind, tended.plural, target.name, target.uid, target.namespace)
        task = asyncio.current_task()
        assert task is not None
        self._checking[target.uid] = task
        fresh = None
        try:
            with neon.prioritized(neon.Priority.DRIFT):
                async with (
                    self.ctx.lock(target.uid),
                    outcomes.recorded(target.kind, "drift", target.name),
                ):
                    fresh = await self._fresh(ref)
                    if fresh is None:
                        self.scheduler.withdraw(target.uid)
                    else:
                        await tended.check_drift(self.ctx, fresh)
        except asyncio.CancelledError:
            if target.uid not in self._preempted:
                raise
            return  # a change of the object came; its handler converges it
        finally:
            self._preempted.discard(target.uid)
            if self._checking.get(target.uid) is task:
                del self._checking[target.uid]
        if fresh is not None and tended.consumes:
            self.consumption.track(fresh)  # a moved project or organization; drift's numbers
        if fresh is not None and (moved := tended.target(fresh)) != target:
            self.scheduler.enroll(moved)

    async def _fresh(self, ref: kube.ObjectRef) -> dict[str, Any] | None:
        """The object as it is now, unless it is gone, replaced or being deleted."""
        fresh = await self.ctx.kube.read_object(ref)
        metadata = (fresh or {}).get("metadata", {})
        if fresh is None or metadata.get("uid") != ref.uid or metadata.get("deletionTimestamp"):
            return None
        return fresh

    # -- running ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Watch Secrets, repair, sweep and check drift until cancelled."""
        self._queue = asyncio.Queue()
        tasks = [asyncio.create_task(self._repairs()) for _ in range(REPAIR_WORKERS)]
        tasks.append(asyncio.create_task(self._sweep()))
        tasks.append(asyncio.create_task(self.consumption.run()))
        if self.secrets is not None:
            tasks.append(asyncio.create_task(self.secrets.run()))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.scheduler.close()


def _about(target: drift.Target) -> tuple[str, str, str]:
    return target.kind, target.namespace, target.name


def _due_in(body: dict[str, Any], interval: float) -> float:
    """Seconds until a resumed object's next drift check: one ``interval`` after the last
    comparison its status records (``lastSyncTime``), else one interval from now."""
    stamp = (body.get("status") or {}).get("lastSyncTime")
    if not isinstance(stamp, str):
        return interval
    try:
        last = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return interval
    elapsed = (datetime.datetime.now(datetime.UTC) - last).total_seconds()
    return min(interval, max(0.0, interval - elapsed))
