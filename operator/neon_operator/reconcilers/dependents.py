"""What NeonBranch, NeonSnapshot and NeonRestore share: they live off a NeonAppDatabase.

* :func:`ready_app_database` finds the NeonAppDatabase a resource names (always in the
  resource's own namespace: a reference naming another one is refused at admission, and the
  lookup uses the resource's namespace whatever the reference says) and waits while it is missing or
  not Ready: ``Ready=False`` with a reason saying so and a :class:`errors.RetryLater`, never a
  failure.
* :func:`adopt_by` makes the dependent an owned object of its NeonAppDatabase (ownerReference,
  not controller, not blocking), so deleting the app removes its branches, snapshots and
  restores by garbage collection. Deletion never deadlocks: the app's finalizer deletes the Neon
  project without waiting for anyone; only then does the garbage collector delete the
  dependents, whose finalizers take Neon's ``NotFound`` for success.
* :class:`failures` turns a failed reconcile into conditions and a :mod:`errors` exception, as
  the NeonAppDatabase reconciler does.
* :func:`nudge` stamps an annotation on a resource so its own reconciler runs again (kopf counts
  annotation changes): how a NeonRestore tells its target that the branch id changed, without
  writing the target's status itself (one writer per status).
"""

from __future__ import annotations

from typing import Any, Final, TypeVar

from neon_operator import errors, kube, neon
from neon_operator.accounts import AccountProblem
from neon_operator.models import READY, NeonAppDatabase, Status
from neon_operator.reconcilers import appdatabase
from neon_operator.reconcilers.context import Context
from neon_operator.reconcilers.reporting import Report
from neon_operator.settings import PREFIX

__all__ = [
    "RESTORED_ANNOTATION",
    "account_client",
    "adopt_by",
    "failures",
    "nudge",
    "ready_app_database",
    "waiting",
]

RESTORED_ANNOTATION: Final = f"{PREFIX}/restored-branch-id"
"""Set by a NeonRestore on its target: the id of the branch that replaced the target's branch."""

S = TypeVar("S", bound=Status)


async def waiting(ctx: Context, report: Report[S], reason: str, message: str) -> errors.RetryLater:
    """Write ``Ready=False`` (waiting, not failed) and return the exception to raise."""
    report.ready("False", reason, message)
    report.synced("False", reason, message)
    await report.flush()
    return errors.RetryLater(reason, message, delay=ctx.settings.retry_delay)


async def ready_app_database(
    ctx: Context, report: Report[S], namespace: str, name: str
) -> NeonAppDatabase:
    """The NeonAppDatabase ``name`` of ``namespace`` once it is Ready with a project."""
    ref = kube.ObjectRef(
        kind=appdatabase.KIND, plural=appdatabase.PLURAL, name=name, namespace=namespace, uid=""
    )
    body = await ctx.kube.read_object(ref)
    if body is None:
        raise await waiting(
            ctx,
            report,
            "ParentNotFound",
            f"NeonAppDatabase {name!r} does not exist in namespace {namespace!r} (references "
            "never leave the namespace); waiting for it to be created",
        )
    app = NeonAppDatabase.model_validate(body)
    # The app's NeonConfig must grant this namespace: a revoked grant shows on every dependent
    # with its own reason, not as a parent that is merely not Ready.
    await ctx.accounts.get(app.spec.config_ref.name, namespace=namespace)
    ready = app.status.condition(READY)
    if (
        app.metadata.deletion_timestamp is not None
        or app.status.project_id is None
        or app.status.default_branch_id is None
        or ready is None
        or ready.status != "True"
    ):
        why = "is being deleted" if app.metadata.deletion_timestamp else "is not Ready yet"
        detail = f" ({ready.reason}: {ready.message})" if ready and ready.status != "True" else ""
        raise await waiting(
            ctx, report, "ParentNotReady", f"NeonAppDatabase {name!r} {why}{detail}; waiting"
        )
    return app


ADOPT_ATTEMPTS: Final = 3


async def adopt_by(
    ctx: Context, owned: kube.ObjectRef, body: dict[str, Any], app: NeonAppDatabase
) -> None:
    """Make ``owned`` (as read: ``body``) a dependent of ``app`` (garbage collected with it),
    once. The patch replaces the whole ``ownerReferences`` list, so it is made at the version
    read: an owner someone added meanwhile makes it read again rather than drop that owner."""
    uid = app.metadata.uid or ""
    reference = {
        "apiVersion": app.api_version,
        "kind": appdatabase.KIND,
        "name": app.metadata.name,
        "uid": uid,
        "controller": False,
        "blockOwnerDeletion": False,
    }
    metadata: dict[str, Any] = body.get("metadata", {})
    for attempt in range(ADOPT_ATTEMPTS):
        owners = list(metadata.get("ownerReferences") or [])
        if any(owner.get("uid") == uid for owner in owners):
            return
        try:
            await ctx.kube.patch_object(
                owned,
                {"metadata": {"ownerReferences": [*owners, reference]}},
                resource_version=metadata.get("resourceVersion"),
            )
            return
        except kube.Conflict:
            if attempt == ADOPT_ATTEMPTS - 1:
                raise
            fresh = await ctx.kube.read_object(owned)
            if fresh is None:
                return
            metadata = fresh.get("metadata", {})


async def nudge(ctx: Context, target: kube.ObjectRef, branch_id: str) -> None:
    """Tell ``target``'s reconciler that its branch was replaced by ``branch_id``."""
    await ctx.kube.patch_object(
        target, {"metadata": {"annotations": {RESTORED_ANNOTATION: branch_id}}}
    )


async def account_client(
    ctx: Context, config_name: str, *, namespace: str | None
) -> neon.NeonClient:
    """The Neon client of the NeonConfig ``config_name`` for a resource of ``namespace``
    (``None`` only when deleting: see :meth:`~neon_operator.accounts.Accounts.get`)."""
    return (await ctx.accounts.get(config_name, namespace=namespace)).client


class failures:
    """Turns what went wrong into conditions and a :mod:`neon_operator.errors` exception.

    ``on_invalid`` names the condition reason used when Neon rejects the request (400/406/422);
    its message is Neon's own. Neither that nor a missing object is retried hot.
    """

    def __init__(
        self, ctx: Context, report: Report[S], config_name: str, *, on_invalid: str = "NeonRejected"
    ) -> None:
        self.ctx, self.report, self.config_name = ctx, report, config_name
        self.on_invalid = on_invalid

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        if error is None or not isinstance(error, Exception):
            return
        delay = self.ctx.settings.retry_delay
        if isinstance(error, errors.AwaitChange):
            await self._fail(error.reason, error.message, stalled=True)
            return
        if isinstance(error, errors.RetryLater):
            return  # its raiser wrote the conditions (see :func:`waiting`)
        if isinstance(error, AccountProblem):
            await self._fail(error.reason, error.message)
            raise errors.RetryLater(error.reason, error.message, delay=delay) from None
        if isinstance(error, neon.TransientError):
            message = f"Neon is not answering right now, will retry: {error}"
            if self.report.status.condition(READY) is None:
                self.report.ready("False", "Provisioning", message)
            self.report.synced("False", "NeonUnavailable", message)
            await self.report.flush()
            return
        if isinstance(error, neon.InvalidRequestError):
            message = f"Neon rejected the request: {error.message}; fix the spec"
            await self._fail(self.on_invalid, message, stalled=True)
            raise errors.AwaitChange(self.on_invalid, message) from None
        if isinstance(error, neon.AuthenticationError):
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
        self.report.ready("False", reason, message, stalled=stalled)
        self.report.synced("False", reason, message)
        await self.report.flush()
