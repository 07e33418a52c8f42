"""Neon Auth and the Data API through the NeonAppDatabase reconciler, on the in-memory Kube and
the emulator: the keys reach the Secret once, a converged app costs no writes, a rotated client
secret is PATCHed in place, and what the operator cannot fix is said without the secret."""

from __future__ import annotations

from typing import Any

import pytest

from neon_operator import errors

pytestmark = pytest.mark.integration

APPS = "neonappdatabases"
CUSTOM = {"id": "github", "clientId": "gh", "clientSecretRef": {"name": "gh-oauth", "key": "s"}}


async def providers(neon_api: Any, status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    path = f"/projects/{status['projectId']}/branches/{status['defaultBranchId']}/auth"
    found = await neon_api.get(path + "/oauth_providers")
    return {p["id"]: p for p in found["providers"]}


async def test_an_app_with_auth_and_data_api_gets_their_urls_and_keys_once(op, neon_api) -> None:
    op.apply(APPS, "todo", {"auth": {"oauth": [{"id": "google"}]}, "dataApi": {}})
    await op.reconcile(APPS, "todo")

    status = op.status(APPS, "todo")
    keys = await op.secret("todo-neon-auth")
    assert keys["STACK_SECRET_SERVER_KEY"].startswith("ssk_")
    assert keys["NEON_DATA_API_URL"] == status["dataApi"]["url"]
    assert keys["NEON_AUTH_BASE_URL"] == status["auth"]["baseUrl"]
    assert sorted(await providers(neon_api, status)) == ["google"]
    assert "ssk_" not in str(status)

    secret = op.kube.get("secrets", "todo-neon-auth", namespace="apps")
    events = len(op.kube.events)
    await op.reconcile(APPS, "todo")
    assert op.kube.get("secrets", "todo-neon-auth", namespace="apps") == secret
    assert len(op.kube.events) == events


async def test_a_new_client_secret_updates_the_provider_in_place(op, neon_api) -> None:
    op.kube.create_secret("apps", "gh-oauth", {"s": "one"})
    op.apply(APPS, "todo", {"auth": {"oauth": [CUSTOM]}})
    await op.reconcile(APPS, "todo")
    status = op.status(APPS, "todo")
    assert (await providers(neon_api, status))["github"]["client_secret"] == "one"
    fingerprint = status["auth"]["oauth"][0]["secretFingerprint"]

    op.kube.delete("secrets", "gh-oauth", namespace="apps")
    op.kube.create_secret("apps", "gh-oauth", {"s": "two"})
    await op.reconcile(APPS, "todo")

    assert (await providers(neon_api, status))["github"]["client_secret"] == "two"
    assert op.status(APPS, "todo")["auth"]["oauth"][0]["secretFingerprint"] != fingerprint
    assert "NeonAuthUpdated" in op.reasons("todo")
    assert "NeonAuthEnabled" in op.reasons("todo")


async def test_a_missing_client_secret_is_reported_without_any_value(op) -> None:
    op.apply(APPS, "todo", {"auth": {"oauth": [CUSTOM]}})
    with pytest.raises(errors.RetryLater):
        await op.reconcile(APPS, "todo")
    ready = op.condition(APPS, "todo")
    assert (ready["status"], ready["reason"]) == ("False", "ClientSecretNotFound")
    assert "gh-oauth" in ready["message"]


async def test_a_secret_of_that_name_the_app_does_not_own_is_left_alone(op) -> None:
    op.kube.create_secret("apps", "todo-neon-auth", {"mine": "yes"})
    op.apply(APPS, "todo", {"dataApi": {"authProvider": "external", "jwksUrl": "https://i.io/j"}})
    with pytest.raises(errors.AwaitChange):
        await op.reconcile(APPS, "todo")
    assert op.condition(APPS, "todo")["reason"] == "SecretNotOwned"
    assert await op.secret("todo-neon-auth") == {"mine": "yes"}


async def test_turning_the_data_api_off_removes_its_key_and_leaves_other_keys(op) -> None:
    op.apply(APPS, "todo", {"auth": {}, "dataApi": {}})
    await op.reconcile(APPS, "todo")
    op.kube.patch("secrets", "todo-neon-auth", {"data": {"EXTRA": "eWVz"}}, namespace="apps")

    op.edit(APPS, "todo", {"spec": {"dataApi": None}})
    await op.reconcile(APPS, "todo")

    keys = await op.secret("todo-neon-auth")
    assert "NEON_DATA_API_URL" not in keys
    assert keys["EXTRA"] == "yes"
    assert keys["STACK_SECRET_SERVER_KEY"].startswith("ssk_")
