"""Setting `Ready` / `Synced` conditions the way kstatus, Argo CD and Flux read them.

A condition keeps its ``lastTransitionTime`` while its status stays the same (only reason or
message changed), and carries the generation it was computed from. Reasons are CamelCase words
a person can search for; messages say what is wrong and what to do.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence
from typing import Final

from neon_operator.models import READY, SYNCED, Condition, ConditionStatus

__all__ = ["READY", "SYNCED", "Change", "changed", "set_condition"]

MAX_MESSAGE: Final = 1024
"""Messages are cut here: a condition is a summary, the details are in the events and logs."""


@dataclasses.dataclass(frozen=True)
class Change:
    """A condition to set: type, status, reason and message."""

    type: str
    status: ConditionStatus
    reason: str
    message: str = ""


def set_condition(
    conditions: Sequence[Condition],
    change: Change,
    *,
    generation: int | None,
    now: datetime.datetime,
) -> list[Condition]:
    """``conditions`` with ``change`` applied (others kept, order stable, new ones appended)."""
    message = change.message if len(change.message) <= MAX_MESSAGE else change.message[:1021] + "…"
    result: list[Condition] = []
    found = False
    for existing in conditions:
        if existing.type != change.type:
            result.append(existing)
            continue
        found = True
        transition = existing.last_transition_time if existing.status == change.status else now
        result.append(_condition(change, message, transition, generation))
    if not found:
        result.append(_condition(change, message, now, generation))
    return result


def _condition(
    change: Change, message: str, transition: datetime.datetime, generation: int | None
) -> Condition:
    return Condition(
        type=change.type,
        status=change.status,
        reason=change.reason,
        message=message,
        last_transition_time=transition,
        observed_generation=generation,
    )


def changed(before: Condition | None, after: Condition | None) -> bool:
    """Whether status or reason differ (what deserves a Kubernetes Event)."""
    if before is None or after is None:
        return before is not after
    return (before.status, before.reason) != (after.status, after.reason)
