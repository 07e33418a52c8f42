"""Parsing Neon's JSON: tolerant of new fields, secrets masked, the public surface stable."""

from __future__ import annotations

from typing import Any

import pytest

import neon_operator.neon as neon
from neon_operator.neon import (
    BranchCreate,
    CreatedProject,
    Endpoint,
    EndpointSettings,
    Operation,
    ProjectCreate,
)

pytestmark = pytest.mark.unit

PASSWORD = "npg_N67FDMtGvJke"
URI = f"postgresql://neondb_owner:{PASSWORD}@ep-round-unit-afbn7qv4.us-east-2.aws.neon.tech/neondb"


def created_project() -> dict[str, Any]:
    """Abbreviated from a real 2025 create-project response, with one key Neon may add."""
    endpoint = {
        "id": "ep-round-unit-afbn7qv4",
        "project_id": "cold-bonus-61650555",
        "branch_id": "br-green-mode-afe3fl9y",
        "host": "ep-round-unit-afbn7qv4.c-2.us-east-2.aws.neon.tech",
        "type": "read_write",
        "current_state": "init",
        "pending_state": "active",
        "autoscaling_limit_min_cu": 0.25,
        "autoscaling_limit_max_cu": 0.25,
        "suspend_timeout_seconds": 0,
        "settings": {},
        "brand_new_field": {"anything": True},
    }
    return {
        "project": {
            "id": "cold-bonus-61650555",
            "name": "app",
            "region_id": "aws-us-east-2",
            "pg_version": 17,
            "proxy_host": "c-2.us-east-2.aws.neon.tech",
            "consumption_period_start": "0001-01-01T00:00:00Z",
        },
        "branch": {
            "id": "br-green-mode-afe3fl9y",
            "project_id": "cold-bonus-61650555",
            "name": "main",
            "current_state": "init",
            "pending_state": "ready",
            "default": True,
        },
        "endpoints": [endpoint],
        "roles": [
            {"branch_id": "br-green-mode-afe3fl9y", "name": "neondb_owner", "password": PASSWORD}
        ],
        "databases": [
            {
                "id": 6677853,
                "branch_id": "br-green-mode-afe3fl9y",
                "name": "neondb",
                "owner_name": "neondb_owner",
            }
        ],
        "connection_uris": [
            {
                "connection_uri": URI,
                "connection_parameters": {
                    "database": "neondb",
                    "role": "neondb_owner",
                    "host": "ep-round-unit-afbn7qv4.c-2.us-east-2.aws.neon.tech",
                    "pooler_host": "ep-round-unit-afbn7qv4-pooler.c-2.us-east-2.aws.neon.tech",
                    "password": PASSWORD,
                },
            }
        ],
        "operations": [
            {
                "id": "7fda088f-8f28-41c2-9700-085b6d8e5378",
                "project_id": "cold-bonus-61650555",
                "action": "create_timeline",
                "status": "running",
                "failures_count": 0,
            }
        ],
    }


def test_a_create_response_parses_with_fields_we_do_not_know() -> None:
    created = CreatedProject.model_validate(created_project())
    assert created.branch.default
    assert created.endpoints[0].type == "read_write"
    assert created.roles[0].password is not None
    assert created.roles[0].password.get_secret_value() == PASSWORD
    assert created.connection_uris[0].connection_uri.get_secret_value() == URI


def test_secrets_do_not_show_in_repr_or_str() -> None:
    created = CreatedProject.model_validate(created_project())
    for text in (repr(created), str(created), repr(created.connection_uris)):
        assert PASSWORD not in text


def test_pooler_host_inserts_pooler_after_the_endpoint_id() -> None:
    endpoint = Endpoint.model_validate(created_project()["endpoints"][0])
    assert endpoint.pooler_host == "ep-round-unit-afbn7qv4-pooler.c-2.us-east-2.aws.neon.tech"


@pytest.mark.parametrize(
    ("status", "succeeded", "failed"),
    [
        ("scheduling", False, False),
        ("running", False, False),
        ("cancelling", False, False),
        ("some_future_status", False, False),
        ("finished", True, False),
        ("skipped", True, False),
        ("failed", False, True),
        ("error", False, True),
        ("cancelled", False, True),
    ],
)
def test_operation_status_classification(status: str, succeeded: bool, failed: bool) -> None:
    op = Operation(id="o", project_id="p", action="start_compute", status=status)
    assert (op.succeeded, op.failed) == (succeeded, failed)


def test_request_bodies_leave_out_what_is_unset_but_keep_zero() -> None:
    body = ProjectCreate(
        name="app", default_endpoint_settings=EndpointSettings(suspend_timeout_seconds=0)
    ).to_json()
    assert body == {"name": "app", "default_endpoint_settings": {"suspend_timeout_seconds": 0}}


def test_request_bodies_refuse_unknown_fields() -> None:
    with pytest.raises(ValueError, match="parent_idd"):
        BranchCreate.model_validate({"parent_idd": "br-x"})


def test_public_surface_matches_all() -> None:
    public = {name for name in vars(neon) if not name.startswith("_")}
    modules = {"calls", "client", "errors", "inputs", "models", "operations", "ratelimit"}
    modules |= {"reachability", "retries", "session"}
    assert public - modules == set(neon.__all__)
