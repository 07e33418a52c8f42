"""Who may adopt a Neon project: only the namespace the operator made it for (or anyone, if the
operator did not make it)."""

from __future__ import annotations

import pytest

from neon_operator import ownership
from neon_operator.settings import Settings

pytestmark = pytest.mark.unit

KEYS = {
    "key": Settings().owner_annotation,
    "namespace_key": Settings().owner_namespace_annotation,
}


def marked(uid: str, namespace: str) -> dict[str, str]:
    return ownership.owner_annotations(
        KEYS["key"], uid, namespace_key=KEYS["namespace_key"], namespace=namespace
    )


def test_a_project_made_for_a_namespace_is_adoptable_there_only() -> None:
    annotations = marked("uid-1", "team-a")
    assert ownership.adoption_refusal(annotations, namespace="team-a", **KEYS) is None
    refusal = ownership.adoption_refusal(annotations, namespace="team-b", **KEYS)
    assert refusal is not None
    assert "'team-a'" in refusal


def test_a_project_the_operator_did_not_make_is_adoptable_anywhere() -> None:
    assert ownership.adoption_refusal({"env": "prod"}, namespace="team-b", **KEYS) is None


def test_a_project_marked_without_its_namespace_is_refused() -> None:
    legacy = {KEYS["key"]: "uid-1"}
    assert ownership.adoption_refusal(legacy, namespace="team-a", **KEYS) is not None
