"""A NeonConfig's API key going bad: malformed in its Secret, revoked in Neon, replaced.

A malformed key is named before any request; a revoked key is tried once, then every
dependent reports ``ApiKeyRejected`` without a Neon call until the Secret holds another key; a
key replaced in the Secret is used by the next attempt, without reporting anything.
"""

from __future__ import annotations

import pytest

from neon_operator import accounts, errors

pytestmark = pytest.mark.integration

APPS = "neonappdatabases"
KEY_SECRET = ("neon-operator-system", "neon-api-key")


async def issue_key(neon_api, name: str) -> tuple[str, str]:
    response = await neon_api.api.post("/api_keys", json={"key_name": name})
    response.raise_for_status()
    return response.json()["id"], response.json()["key"]


async def revoke_key(neon_api, key_id: str) -> None:
    (await neon_api.api.delete(f"/api_keys/{key_id}")).raise_for_status()


def put_key(op, key: str) -> None:
    op.kube.delete("secrets", KEY_SECRET[1], namespace=KEY_SECRET[0])
    op.kube.create_secret(*KEY_SECRET, {"apiKey": key})


async def rejected_requests(neon_api) -> int:
    """Requests the emulator answered 401 so far."""
    admin = neon_api.api_url.rsplit("/api/v2", 1)[0]
    response = await neon_api.api.get(f"{admin}/admin/requests")
    response.raise_for_status()
    return sum(1 for request in response.json()["requests"] if request["status"] == 401)


async def test_a_malformed_key_is_named_without_sending_it(op, neon_api) -> None:
    put_key(op, "napi_ünïcode key")

    with pytest.raises(errors.RetryLater) as config:
        await op.check_config()
    op.apply(APPS, "todo", {"tier": "free"})
    with pytest.raises(errors.RetryLater) as app:
        await op.reconcile(APPS, "todo")

    assert config.value.reason == app.value.reason == "ApiKeyMalformed"
    assert "neon-operator-system/neon-api-key" in app.value.message
    assert "ünïcode" not in str(op.status(APPS, "todo"))
    assert await rejected_requests(neon_api) == 0


async def test_a_revoked_key_is_tried_once_then_every_app_reports_it_for_free(op, neon_api) -> None:
    key_id, key = await issue_key(neon_api, "soon-revoked")
    put_key(op, key)
    await op.check_config()
    await revoke_key(neon_api, key_id)
    for name in ("one", "two", "three"):
        op.apply(APPS, name, {"tier": "free"})

    for name in ("one", "two", "three"):
        for _ in range(3):  # kopf's retries
            with pytest.raises(errors.RetryLater) as raised:
                await op.reconcile(APPS, name)
            assert raised.value.reason == "ApiKeyRejected"
        assert op.condition(APPS, name)["reason"] == "ApiKeyRejected"

    assert await rejected_requests(neon_api) == 1


async def test_a_key_replaced_in_the_secret_is_used_by_the_next_attempt(op, neon_api) -> None:
    old_id, old = await issue_key(neon_api, "old")
    put_key(op, old)
    op.apply(APPS, "todo", {"tier": "free"})
    await op.reconcile(APPS, "todo")
    assert op.condition(APPS, "todo")["status"] == "True"

    _, new = await issue_key(neon_api, "new")
    put_key(op, new)
    await revoke_key(neon_api, old_id)
    op.edit(APPS, "todo", {"spec": {"compute": {"maxCu": 2}}})
    with pytest.raises(errors.RetryLater) as raised:
        await op.reconcile(APPS, "todo")  # still the cached client of the old key
    assert raised.value.reason == "ApiKeyReplaced"
    assert op.condition(APPS, "todo")["status"] == "True"  # nothing to report
    await op.reconcile(APPS, "todo")

    status = op.status(APPS, "todo")
    endpoint = await neon_api.get(
        f"/projects/{status['projectId']}/endpoints/{status['endpointId']}"
    )
    assert endpoint["endpoint"]["autoscaling_limit_max_cu"] == 2
    assert op.condition(APPS, "todo")["status"] == "True"


async def test_a_valid_key_put_back_after_a_rejection_serves_again(op, neon_api) -> None:
    now = [1000.0]
    op.accounts.clock = lambda: now[0]
    put_key(op, "napi_" + "x" * 64)
    op.apply(APPS, "todo", {"tier": "free"})
    for _ in range(2):
        with pytest.raises(errors.RetryLater):
            await op.reconcile(APPS, "todo")
    assert op.condition(APPS, "todo")["reason"] == "ApiKeyRejected"

    put_key(op, neon_api.api_key)
    now[0] += accounts.REJECTED_RECHECK_SECONDS  # the Secret of a rejected key is read again
    await op.reconcile(APPS, "todo")

    assert op.condition(APPS, "todo")["status"] == "True"
