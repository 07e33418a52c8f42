"""The tier admission policy: committed YAML matches the generator."""

from __future__ import annotations

import pathlib

import pytest

from neon_operator import admission

pytestmark = pytest.mark.unit

ROOT = pathlib.Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "deploy/admission/tier-policy.yaml"


def test_committed_policy_matches_a_fresh_rendering() -> None:
    assert COMMITTED.read_text() == admission.render(), (
        "deploy/admission/ is out of date: run `neon-operator crds` and commit the result"
    )


def test_the_chart_carries_the_same_policy() -> None:
    assert (ROOT / admission.CHART_TEMPLATE).read_text() == admission.render_chart_template(), (
        "the chart's tier policy is out of date: run `neon-operator crds` and commit the result"
    )


def test_policy_never_blocks_the_operators_own_metadata_updates() -> None:
    policy, binding, *_ = admission.manifests()

    condition = policy["spec"]["matchConditions"][0]["expression"]
    assert "request.operation == 'CREATE'" in condition
    assert "deletionTimestamp" in condition
    assert binding["spec"]["paramRef"]["parameterNotFoundAction"] == "Allow"
