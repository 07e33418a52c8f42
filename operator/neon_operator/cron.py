"""Cron schedules of NeonSnapshotSchedule: standard five-field expressions, always in UTC.

``minute hour day-of-month month day-of-week``, each a number, ``*``, a range ``a-b``, a list
``a,b`` or a step ``*/n`` / ``a-b/n``; months and weekdays may be written as three-letter names
(``JAN``, ``MON``). No seconds field, no ``@hourly`` macros and none of Quartz's ``L``, ``W``,
``#`` or ``?``: what every cron (and Kubernetes' CronJob) understands. Iteration is croniter's
(day-of-month and day-of-week restrict with OR when both are set, as in Vixie cron).

A schedule asks two questions of a clock, both answered here without side effects so they are
tested with an injected ``now``: which slot is due (:func:`due`: only the latest one missed,
never a burst of catch-up runs) and when the one after it comes.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from typing import Final

from croniter import CroniterBadDateError, croniter

__all__ = ["SHAPE", "Cron", "InvalidSchedule", "due", "parse", "parse_duration"]

SHAPE: Final = r"^[0-9A-Za-z*/,-]+( +[0-9A-Za-z*/,-]+){4}$"
"""Five fields of cron characters separated by spaces: what admission (CEL) checks."""

DURATION: Final = r"^([0-9]+h)?([0-9]+m)?([0-9]+s)?$"
"""A duration as Kubernetes writes them, in hours, minutes and seconds: `168h`, `1h30m`."""

_NAMES: Final = {
    3: {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"},
    4: {"sun", "mon", "tue", "wed", "thu", "fri", "sat"},
}
_FIELDS: Final = ("minute", "hour", "day-of-month", "month", "day-of-week")


class InvalidSchedule(ValueError):
    """The expression is not a standard five-field cron schedule; the message says why."""


@dataclasses.dataclass(frozen=True)
class Cron:
    """A parsed schedule; slots are whole minutes in UTC."""

    expression: str

    def next_after(self, moment: datetime.datetime) -> datetime.datetime:
        """The first slot strictly after ``moment``."""
        found: datetime.datetime = croniter(self.expression, _utc(moment)).get_next(
            datetime.datetime
        )
        return found

    def latest_until(self, moment: datetime.datetime) -> datetime.datetime:
        """The last slot at or before ``moment``."""
        # croniter's previous slot is strictly before its base; a slot is a whole minute, so
        # basing one second later includes a slot at exactly ``moment``.
        base = _utc(moment).replace(microsecond=0) + datetime.timedelta(seconds=1)
        found: datetime.datetime = croniter(self.expression, base).get_prev(datetime.datetime)
        return found


def _utc(moment: datetime.datetime) -> datetime.datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC)


def parse(expression: str) -> Cron:
    """The schedule ``expression``; :class:`InvalidSchedule` names the field at fault."""
    text = " ".join(expression.split())
    if not re.fullmatch(SHAPE, text):
        raise InvalidSchedule(
            f"schedule {expression!r} is not five cron fields (minute hour day-of-month month "
            "day-of-week), e.g. '0 3 * * *' for 03:00 UTC daily"
        )
    for index, field in enumerate(text.split(" ")):
        for word in re.findall(r"[A-Za-z]+", field):
            if word.lower() not in _NAMES.get(index, set()):
                allowed = "names like JAN" if index == 3 else "names like MON"
                hint = allowed if index in _NAMES else "numbers"
                raise InvalidSchedule(
                    f"schedule {expression!r}: {_FIELDS[index]} field {field!r} takes {hint}, "
                    f"not {word!r}"
                )
    if not croniter.is_valid(text):
        raise InvalidSchedule(
            f"schedule {expression!r} has a value out of range (minute 0-59, hour 0-23, "
            "day-of-month 1-31, month 1-12, day-of-week 0-7)"
        )
    try:  # each field in range, yet no date matches (31 February): the reconcile would crash
        croniter(text, datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)).get_next()
    except CroniterBadDateError:
        raise InvalidSchedule(
            f"schedule {expression!r} never falls on a date (its day-of-month does not occur "
            "in its months)"
        ) from None
    return Cron(text)


def due(
    cron: Cron,
    *,
    last: datetime.datetime | None,
    since: datetime.datetime,
    now: datetime.datetime,
) -> tuple[datetime.datetime | None, datetime.datetime]:
    """The slot to run now and the next slot after ``now``.

    The slot to run is the latest one after ``last`` (the last slot run) or, when nothing ran
    yet, after ``since`` (the schedule's creation), and not after ``now``; ``None`` when no slot
    fell in between. Slots missed before that one (the operator was down) are skipped: a
    schedule catches up with one run, not with a burst.
    """
    after = last or since
    latest = cron.latest_until(now)
    return (latest if latest > after else None), cron.next_after(now)


def parse_duration(text: str) -> datetime.timedelta:
    """``168h``, ``90m``, ``1h30m``, ``45s`` as a timedelta; ``ValueError`` otherwise."""
    found = re.fullmatch(DURATION, text)
    if not text or found is None:
        raise ValueError(f"{text!r} is not a duration like '168h' or '1h30m'")
    hours, minutes, seconds = (int(part[:-1]) if part else 0 for part in found.groups())
    return datetime.timedelta(hours=hours, minutes=minutes, seconds=seconds)
