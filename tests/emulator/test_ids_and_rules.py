"""Pure rules: id formats, LSNs, compute limits, the rate-limit bucket, error messages."""

from __future__ import annotations

import re

import pytest

from neon_emulator import bodies, compute, errors, ids
from neon_emulator.ratelimit import Bucket

pytestmark = pytest.mark.unit


def test_ids_look_like_neons() -> None:
    assert re.fullmatch(r"[a-z]+-[a-z]+-\d{8}", ids.project_id())
    assert re.fullmatch(r"br-[a-z]+-[a-z]+-a5[a-z0-9]{6}", ids.branch_id("aws-us-east-2"))
    assert re.fullmatch(r"ep-[a-z]+-[a-z]+-af[a-z0-9]{6}", ids.endpoint_id("aws-us-west-2"))
    assert re.fullmatch(r"snap-[a-z]+-[a-z]+-[a-z0-9]{8}", ids.snapshot_id("aws-us-east-1"))
    assert re.fullmatch(r"org-[a-z]+-[a-z]+-\d{8}", ids.organization_id())
    assert re.fullmatch(r"napi_[a-z0-9]{64}", ids.api_key())
    assert re.fullmatch(r"npg_[A-Za-z0-9]{12}", ids.password())


@pytest.mark.parametrize("value", [0, 0x1DE2850, (3 << 32) | 0xABC])
def test_lsn_text_round_trips(value: int) -> None:
    assert ids.parse_lsn(ids.format_lsn(value)) == value


def test_lsn_text_looks_like_postgres() -> None:
    assert ids.format_lsn(0x1DE2850) == "0/1DE2850"


@pytest.mark.parametrize("text", ["", "1DE2850", "0/", "/1", "x/1", "123456789/0"])
def test_malformed_lsn_is_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="LSN"):
        ids.parse_lsn(text)


@pytest.mark.parametrize(
    ("low", "high"), [(0.25, 0.25), (0.25, 8), (1, 9), (8, 16), (56, 56), (18, 18)]
)
def test_valid_compute_ranges(low: float, high: float) -> None:
    compute.check_limits(low, high)


@pytest.mark.parametrize(
    ("low", "high", "mentions"),
    [
        (2, 1, "autoscaling_limit_max_cu (1) must be greater than or equal"),
        (0.3, 1, "autoscaling_limit_min_cu: 0.3 is not an available compute size"),
        (0.25, 9, "must not exceed 8 CU"),
        (16, 18, "autoscaling goes up to 16"),
        (58, 58, "not an available compute size"),
    ],
)
def test_invalid_compute_ranges_name_the_field(low: float, high: float, mentions: str) -> None:
    with pytest.raises(errors.BadRequest, match=re.escape(mentions)):
        compute.check_limits(low, high)


@pytest.mark.parametrize("value", [-1, 0, 60, 300, 604_800])
def test_valid_suspend_timeouts(value: int) -> None:
    compute.check_suspend_timeout(value)


@pytest.mark.parametrize("value", [1, 59, -2, 604_801])
def test_invalid_suspend_timeouts(value: int) -> None:
    with pytest.raises(errors.BadRequest, match="suspend_timeout_seconds"):
        compute.check_suspend_timeout(value)


def test_bucket_refills_over_time_and_says_how_long_to_wait() -> None:
    bucket = Bucket(capacity=2, rate=1, tokens=2, stamp=0.0)
    assert bucket.take(0.0) == 0
    assert bucket.take(0.0) == 0
    assert bucket.take(0.0) == pytest.approx(1.0)
    assert bucket.take(0.5) == pytest.approx(0.5)
    assert bucket.take(1.0) == 0


def test_validation_message_names_the_nested_field() -> None:
    with pytest.raises(errors.BadRequest) as raised:
        bodies.validate(bodies.ProjectCreate, {"project": {"pg_version": 13}})
    assert raised.value.message == (
        "invalid request: decode application/json: invalid: project.pg_version "
        "(value 13 is less than minimum 14)"
    )


def test_strict_bodies_reject_strings_for_numbers() -> None:
    with pytest.raises(errors.BadRequest, match="pg_version"):
        bodies.validate(bodies.ProjectCreate, {"project": {"pg_version": "17"}})


def test_strict_bodies_accept_integers_for_compute_units() -> None:
    spec = bodies.validate(
        bodies.ProjectCreate,
        {"project": {"default_endpoint_settings": {"autoscaling_limit_max_cu": 2}}},
    )
    assert spec.project.default_endpoint_settings is not None
    assert spec.project.default_endpoint_settings.autoscaling_limit_max_cu == 2
