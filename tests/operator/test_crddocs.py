"""The Markdown CRD reference is generated from the CRD schemas and committed up to date."""

from __future__ import annotations

import pathlib

import pytest

from neon_operator import crddocs, crds

pytestmark = pytest.mark.unit

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_committed_reference_matches_the_models() -> None:
    committed = (ROOT / crddocs.PATH).read_text(encoding="utf-8")
    assert committed == crddocs.render(), (
        f"{crddocs.PATH} is out of date: run `neon-operator crds` and commit the result"
    )


def test_every_kind_and_every_cel_message_appears_in_the_reference() -> None:
    reference = crddocs.render()
    for kind in crds.KINDS:
        assert f"## {kind.kind}\n" in reference
        rendered = crds.render()[kind.file_name]
        for line in rendered.splitlines():
            if line.strip().startswith("message:"):
                message = line.split("message:", 1)[1].strip().strip("'\"")
                assert message[:40] in reference, message


def test_a_nested_field_is_listed_with_its_default_and_bounds() -> None:
    reference = crddocs.render()
    assert "| `rateLimit.requestsPerMinute` | integer | `700` |" in reference
    assert "(≥ 1, ≤ 100000)" in reference
