"""NeonSnapshotSchedule without a cluster: cron parsing, which slot is due at an injected "now",
retention by count and age, snapshot names, and the model's mirrored admission rules."""

from __future__ import annotations

import datetime

import pydantic
import pytest

from neon_operator import crds, cron, models
from neon_operator.models import NeonSnapshotSchedule
from neon_operator.reconcilers import schedule
from neon_operator.reconcilers.schedule import Taken

pytestmark = pytest.mark.unit

UTC = datetime.UTC


def at(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- cron expressions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "* * * * *",
        "0 3 * * *",
        "*/15 * * * *",
        "0 0-23/6 1,15 * MON-FRI",
        "0 0 1 JAN *",
        "5 4 * * 7",
    ],
)
def test_standard_five_field_schedules_parse(expression: str) -> None:
    assert cron.parse(expression).expression == expression


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ("* * * *", "five cron fields"),
        ("* * * * * *", "five cron fields"),
        ("@hourly", "five cron fields"),
        ("61 * * * *", "out of range"),
        ("0 24 * * *", "out of range"),
        ("0 0 L * *", "day-of-month field 'L' takes numbers"),
        ("0 0 * * 1#2", "five cron fields"),
        ("0 0 * * MONDAY", "day-of-week field"),
        ("0 0 * FOO *", "month field"),
        ("0 0 31 2 *", "never falls on a date"),
        ("0 0 30 FEB *", "never falls on a date"),
    ],
)
def test_anything_else_is_refused_naming_what_is_wrong(expression: str, names: str) -> None:
    with pytest.raises(cron.InvalidSchedule, match=names):
        cron.parse(expression)


