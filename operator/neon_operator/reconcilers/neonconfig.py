"""NeonConfig: is it usable? Resolve its API key Secret and let Neon judge the key.

The check costs one ``GET /projects?limit=1`` per tier's organization; it runs when the
NeonConfig changes and every ``configRefreshInterval`` (which also picks up a key rotated in the
Secret, since nothing watches Secrets). The outcome is the NeonConfig's ``Ready`` condition;
dependents read the same facts through :class:`~neon_operator.accounts.Accounts` and show the
NeonConfig's problem in their own ``Ready=False``.
"""

from __future__ import annotations

from typing import Any, Final

from neon_operator import grants, kube, neon
from neon_operator.accounts import AccountProblem
from neon_operator.models import NeonConfigStatus
from neon_operator.models.neonconfig import KIND
from neon_operator.reconcilers.context import Context
from neon_operator.reconcilers.reporting import Report

__all__ = ["KIND", "PLURAL", "forget", "reconcile"]

PLURAL: Final = "neonconfigs"


async def reconcile(ctx: Context, body: dict[str, Any]) -> None:
    """Check the NeonConfig ``body`` and write its ``Ready`` condition."""
    metadata = body.get("metadata", {})
    name = str(metadata.get("name"))
    ref = kube.ObjectRef(kind=KIND, plural=PLURAL, name=name, uid=str(metadata.get("uid", "")))
    status = NeonConfigStatus.model_validate(body.get("status") or {})
    report = Report(ctx, ref, metadata.get("generation"), status)
    fail = report.waiting

    try:
        account = await ctx.accounts.refresh(name, body)
    except AccountProblem as problem:
        raise await fail(problem.reason, problem.message) from None
    inaccessible = []
    try:
        for tier, org_id in sorted(account.config.spec.organizations.items()):
            try:
                await account.client.list_projects_page(org_id=org_id, limit=1)
            except (neon.NotFound, neon.ForbiddenError) as error:
                inaccessible.append(f"tier {tier}: organization {org_id} ({error.message})")
    except neon.AuthenticationError:
        await ctx.accounts.forget(name)
        ref_ = account.config.spec.api_key_secret_ref
        raise await fail(
            "ApiKeyRejected",
            f"Neon rejected the API key in Secret {ref_.namespace}/{ref_.name} "
            f"(key {ref_.key!r}): replace it with a valid key",
        ) from None
    except neon.TransientError as error:
        report.synced("False", "NeonUnavailable", f"could not reach Neon: {error}")
        await report.flush()
        raise
    if inaccessible:
        raise await fail(
            "OrganizationNotAccessible",
            "the API key cannot use "
            + "; ".join(inaccessible)
            + ": fix spec.organizations or use a key with access",
        )
    spec = account.config.spec
    tiers = ", ".join(sorted(spec.organizations))
    served = grants.describe(spec)
    if served == "no namespace":
        served += " (set spec.allowedNamespaces or spec.namespaceSelector to grant some)"
    await report.succeeded(
        "KeyAccepted", f"Neon accepted the API key for tiers {tiers}; serves {served}"
    )


async def forget(ctx: Context, name: str) -> None:
    """The NeonConfig was deleted: drop its cached client."""
    await ctx.accounts.forget(name)
