"""Which namespaces a NeonConfig grants, and how the operator reports one it does not."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pydantic
import pytest

from neon_operator import grants
from neon_operator.accounts import AccountProblem, Accounts
from neon_operator.kube import SecretState
from neon_operator.models import NamespaceSelector, NeonConfigSpec

pytestmark = pytest.mark.unit

KEY_REF = {"namespace": "neon-system", "name": "neon-api-key"}


def spec(**grant: Any) -> NeonConfigSpec:
    return NeonConfigSpec.model_validate(
        {"apiKeySecretRef": KEY_REF, "organizations": {"free": "org-a"}, **grant}
    )


CASES_FILE = pathlib.Path(__file__).resolve().parents[1] / "grant_cases.json"
CASES: list[tuple[dict[str, Any], str, dict[str, str], bool]] = [
    (case["grant"], case["namespace"], case["labels"], case["granted"])
    for case in json.loads(CASES_FILE.read_text())
]
"""(grant fields, namespace, its labels, granted?) — the e2e tier asks the admission policy the
same questions (``tests/e2e/test_tenancy.py``)."""


@pytest.mark.parametrize(("grant", "namespace", "labels", "expected"), CASES)
def test_a_namespace_is_granted_by_name_glob_or_labels(
    grant: dict[str, Any], namespace: str, labels: dict[str, str], expected: bool
) -> None:
    assert grants.granted(spec(**grant), namespace, labels) is expected


def test_labels_are_only_needed_when_the_name_does_not_decide() -> None:
    assert grants.decided_by_name(spec(allowedNamespaces=["a"]), "a") is True
    assert grants.decided_by_name(spec(allowedNamespaces=["a"]), "b") is False
    assert grants.decided_by_name(spec(namespaceSelector={}), "b") is None


@pytest.mark.parametrize(
    "requirement",
    [
        {"key": "k", "operator": "In"},
        {"key": "k", "operator": "NotIn", "values": []},
        {"key": "k", "operator": "Exists", "values": ["v"]},
        {"key": "k", "operator": "Matches", "values": ["v"]},
    ],
)
def test_a_requirement_whose_values_do_not_fit_its_operator_is_invalid(
    requirement: dict[str, Any],
) -> None:
    with pytest.raises(pydantic.ValidationError):
        NamespaceSelector.model_validate({"matchExpressions": [requirement]})


@pytest.mark.parametrize("pattern", ["Team-A", "team_a", "a/b", "", "-" * 64, "[ab]"])
def test_an_allowed_namespace_must_look_like_a_namespace_or_a_glob(pattern: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        spec(allowedNamespaces=[pattern])


def test_the_message_names_the_neonconfig_the_namespace_and_both_fixes() -> None:
    message = grants.message("paid", "team-b", spec(allowedNamespaces=["team-a"]))
    assert "'paid'" in message
    assert "'team-b'" in message
    assert "namespaces team-a" in message
    assert "spec.allowedNamespaces" in message
    assert "spec.configRef.name" in message
    lonely = grants.message("paid", "team-b", spec())
    assert "grants no namespace" in lonely


class Cluster:
    """The two reads :class:`Accounts` makes, counted: a NeonConfig, its key, namespaces."""

    def __init__(self, config: dict[str, Any], labels: dict[str, dict[str, str]]) -> None:
        self.config = config
        self.labels = labels
        self.label_reads = 0

    async def read_cluster_object(self, plural: str, name: str) -> dict[str, Any] | None:
        return self.config if name == self.config["metadata"]["name"] else None

    async def read_secret(self, namespace: str, name: str) -> SecretState | None:
        return SecretState(
            name=name, data={"apiKey": "napi_x"}, labels={}, annotations={}, controller_uid=None
        )

    async def read_namespace_labels(self, name: str) -> dict[str, str] | None:
        self.label_reads += 1
        return self.labels.get(name)


def config_body(**grant: Any) -> dict[str, Any]:
    return {
        "apiVersion": "neon.operator.dev/v1alpha1",
        "kind": "NeonConfig",
        "metadata": {"name": "paid"},
        "spec": {"apiKeySecretRef": KEY_REF, "organizations": {"free": "org-a"}, **grant},
    }


async def test_accounts_refuse_a_namespace_the_neonconfig_does_not_grant() -> None:
    cluster = Cluster(config_body(allowedNamespaces=["team-a"]), {})
    accounts = Accounts(cluster)  # type: ignore[arg-type]
    try:
        assert (await accounts.get("paid", namespace="team-a")).name == "paid"
        with pytest.raises(AccountProblem) as refused:
            await accounts.get("paid", namespace="team-b")
        assert refused.value.reason == "NeonConfigNotGranted"
        assert "'team-b'" in refused.value.message
        # Deleting what the operator made needs no grant.
        assert (await accounts.get("paid", namespace=None)).name == "paid"
        assert cluster.label_reads == 0  # names decided it
    finally:
        await accounts.close()


async def test_a_revoked_grant_takes_effect_when_the_neonconfig_is_refreshed() -> None:
    cluster = Cluster(config_body(allowedNamespaces=["team-a"]), {})
    accounts = Accounts(cluster)  # type: ignore[arg-type]
    try:
        before = await accounts.get("paid", namespace="team-a")
        revoked = config_body(allowedNamespaces=["team-b"])
        after = await accounts.refresh("paid", revoked)
        with pytest.raises(AccountProblem):
            await accounts.get("paid", namespace="team-a")
        assert after.client is before.client  # same key and budget: the same rate limiter
    finally:
        await accounts.close()


async def test_namespace_labels_are_read_once_per_ttl() -> None:
    cluster = Cluster(
        config_body(namespaceSelector={"matchLabels": {"team": "a"}}), {"ns": {"team": "a"}}
    )
    accounts = Accounts(cluster)  # type: ignore[arg-type]
    now = [0.0]
    accounts.namespace_labels = grants.NamespaceLabels(cluster, ttl=30, clock=lambda: now[0])
    try:
        for _ in range(5):
            await accounts.get("paid", namespace="ns")
        assert cluster.label_reads == 1
        cluster.labels["ns"] = {"team": "b"}
        now[0] = 31.0
        with pytest.raises(AccountProblem):
            await accounts.get("paid", namespace="ns")
        assert cluster.label_reads == 2
    finally:
        await accounts.close()
