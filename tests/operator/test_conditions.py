"""Conditions keep their transition time unless their status changes."""

from __future__ import annotations

import datetime

import pytest

from neon_operator import conditions

pytestmark = pytest.mark.unit

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
T1 = T0 + datetime.timedelta(minutes=5)


def test_a_new_reason_with_the_same_status_keeps_the_transition_time() -> None:
    first = conditions.set_condition(
        [], conditions.Change("Ready", "False", "Provisioning", "wait"), generation=1, now=T0
    )
    second = conditions.set_condition(
        first, conditions.Change("Ready", "False", "NeonRejected", "no"), generation=2, now=T1
    )

    assert [(c.reason, c.last_transition_time, c.observed_generation) for c in second] == [
        ("NeonRejected", T0, 2)
    ]


def test_a_status_change_moves_the_transition_time_and_leaves_other_types_alone() -> None:
    start = conditions.set_condition(
        [], conditions.Change("Synced", "True", "ReconcileSucceeded"), generation=1, now=T0
    )
    start = conditions.set_condition(
        start, conditions.Change("Ready", "False", "Provisioning"), generation=1, now=T0
    )

    after = conditions.set_condition(
        start, conditions.Change("Ready", "True", "ProjectReady"), generation=1, now=T1
    )

    assert [(c.type, c.status, c.last_transition_time) for c in after] == [
        ("Synced", "True", T0),
        ("Ready", "True", T1),
    ]
    assert conditions.changed(start[1], after[1])
    assert not conditions.changed(after[0], start[0])
