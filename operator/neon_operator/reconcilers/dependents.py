"""What NeonBranch, NeonSnapshot and NeonRestore share: they live off a NeonAppDatabase.

* :func:`ready_app_database` finds the NeonAppDatabase a resource names (always in the
  resource's own namespace: a reference naming another one is refused at admission, and the
  lookup uses the resource's namespace whatever the reference says) and waits while it is missing or
  not Ready (:func:`.references.read_ready`).
* :func:`owning_app` is how each of them starts: the Ready NeonAppDatabase, whose NeonConfig
  the failures blame from then on, made the resource's owner by :func:`adopt_by`.
* :func:`adopt_by` makes the dependent an owned object of its NeonAppDatabase (ownerReference,
  not controller, not blocking), so deleting the app removes its branches, snapshots and
  restores by garbage collection. Deletion never deadlocks: the app's finalizer deletes the Neon
  project without waiting for anyone; only then does the garbage collector delete the
  dependents, whose finalizers take Neon's ``NotFound`` for success.
* :func:`nudge` stamps an annotation on a resource so its own reconciler runs again (kopf counts
  annotation changes): how a NeonRestore tells its target that the branch id changed, without
  writing the target's status itself (one writer per status).
"""

from __future__ import annotations

from typing import Any, Final, TypeVar

from neon_operator import kube, neon
from neon_operator.accounts import AccountProblem
from neon_operator.models import API_VERSION, NeonAppDatabase, Status
from neon_operator.models.appdatabase import KIND
from neon_operator.reconcilers import references
from neon_operator.reconcilers.context import Context
from neon_operator.reconcilers.outcomes import Outcomes
from neon_operator.reconcilers.reporting import Report
from neon_operator.settings import PREFIX

__all__ = [
    "RESTORED_ANNOTATION",
    "account_client",
    "adopt_by",
    "app_owner_reference",
    "deleting_client",
    "nudge",
    "owning_app",
    "ready_app_database",
]

RESTORED_ANNOTATION: Final = f"{PREFIX}/restored-branch-id"
"""Set by a NeonRestore on its target: the id of the branch that replaced the target's branch."""

S = TypeVar("S", bound=Status)


async def ready_app_database(
    ctx: Context, report: Report[S], namespace: str, name: str
) -> NeonAppDatabase:
    """The NeonAppDatabase ``name`` of ``namespace`` once it is Ready with a project."""

    async def granted(app: NeonAppDatabase) -> None:
        # The app's NeonConfig must grant this namespace: a revoked grant shows on every
        # dependent with its own reason, not as a parent that is merely not Ready.
        await ctx.accounts.get(app.spec.config_ref.name, namespace=namespace)

    return await references.read_ready(
        ctx,
        report,
        references.reference(KIND, name, namespace),
        parse=NeonAppDatabase.model_validate,
        label="NeonAppDatabase",
        made=lambda app: app.status.project_id and app.status.default_branch_id,
        check=granted,
    )


async def owning_app(
    ctx: Context, guard: Outcomes, body: dict[str, Any], name: str
) -> NeonAppDatabase:
    """The Ready NeonAppDatabase ``name`` the resource ``body`` (reconciled under ``guard``)
    lives off, now its owner; from here on ``guard`` blames that app's NeonConfig."""
    report = guard.report
    namespace = references.namespace_of(report.ref)
    app = await ready_app_database(ctx, report, namespace, name)
    guard.config_name = app.spec.config_ref.name
    await adopt_by(ctx, report.ref, body, app)
    return app


def app_owner_reference(name: str, uid: str) -> dict[str, Any]:
    """The ownerReference to the NeonAppDatabase ``name`` (``uid``) its dependents carry: not
    the controller, not blocking its deletion (see the module docstring)."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": name,
        "uid": uid,
        "controller": False,
        "blockOwnerDeletion": False,
    }


ADOPT_ATTEMPTS: Final = 3


async def adopt_by(
    ctx: Context, owned: kube.ObjectRef, body: dict[str, Any], app: NeonAppDatabase
) -> None:
    """Make ``owned`` (as read: ``body``) a dependent of ``app`` (garbage collected with it),
    once. The patch replaces the whole ``ownerReferences`` list, so it is made at the version
    read: an owner someone added meanwhile makes it read again rather than drop that owner."""
    uid = app.metadata.uid or ""
    reference = app_owner_reference(app.metadata.name, uid)
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


async def deleting_client(
    ctx: Context, report: Report[S], config_name: str, what: str
) -> neon.NeonClient:
    """The client that deletes ``what`` in Neon, with no grant check (a revoked namespace may
    still clean up what it made); ``Ready=False`` and a retry while the NeonConfig is
    unusable."""
    try:
        return await account_client(ctx, config_name, namespace=None)
    except AccountProblem as problem:
        message = f"cannot delete {what}: {problem.message}"
        raise await report.waiting(problem.reason, message) from None
