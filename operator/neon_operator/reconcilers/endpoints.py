"""A compute as the spec wants it and its Neon endpoint: one place for the NeonAppDatabase and
NeonBranch reconcilers.

* :func:`wanted` — ``spec.compute`` over the NeonConfig's ``defaults.compute``, re-validated
  (``Ready=False InvalidSpec`` when the combination breaks Neon's rules).
* :func:`limits` — the endpoint fields Neon takes for it (unset ones left to Neon).
* :func:`update_limits` — PATCH an endpoint whose limits differ, wait, post ``ComputeUpdated``.
"""

from __future__ import annotations

from typing import Any

import pydantic

from neon_operator import errors, neon
from neon_operator.accounts import Account
from neon_operator.models import Compute
from neon_operator.neon import inputs
from neon_operator.reconcilers.reporting import Report

__all__ = ["limits", "update_limits", "wanted"]


def wanted(spec: Compute, account: Account) -> Compute:
    """``spec`` over ``account``'s NeonConfig ``defaults.compute``, checked as Neon would."""
    try:
        return spec.with_defaults(account.config.spec.defaults.compute)
    except pydantic.ValidationError as error:
        problem = "; ".join(str(e["msg"]) for e in error.errors(include_url=False))
        message = (
            f"spec.compute combined with NeonConfig {account.name!r} defaults.compute is "
            f"invalid: {problem}"
        )
        raise errors.AwaitChange("InvalidSpec", message) from None


def limits(compute: Compute) -> dict[str, float | int]:
    """The endpoint fields of ``compute`` (autoscaling range, suspend timeout) that are set."""
    fields: dict[str, float | int | None] = {
        "autoscaling_limit_min_cu": compute.min_cu,
        "autoscaling_limit_max_cu": compute.max_cu,
        "suspend_timeout_seconds": compute.suspend_timeout_seconds,
    }
    return {k: v for k, v in fields.items() if v is not None}


async def update_limits(
    client: neon.NeonClient,
    report: Report[Any],
    project_id: str,
    endpoint: neon.Endpoint,
    compute: Compute,
) -> neon.Endpoint:
    """``endpoint`` with ``compute``'s limits: PATCHed (and waited for) when they differ."""
    wanted_limits = limits(compute)
    if all(getattr(endpoint, key) == value for key, value in wanted_limits.items()):
        return endpoint
    result = await client.update_endpoint(
        project_id, endpoint.id, inputs.EndpointUpdate.model_validate(wanted_limits)
    )
    await client.wait_for_operations(result.operations)
    updated = result.endpoint
    suspend = {-1: "never suspends", 0: "suspends after Neon's default idle time"}.get(
        updated.suspend_timeout_seconds, f"suspends after {updated.suspend_timeout_seconds}s idle"
    )
    await report.event(
        "Normal",
        "ComputeUpdated",
        f"compute {updated.id}: {updated.autoscaling_limit_min_cu:g}-"
        f"{updated.autoscaling_limit_max_cu:g} CU, {suspend}",
    )
    return updated
