"""Neon Auth and Data API fields: defaults, the rules Python and CEL share, the output Secret."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from neon_operator import crds, models
from neon_operator.models import integrations
from neon_operator.reconcilers.integrations import drift_calls, secret_name

pytestmark = pytest.mark.unit


def test_empty_auth_and_data_api_get_neons_defaults() -> None:
    spec = models.NeonAppDatabaseSpec.model_validate({"auth": {}, "dataApi": {}})
    assert spec.auth == models.NeonAuthSpec(
        enabled=True, allow_localhost=True, email_password=True, oauth=[], trusted_domains=[]
    )
    assert spec.data_api is not None
    assert (spec.data_api.auth_provider, spec.data_api.schemas) == ("neon_auth", ["public"])
    assert (spec.data_api.anonymous_role, spec.data_api.default_grants) == ("anonymous", True)


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        ({"id": "github", "clientId": "x"}, integrations.CLIENT_ID_WITH_SECRET),
        (
            {"id": "github", "clientSecretRef": {"name": "s", "key": "k"}},
            integrations.CLIENT_ID_WITH_SECRET,
        ),
        ({"id": "google", "microsoftTenantId": "t"}, integrations.TENANT_ONLY_MICROSOFT),
    ],
)
def test_inconsistent_oauth_providers_are_refused(provider: dict[str, Any], message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message.replace("[", r"\[")[:30]):
        models.OAuthProvider.model_validate(provider)


@pytest.mark.parametrize(
    ("data_api", "message"),
    [
        ({"authProvider": "external"}, integrations.JWKS_REQUIRED),
        ({"jwksUrl": "https://issuer.example.com/jwks"}, integrations.JWKS_ONLY_EXTERNAL),
    ],
)
def test_an_external_jwks_goes_with_the_external_provider_only(
    data_api: dict[str, Any], message: str
) -> None:
    with pytest.raises(pydantic.ValidationError, match=message[:30]):
        models.DataApiSpec.model_validate(data_api)


def test_every_python_rule_is_also_a_cel_rule_with_the_same_message() -> None:
    rendered = "".join(crds.render().values())
    for message in (
        integrations.CLIENT_ID_WITH_SECRET,
        integrations.TENANT_ONLY_MICROSOFT,
        integrations.JWKS_REQUIRED,
        integrations.JWKS_ONLY_EXTERNAL,
        integrations.NEON_AUTH_NEEDS_AUTH,
    ):
        assert message.split(":")[0][:30] in rendered, message


def test_the_output_secret_is_named_after_the_resource_unless_auth_names_it() -> None:
    assert secret_name("todo", None) == "todo-neon-auth"
    assert secret_name("todo", models.NeonAuthSpec()) == "todo-neon-auth"
    assert secret_name("todo", models.NeonAuthSpec(secret_name="keys")) == "keys"


def test_drift_checks_budget_the_calls_of_each_enabled_feature() -> None:
    assert drift_calls(None, None) == 0
    assert drift_calls(models.NeonAuthSpec(enabled=False), models.DataApiSpec()) == 1
    assert drift_calls(models.NeonAuthSpec(), models.DataApiSpec()) == 4