def test_the_admission_regex_is_the_one_the_parser_checks_first() -> None:
    definition = crds.definition(crds.NEON_SNAPSHOT_SCHEDULE)
    spec = definition["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    rule = spec["properties"]["schedule"]["x-kubernetes-validations"][0]["rule"]

    assert rule == f"self.matches('{cron.SHAPE}')"


# -- which slot is due ---------------------------------------------------------------------


def test_a_new_schedule_waits_for_its_first_slot() -> None:
    every_hour = cron.parse("0 * * * *")

    slot, following = cron.due(
        every_hour, last=None, since=at("2026-01-01T10:15:00"), now=at("2026-01-01T10:15:02")
    )

    assert slot is None
    assert following == at("2026-01-01T11:00:00")


def test_the_slot_is_due_from_its_very_minute() -> None:
    every_hour = cron.parse("0 * * * *")

    slot, following = cron.due(
        every_hour, last=None, since=at("2026-01-01T10:15:00"), now=at("2026-01-01T11:00:00")
    )

    assert slot == at("2026-01-01T11:00:00")
    assert following == at("2026-01-01T12:00:00")


def test_a_slot_already_taken_is_not_due_again() -> None:
    every_hour = cron.parse("0 * * * *")

    slot, _ = cron.due(
        every_hour,
        last=at("2026-01-01T11:00:00"),
        since=at("2026-01-01T10:15:00"),
        now=at("2026-01-01T11:40:00"),
    )

    assert slot is None


def test_after_downtime_only_the_latest_missed_slot_is_taken() -> None:
    every_hour = cron.parse("0 * * * *")

    slot, following = cron.due(
        every_hour,
        last=at("2026-01-01T11:00:00"),
        since=at("2026-01-01T10:15:00"),
        now=at("2026-01-01T17:30:00"),
    )

    assert slot == at("2026-01-01T17:00:00")
    assert following == at("2026-01-01T18:00:00")


def test_slots_are_utc_whatever_zone_now_is_given_in() -> None:
    daily = cron.parse("0 3 * * *")
    berlin = datetime.timezone(datetime.timedelta(hours=1))

    slot, following = cron.due(
        daily,
        last=at("2026-01-01T03:00:00"),
        since=at("2026-01-01T00:00:00"),
        now=datetime.datetime(2026, 1, 2, 4, 30, tzinfo=berlin),
    )

    assert slot == at("2026-01-02T03:00:00")
    assert following == at("2026-01-03T03:00:00")


# -- names ---------------------------------------------------------------------------------


def a_schedule(**spec: object) -> NeonSnapshotSchedule:
    return NeonSnapshotSchedule.model_validate(
        {
            "apiVersion": models.API_VERSION,
            "kind": "NeonSnapshotSchedule",
            "metadata": {"name": "nightly", "namespace": "team-a", "uid": "u-1"},
            "spec": {
                "appDatabaseRef": {"name": "shop"},
                "schedule": "0 3 * * *",
                "keep": 7,
                **spec,
            },
        }
    )


def test_a_slot_has_exactly_one_snapshot_name_so_a_restart_never_makes_twins() -> None:
    slot = at("2026-03-04T03:00:00")

    assert schedule.snapshot_name(a_schedule(), slot) == "nightly-202603040300"
    assert schedule.snapshot_name(a_schedule(), slot) == schedule.snapshot_name(a_schedule(), slot)
    prefixed = a_schedule(snapshotNamePrefix="shop-cp")
    assert schedule.snapshot_name(prefixed, slot) == "shop-cp-202603040300"


# -- retention -----------------------------------------------------------------------------

NOW = at("2026-01-10T12:00:00")


def taken(name: str, hours_ago: float, ready: bool = True) -> Taken:
    return Taken(name=name, time=NOW - datetime.timedelta(hours=hours_ago), ready=ready)


def names(found: list[Taken]) -> list[str]:
    return sorted(t.name for t in found)


def test_keep_expires_the_oldest_beyond_the_count() -> None:
    snaps = [taken("a", 4), taken("b", 3), taken("c", 2), taken("d", 1)]

    assert names(schedule.expired(snaps, keep=2, max_age=None, now=NOW)) == ["a", "b"]


def test_a_snapshot_still_being_taken_does_not_push_out_a_ready_one() -> None:
    snaps = [taken("a", 3), taken("b", 2), taken("c", 0, ready=False)]

    assert names(schedule.expired(snaps, keep=2, max_age=None, now=NOW)) == []
    done = [taken("a", 3), taken("b", 2), taken("c", 0)]
    assert names(schedule.expired(done, keep=2, max_age=None, now=NOW)) == ["a"]


def test_a_failed_snapshot_older_than_the_kept_ones_goes_like_any_other() -> None:
    snaps = [taken("failed", 5, ready=False), taken("b", 2), taken("c", 1)]

    assert names(schedule.expired(snaps, keep=2, max_age=None, now=NOW)) == ["failed"]


def test_max_age_expires_by_due_time() -> None:
    snaps = [taken("old", 170), taken("edge", 168), taken("new", 1)]

    found = schedule.expired(snaps, keep=None, max_age=datetime.timedelta(hours=168), now=NOW)

    assert names(found) == ["old"]


def test_keep_and_max_age_together_expire_what_either_says() -> None:
    snaps = [taken("ancient", 500), taken("a", 3), taken("b", 2), taken("c", 1)]

    found = schedule.expired(snaps, keep=2, max_age=datetime.timedelta(hours=168), now=NOW)

    assert names(found) == ["a", "ancient"]


@pytest.mark.parametrize(
    ("text", "seconds"), [("168h", 604800), ("90m", 5400), ("1h30m", 5400), ("45s", 45)]
)
def test_durations_read_like_kubernetes_ones(text: str, seconds: int) -> None:
    assert cron.parse_duration(text) == datetime.timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "7d", "1.5h", "h", "10"])
def test_other_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        cron.parse_duration(text)


# -- the model -----------------------------------------------------------------------------


def test_a_schedule_must_expire_what_it_makes() -> None:
    with pytest.raises(pydantic.ValidationError, match="set keep, maxAge or both"):
        models.NeonSnapshotScheduleSpec.model_validate(
            {"appDatabaseRef": {"name": "shop"}, "schedule": "0 3 * * *"}
        )


@pytest.mark.parametrize("spec", [{"keep": 0}, {"maxAge": "0h"}, {"maxAge": "7d"}])
def test_retention_must_be_positive_and_well_formed(spec: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError):
        models.NeonSnapshotScheduleSpec.model_validate(
            {"appDatabaseRef": {"name": "shop"}, "schedule": "0 3 * * *", **spec}
        )


def test_defaults_are_not_suspended_and_prefixed_by_the_schedule_name() -> None:
    sched = a_schedule()

    assert sched.spec.suspend is False
    assert sched.spec.snapshot_name_prefix is None
    assert sched.spec.max_age is None
