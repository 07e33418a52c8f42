"""NeonSnapshotSchedule: snapshots of a NeonAppDatabase on a cron schedule, expired by count
or age.

At each due time (standard five-field cron, UTC) the schedule creates a NeonSnapshot named
``<snapshotNamePrefix>-<yyyymmddhhmm>`` of that time, labelled
``neon.operator.dev/schedule: <schedule name>`` and owned by the schedule (and, like every
snapshot, by its NeonAppDatabase); the NeonSnapshot takes the Neon snapshot. The name is a
function of the due time, so a crash or restart never makes two snapshots for one slot. The
schedule then deletes its oldest NeonSnapshots beyond ``keep`` and those older than ``maxAge``
(their own finalizers delete the Neon snapshots).

Slots missed while the operator was down (or the schedule suspended) are not replayed: the
latest one is taken when the schedule runs again, the earlier ones are skipped (CronJob's
behaviour with a starting deadline). Deleting the schedule keeps its snapshots: they still
belong to the NeonAppDatabase (delete them with ``-l neon.operator.dev/schedule=<name>``).
"""

from __future__ import annotations

import re
from typing import Annotated, Final, Self

import pydantic
from pydantic import Field, StringConstraints

from neon_operator.cron import DURATION, SHAPE, parse_duration
from neon_operator.models.branch import AppDatabaseRef
from neon_operator.models.common import (
    GROUP,
    Model,
    ObjectMeta,
    Status,
    Timestamp,
    cel,
    immutable,
    validations,
)

KIND: Final = "NeonSnapshotSchedule"
SCHEDULE_LABEL: Final = f"{GROUP}/schedule"
"""Label on every NeonSnapshot a schedule made: the schedule's name (as
:func:`~neon_operator.models.common.label_value` makes a label value of it: a name longer than
63 characters is shortened with a digest)."""
SCHEDULED_TIME_ANNOTATION: Final = f"{GROUP}/scheduled-time"
"""Annotation on every NeonSnapshot a schedule made: the due time it was made for (RFC 3339)."""
PREFIX_PATTERN: Final = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

_SHAPE_MESSAGE: Final = (
    "schedule must be five cron fields separated by spaces (minute hour day-of-month month "
    "day-of-week, UTC), e.g. '0 3 * * *'"
)
_RETENTION_MESSAGE: Final = (
    "set keep, maxAge or both: a schedule must expire the snapshots it makes (Neon limits "
    "manual snapshots per project)"
)

CronExpression = Annotated[str, StringConstraints(min_length=9, max_length=128)]
Duration = Annotated[str, StringConstraints(pattern=DURATION, min_length=2, max_length=32)]
NamePrefix = Annotated[str, StringConstraints(pattern=PREFIX_PATTERN, max_length=200)]


class NeonSnapshotScheduleSpec(Model):
    """When to snapshot which NeonAppDatabase, and how many snapshots to keep for how long."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=validations(
            cel("has(self.keep) || has(self.maxAge)", _RETENTION_MESSAGE, field_path=".keep"),
        )
    )

    app_database_ref: AppDatabaseRef = Field(
        json_schema_extra=validations(
            immutable("appDatabaseRef", "create another NeonSnapshotSchedule for another app")
        )
    )
    """The NeonAppDatabase (same namespace) whose default branch is snapshotted. Immutable."""
    schedule: CronExpression = Field(
        json_schema_extra=validations(cel(f"self.matches('{SHAPE}')", _SHAPE_MESSAGE))
    )
    """Standard five-field cron expression in UTC (`minute hour day-of-month month
    day-of-week`), e.g. `0 */6 * * *` every six hours; month and weekday names allowed."""
    keep: Annotated[int, Field(ge=1)] | None = None
    """How many of the schedule's snapshots to keep (the newest; a snapshot still being taken
    does not push out a ready one). Neon limits manual snapshots per project."""
    max_age: Duration | None = Field(
        None,
        json_schema_extra=validations(
            cel("duration(self) > duration('0s')", "maxAge must be longer than 0s")
        ),
    )
    """Delete the schedule's snapshots older than this (`168h`, `1h30m`; hours, minutes,
    seconds), counted from the time each was due."""
    suspend: bool = False
    """`true` stops new snapshots and expiry alike; on resuming, only the latest missed slot is
    taken."""
    snapshot_name_prefix: NamePrefix | None = None
    """Prefix of the NeonSnapshots' names, `<prefix>-<yyyymmddhhmm>`; default `metadata.name`."""

    @pydantic.field_validator("schedule")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        if not re.fullmatch(SHAPE, value):
            raise ValueError(_SHAPE_MESSAGE)
        return value

    @pydantic.model_validator(mode="after")
    def _expires(self) -> Self:
        if self.keep is None and self.max_age is None:
            raise ValueError(_RETENTION_MESSAGE)
        if self.max_age is not None and not parse_duration(self.max_age):
            raise ValueError("maxAge must be longer than 0s")
        return self


class NeonSnapshotScheduleStatus(Status):
    """What the schedule did last and will do next."""

    last_schedule_time: Timestamp | None = None
    """The due time of the last snapshot the schedule made."""
    next_schedule_time: Timestamp | None = None
    """The next due time (absent while suspended or invalid)."""
    active: list[Annotated[str, StringConstraints(max_length=253)]] = Field(
        default_factory=list, max_length=1000
    )
    """Names of the schedule's NeonSnapshots that exist now, oldest first."""


class NeonSnapshotSchedule(Model):
    """A whole NeonSnapshotSchedule object, as the apiserver returns it."""

    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: NeonSnapshotScheduleSpec
    status: NeonSnapshotScheduleStatus = NeonSnapshotScheduleStatus()
