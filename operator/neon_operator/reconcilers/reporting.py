"""The status a reconcile is building, written at the moments that matter, with its Events.

A reconcile changes :attr:`Report.status` as it learns things and calls :meth:`Report.flush` when
the world must see them: right after Neon created a project (so a crash cannot lose its id),
before a long wait (so people see ``Provisioning``), and at the end. ``flush`` patches only the
fields that changed since this reconcile read or wrote them (a merge patch: a field it never
touched, e.g. an id another operator instance wrote meanwhile, is not reset from a stale read),
and posts an Event whenever the ``Ready`` condition changes status or reason.

Setting ``Ready`` also sets kstatus' ``Reconciling`` and ``Stalled`` (what Flux, kstatus and the
Argo CD health checks in ``deploy/argocd/`` read): ``Ready=True`` clears both; ``Ready=False``
means ``Reconciling=True`` (the operator keeps at it) unless the caller says it is ``stalled``
(an :class:`errors.AwaitChange`: only a change of the resource can help), then ``Stalled=True``.
Without ``Stalled``, kstatus would report a spec Neon rejected as ``InProgress`` forever.

The endings every kind shares live here too: :meth:`Report.succeeded` (``Ready=True``,
``Synced=True``, written), :meth:`Report.waiting` (``Ready=False`` while something else must
happen first, and the :class:`errors.RetryLater` to raise), :meth:`Report.failed`, and
:meth:`Report.created` (an id Neon just handed out, written before anything else can fail).
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from neon_operator import conditions, errors, kube
from neon_operator.models import READY, RECONCILING, STALLED, SYNCED, ConditionStatus, Status
from neon_operator.reconcilers.context import Context

__all__ = ["PROGRESS_REASONS", "Report"]

PROGRESS_REASONS = frozenset({"Provisioning"})
"""``Ready=False`` reasons that mean "on its way", posted as Normal rather than Warning Events."""

S = TypeVar("S", bound=Status)


class Report(Generic[S]):
    """Status of one object under reconciliation."""

    def __init__(self, ctx: Context, ref: kube.ObjectRef, generation: int | None, status: S):
        self._ctx = ctx
        self.ref = ref
        self.generation = generation
        self.status = status
        self._written = status

    def update(self, **fields: Any) -> None:
        """Set status fields (by their Python names)."""
        self.status = self.status.model_copy(update=fields)

    def ready(
        self, status: ConditionStatus, reason: str, message: str, *, stalled: bool = False
    ) -> None:
        """Set the ``Ready`` condition, and ``Reconciling``/``Stalled`` from it (see above)."""
        self._set(conditions.Change(READY, status, reason, message))
        working = status != "True" and not stalled
        stuck = status != "True" and stalled
        self._set(
            conditions.Change(
                RECONCILING, "True" if working else "False", reason, message if working else ""
            )
        )
        self._set(
            conditions.Change(
                STALLED, "True" if stuck else "False", reason, message if stuck else ""
            )
        )

    def synced(self, status: ConditionStatus, reason: str, message: str = "") -> None:
        """Set the ``Synced`` condition."""
        self._set(conditions.Change(SYNCED, status, reason, message))

    def _set(self, change: conditions.Change) -> None:
        updated = conditions.set_condition(
            self.status.conditions, change, generation=self.generation, now=self._ctx.clock()
        )
        self.update(conditions=updated, observed_generation=self.generation)

    async def succeeded(self, reason: str, message: str) -> None:
        """The reconcile converged: ``Ready=True`` with ``reason``, ``Synced=True``, written."""
        self.ready("True", reason, message)
        self.synced("True", "ReconcileSucceeded", "")
        await self.flush()

    async def failed(self, reason: str, message: str, *, stalled: bool = False) -> None:
        """The reconcile stopped: ``Ready=False`` and ``Synced=False`` with ``reason``, written."""
        self.ready("False", reason, message, stalled=stalled)
        self.synced("False", reason, message)
        await self.flush()

    async def created(self, reason: str, message: str, *, provisioning: str = "") -> None:
        """Neon just made an object whose id is in :attr:`status` now: write it at once (the
        crash-safety point after every create: a restart must find the id, not make a twin),
        with ``Ready=False Provisioning`` saying ``provisioning`` if given; then post the
        Normal Event ``reason``."""
        if provisioning:
            self.ready("False", "Provisioning", provisioning)
        await self.flush()
        await self.event("Normal", reason, message)

    async def waiting(self, reason: str, message: str) -> errors.RetryLater:
        """Something else must happen first (waiting, not failed): write ``Ready=False`` and
        return the exception to raise, which retries in ``retryDelay``."""
        await self.failed(reason, message)
        return errors.RetryLater(reason, message, delay=self._ctx.settings.retry_delay)

    async def paused(self, annotations: dict[str, str]) -> bool:
        """Whether the object is paused; if so, say so in ``Synced`` (and nothing else)."""
        settings = self._ctx.settings
        if not settings.is_paused(annotations):
            return False
        self.synced(
            "False",
            "Paused",
            f"reconciliation is paused by the annotation {settings.paused_annotation}; "
            "remove it to resume",
        )
        await self.flush()
        return True

    async def event(self, type_: str, reason: str, message: str) -> None:
        """Post a Kubernetes Event about the object."""
        await self._ctx.kube.post_event(self.ref, type_, reason, message)

    async def write_at(self, resource_version: str, **fields: Any) -> str | None:
        """Set these status fields and write them alone, at ``resource_version``:
        :class:`~neon_operator.kube.Conflict` if the object changed since that version. The
        object's ``resourceVersion`` afterwards (``None``: it is gone)."""
        self.update(**fields)
        partial = self.status.model_dump(mode="json", include=set(fields))
        written = await self._ctx.kube.patch_status(
            self.ref, partial, resource_version=resource_version
        )
        self._written = self._written.model_copy(update=fields)
        return written

    async def flush(self) -> None:
        """Write the status if it changed; post an Event if ``Ready`` changed."""
        if self.status == self._written:
            return
        before, after = self._written.condition(READY), self.status.condition(READY)
        changed = {
            name
            for name in type(self.status).model_fields
            if getattr(self.status, name) != getattr(self._written, name)
        }
        await self._ctx.kube.patch_status(
            self.ref, self.status.model_dump(mode="json", include=changed)
        )
        self._written = self.status
        if after is not None and conditions.changed(before, after):
            healthy = after.status == "True" or after.reason in PROGRESS_REASONS
            kind = "Normal" if healthy else "Warning"
            await self.event(kind, after.reason, after.message)
