"""The CRD models: defaults, wire names, lenient parsing, and Neon's rules mirrored from CEL."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pydantic
import pytest

from neon_operator import crds, models
from neon_operator.models import compute

pytestmark = pytest.mark.unit

API_KEY_REF = {"namespace": "neon-system", "name": "neon-api"}


def test_exported_names_match_all() -> None:
    public = {name for name in dir(models) if not name.startswith("_")}
    modules = {
        "appdatabase",
        "branch",
        "common",
        "compute",
        "integrations",
        "neonconfig",
        "restore",
        "schedule",
        "snapshot",
    }

    assert public - modules == set(models.__all__)


def test_an_empty_app_database_spec_gets_every_default() -> None:
    spec = models.NeonAppDatabaseSpec.model_validate({})

    assert spec.config_ref.name == "default"
    assert spec.tier == "free"
    assert spec.branch == models.BranchSettings(
        name="main", database_name="neondb", role_name="neondb_owner"
    )
    assert spec.deletion_policy is models.DeletionPolicy.DELETE
    assert spec.region_id is None
    assert spec.pg_version is None
    assert spec.compute == models.Compute()
    assert spec.connection_secret.key_prefix == ""


def test_fields_travel_in_camel_case_and_can_be_built_by_name() -> None:
    by_alias = models.NeonAppDatabaseSpec.model_validate(
        {"regionId": "aws-eu-central-1", "compute": {"minCu": 0.25, "maxCu": 2}}
    )
    by_name = models.NeonAppDatabaseSpec(
        region_id="aws-eu-central-1", compute=models.Compute(min_cu=0.25, max_cu=2)
    )

    assert by_alias == by_name
    dumped = by_name.model_dump(exclude_none=True)
    assert dumped["regionId"] == "aws-eu-central-1"
    assert dumped["compute"] == {"minCu": 0.25, "maxCu": 2}


def test_unknown_fields_from_the_apiserver_are_ignored() -> None:
    spec = models.NeonAppDatabaseSpec.model_validate({"tier": "paid", "futureField": {"x": 1}})

    assert spec.tier == "paid"


def test_models_are_frozen() -> None:
    spec = models.NeonAppDatabaseSpec()

    with pytest.raises(pydantic.ValidationError, match="frozen"):
        spec.tier = "paid"  # type: ignore[misc]


def test_a_whole_object_from_the_apiserver_parses() -> None:
    body: dict[str, Any] = {
        "apiVersion": "neon.operator.dev/v1alpha1",
        "kind": "NeonAppDatabase",
        "metadata": {
            "name": "shop",
            "namespace": "apps",
            "generation": 3,
            "uid": "1234",
            "managedFields": [{"manager": "kubectl"}],
            "annotations": {"neon.operator.dev/paused": "true"},
        },
        "spec": {"tier": "paid", "compute": {"minCu": 1, "maxCu": 4}},
        "status": {
            "observedGeneration": 2,
            "projectId": "cold-bonus-61650555",
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "ProjectReady",
                    "message": "",
                    "lastTransitionTime": "2025-01-16T21:02:01Z",
                }
            ],
        },
    }

    database = models.NeonAppDatabase.model_validate(body)

    assert database.metadata.generation == 3
    assert database.metadata.annotations == {"neon.operator.dev/paused": "true"}
    assert database.spec.compute.max_cu == 4
    assert database.status.project_id == "cold-bonus-61650555"
    ready = database.status.condition(models.READY)
    assert ready is not None
    assert ready.last_transition_time == datetime.datetime(
        2025, 1, 16, 21, 2, 1, tzinfo=datetime.UTC
    )
    assert database.status.condition(models.SYNCED) is None


def test_status_serializes_for_a_patch_with_wire_names_and_rfc3339_times() -> None:
    status = models.NeonAppDatabaseStatus(
        observed_generation=1,
        pooler_host="ep-x-pooler.us-east-2.aws.neon.tech",
        conditions=[
            models.Condition(
                type="Ready",
                status="False",
                reason="UnknownTier",
                message="tier gold is not in NeonConfig default",
                last_transition_time=datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC),
            )
        ],
    )

    patch = status.model_dump(mode="json", exclude_none=True)

    assert patch["poolerHost"] == "ep-x-pooler.us-east-2.aws.neon.tech"
    assert patch["conditions"][0]["lastTransitionTime"] == "2025-01-01T00:00:00Z"


def test_the_connection_secret_name_defaults_to_the_resource_name_plus_neon() -> None:
    assert models.ConnectionSecretSpec().secret_name("shop") == "shop-neon"
    assert models.ConnectionSecretSpec(name="db").secret_name("shop") == "db"


@pytest.mark.parametrize(
    "settings",
    [
        {"minCu": 0.25, "maxCu": 0.25},
        {"minCu": 0.25, "maxCu": 2},
        {"minCu": 1, "maxCu": 9},
        {"minCu": 8, "maxCu": 16},
        {"minCu": 56, "maxCu": 56},
        {"minCu": 3},
        {"suspendTimeoutSeconds": -1},
        {"suspendTimeoutSeconds": 0},
        {"suspendTimeoutSeconds": 60},
        {"suspendTimeoutSeconds": 604800},
    ],
)
def test_compute_settings_neon_accepts_are_accepted(settings: dict[str, Any]) -> None:
    models.Compute.model_validate(settings)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"minCu": 4, "maxCu": 2}, compute.MIN_LE_MAX),
        ({"minCu": 0.75}, "minCu must be a Neon compute size"),
        ({"maxCu": 17}, "maxCu must be a Neon compute size"),
        ({"minCu": 0.1}, "greater than or equal to 0.25"),
        ({"minCu": 1, "maxCu": 10}, compute.SPAN_AT_MOST_8),
        ({"minCu": 16, "maxCu": 18}, compute.FIXED_ABOVE_16),
        ({"suspendTimeoutSeconds": 30}, compute.SUSPEND_RANGE),
        ({"suspendTimeoutSeconds": -2}, "greater than or equal to -1"),
        ({"suspendTimeoutSeconds": 604801}, "less than or equal to 604800"),
    ],
)
def test_compute_settings_neon_refuses_are_refused_naming_the_field(
    settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(pydantic.ValidationError, match=re.escape(message)):
        models.Compute.model_validate(settings)


def test_compute_defaults_fill_unset_fields() -> None:
    defaults = models.Compute(min_cu=0.25, max_cu=2, suspend_timeout_seconds=300)

    merged = models.Compute(max_cu=4).with_defaults(defaults)

    assert merged == models.Compute(min_cu=0.25, max_cu=4, suspend_timeout_seconds=300)


def test_compute_defaults_that_break_the_rules_in_combination_are_refused() -> None:
    with pytest.raises(pydantic.ValidationError, match=compute.MIN_LE_MAX):
        models.Compute(min_cu=4).with_defaults(models.Compute(max_cu=2))


def test_python_and_cel_refuse_compute_with_the_same_messages() -> None:
    schema = crds.definition(crds.NEON_APP_DATABASE)["spec"]["versions"][0]["schema"]
    compute_schema = schema["openAPIV3Schema"]["properties"]["spec"]["properties"]["compute"]
    messages = {rule["message"] for rule in compute_schema["x-kubernetes-validations"]}
    suspend = compute_schema["properties"]["suspendTimeoutSeconds"]

    assert messages == {compute.MIN_LE_MAX, compute.FIXED_ABOVE_16, compute.SPAN_AT_MOST_8}
    assert suspend["x-kubernetes-validations"][0]["message"] == compute.SUSPEND_RANGE


def test_a_neon_config_needs_a_key_reference_and_at_least_one_organization() -> None:
    with pytest.raises(pydantic.ValidationError) as raised:
        models.NeonConfigSpec.model_validate({"organizations": {}})

    fields = {error["loc"][0] for error in raised.value.errors()}
    assert fields == {"apiKeySecretRef", "organizations"}


def test_a_neon_config_fills_defaults() -> None:
    spec = models.NeonConfigSpec.model_validate(
        {"apiKeySecretRef": API_KEY_REF, "organizations": {"free": "org-royal-sun-91776391"}}
    )

    assert spec.api_url == "https://console.neon.tech/api/v2"
    assert spec.api_key_secret_ref.key == "apiKey"
    assert spec.defaults.region_id == "aws-us-east-2"
    assert spec.defaults.pg_version == 17
    assert spec.rate_limit == models.RateLimit(requests_per_minute=700, burst_per_second=40)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"apiUrl": "ftp://example.com/api/v2"}, "apiUrl"),
        ({"apiUrl": "console.neon.tech/api/v2"}, "apiUrl"),
        ({"organizations": {"Free": "org-a-1"}}, "organizations"),
        ({"organizations": {"free": "a-1"}}, "organizations"),
        ({"defaults": {"pgVersion": 13}}, "defaults"),
        ({"rateLimit": {"requestsPerMinute": 0}}, "rateLimit"),
    ],
)
def test_a_neon_config_refuses_invalid_settings(change: dict[str, Any], field: str) -> None:
    body = {"apiKeySecretRef": API_KEY_REF, "organizations": {"free": "org-a-1"}} | change

    with pytest.raises(pydantic.ValidationError) as raised:
        models.NeonConfigSpec.model_validate(body)

    assert raised.value.errors()[0]["loc"][0] == field


def test_timestamps_keep_whole_seconds_like_the_apiserver() -> None:
    moment = datetime.datetime(2025, 1, 1, 12, 0, 0, 538444, tzinfo=datetime.UTC)

    condition = models.Condition(
        type="Ready", status="True", reason="ProjectReady", last_transition_time=moment
    )

    assert condition.model_dump(mode="json")["lastTransitionTime"] == "2025-01-01T12:00:00Z"


@pytest.mark.parametrize(
    ("branch", "message"),
    [
        ({"roleName": "é" * 32}, "at most 63 bytes"),  # 32 characters, 64 bytes
        ({"databaseName": "🐘" * 16}, "at most 63 bytes"),
        ({"roleName": "pg_admin"}, "must not start with pg_"),
    ],
)
def test_postgres_names_are_held_to_63_bytes_and_roles_off_pg_(
    branch: dict[str, str], message: str
) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        models.NeonAppDatabaseSpec.model_validate({"branch": branch})
    assert models.NeonAppDatabaseSpec.model_validate(
        {"branch": {"roleName": "ü" * 31, "databaseName": "pg_data"}}
    )


@pytest.mark.parametrize(
    "secret",
    [
        {"labels": {"bad key!": "x"}},
        {"labels": {"team": "not valid!"}},
        {"labels": {"a" * 64: "x"}},
        {"annotations": {"/": "x"}},
    ],
)
def test_connection_secret_labels_and_annotations_are_kubernetes_ones(
    secret: dict[str, Any],
) -> None:
    with pytest.raises(pydantic.ValidationError):
        models.NeonAppDatabaseSpec.model_validate({"connectionSecret": secret})


def test_a_name_too_long_for_a_label_value_becomes_a_short_unique_one() -> None:
    long_one, other = "a" * 200, "a" * 199 + "b"

    assert models.label_value("todo-app.v2") == "todo-app.v2"
    assert len(models.label_value(long_one)) == 63
    assert re.fullmatch(models.common.LABEL_VALUE_PATTERN, models.label_value(long_one))
    assert models.label_value(long_one) != models.label_value(other)
