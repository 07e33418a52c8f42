"""NeonBranch, NeonSnapshot and NeonRestore models: defaults and the rules mirrored from CEL."""

from __future__ import annotations

import pydantic
import pytest

from neon_operator import admission, crds, models
from neon_operator.models import ComputeType, OldBranchPolicy, RestoreMode

pytestmark = pytest.mark.unit


def test_a_branch_needs_only_its_app_database_and_gets_a_read_write_compute() -> None:
    spec = models.NeonBranchSpec.model_validate({"appDatabaseRef": {"name": "shop"}})

    assert spec.compute.type == ComputeType.READ_WRITE
    assert spec.compute.type.neon == "read_write"
    assert spec.parent_branch_ref is None
    assert spec.deletion_policy == models.DeletionPolicy.DELETE


def test_two_points_in_time_are_refused_with_the_admission_message() -> None:
    with pytest.raises(pydantic.ValidationError, match="mutually exclusive"):
        models.NeonBranchSpec.model_validate(
            {
                "appDatabaseRef": {"name": "shop"},
                "parentTimestamp": "2026-01-02T03:04:05Z",
                "parentLsn": "0/1DE2850",
            }
        )


@pytest.mark.parametrize("lsn", ["0/1de2850", "1DE2850", "0/", "yesterday"])
def test_a_malformed_lsn_is_refused(lsn: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        models.NeonBranchSpec.model_validate({"appDatabaseRef": {"name": "a"}, "parentLsn": lsn})


def test_every_reference_that_can_name_a_namespace_is_checked_at_admission() -> None:
    referencing = set()
    for kind in (k for k in crds.KINDS if k.scope == "Namespaced"):
        schema = crds.definition(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        for field, node in schema["properties"]["spec"]["properties"].items():
            if field.endswith("Ref") and "namespace" in node.get("properties", {}):
                referencing.add((kind.plural, field))

    checked = {
        (plural, field)
        for field, plurals in admission.LOCAL_REFERENCES.items()
        for plural in plurals
    }
    assert referencing == checked


def test_a_restore_defaults_to_one_step_keeping_the_old_branch() -> None:
    spec = models.NeonRestoreSpec.model_validate({"snapshotRef": {"name": "cp"}})

    assert spec.mode == RestoreMode.FINALIZE
    assert spec.finalize is False
    assert spec.old_branch_policy == OldBranchPolicy.RETAIN
    assert spec.target_branch_ref is None


def test_every_new_kind_is_registered_with_ready_in_its_printer_columns() -> None:
    kinds = {kind.kind: kind for kind in crds.KINDS}

    for name in ("NeonBranch", "NeonSnapshot", "NeonRestore"):
        columns = [column.name for column in kinds[name].printer_columns]
        assert "Ready" in columns
        assert "Age" in columns
