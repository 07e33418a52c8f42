"""API key rotation and revocation (#12), on the real apiserver with the operator running.

A key replaced in its Secret takes effect without a restart. A revoked key turns every resource
of its NeonConfig ``Ready=False``, reason ``ApiKeyRejected``, within one key check and one
sweep, and then costs Neon next to nothing: the operator does not retry a key Neon refused
until the Secret holds another one (or the NeonConfig's own check, once per interval, finds it
accepted). A valid key put back makes everything Ready again.

The emulator issues and revokes personal API keys as Neon does (``POST``/``DELETE
/api_keys``); its request log (``GET /admin/requests``) counts the 401 answers, i.e. the calls
made with the revoked key.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from neon_operator.devstack import stack as devstack

from .conftest import GROUP, RETRY_SECONDS, VERSION, Apps, condition, create_neon_config

pytestmark = pytest.mark.e2e

APPS = 3
REFRESH_SECONDS = 3.0
"""The operator's ``--config-refresh-interval`` here: how often it asks Neon about the key."""
QUIET_SECONDS = 20.0
"""How long the calls made with a revoked key are counted."""
TIMEOUT = 120.0


class Keys:
    """Personal API keys of the emulator's bootstrap user."""

    def __init__(self, neon: Any) -> None:
        self.neon = neon

    def issue(self, name: str) -> tuple[str, str]:
        """A new key: its id and its secret."""
        created = self.neon.post("/api_keys", {"key_name": name})
        return str(created["id"]), str(created["key"])

    def revoke(self, key_id: str) -> None:
        self.neon.http.delete(f"/api_keys/{key_id}").raise_for_status()


@pytest.fixture
def rotation(
    kube_api, local_stack: devstack.Stack, start_operator, make_namespace
) -> Iterator[tuple[Apps, client.CoreV1Api, str, str]]:
    """A namespace served by its own operator, a NeonConfig of its own and that config's key
    Secret; yields the apps of the namespace, a core client, the Secret's name and the
    NeonConfig's name."""
    emulator = local_stack.emulator
    assert emulator is not None
    namespace = make_namespace("rot-")
    config, secret = namespace, "neon-key"
    create_neon_config(kube_api, emulator, config, (namespace, secret), [namespace])
    start_operator(
        [namespace], "rotation.log", args=("--config-refresh-interval", str(REFRESH_SECONDS))
    )
    apps = Apps(kube_api, namespace)
    try:
        yield apps, client.CoreV1Api(kube_api), secret, config
    finally:
        listed = apps.objects.list_namespaced_custom_object(
            GROUP, VERSION, namespace, "neonappdatabases"
        )
        apps.delete_all(item["metadata"]["name"] for item in listed["items"])
        apps.objects.delete_cluster_custom_object(GROUP, VERSION, "neonconfigs", config)


def put_key(core: client.CoreV1Api, namespace: str, secret: str, key: str) -> None:
    body = {"metadata": {"name": secret}, "stringData": {"apiKey": key}}
    try:
        core.replace_namespaced_secret(secret, namespace, body)
    except client.ApiException as error:
        if error.status != 404:
            raise
        core.create_namespaced_secret(namespace, body)


def ready_reasons(apps: Apps, names: list[str]) -> dict[str, tuple[str, str]]:
    found = {}
    for name in names:
        obj = apps.get(name)
        ready = condition(obj, "Ready") if obj else None
        found[name] = (ready["status"], ready["reason"]) if ready else ("", "")
    return found


def rejected_calls(neon: Any, after: int) -> tuple[int, int]:
    """The emulator's request log after number ``after``: its last number, and how many of
    those requests it answered 401 (made with a revoked or unknown key)."""
    last, requests = neon.requests_after(after)
    return last, sum(1 for request in requests if request["status"] == 401)


def test_a_rotated_key_takes_effect_and_a_revoked_one_stops_every_app_without_a_retry_storm(
    rotation, neon
) -> None:
    apps, core, secret, config = rotation
    keys = Keys(neon)
    first_id, first = keys.issue("rotation-first")
    put_key(core, apps.namespace, secret, first)
    names = [f"app-{i}" for i in range(APPS)]
    for name in names:
        apps.create(name, {"configRef": {"name": config}, "compute": {"minCu": 0.25, "maxCu": 1}})
    statuses = {name: apps.wait_condition(name, "True")["status"] for name in names}

    # Rotation: a new key in the Secret, the old one revoked. Nothing restarts.
    second_id, second = keys.issue("rotation-second")
    put_key(core, apps.namespace, secret, second)
    keys.revoke(first_id)
    apps.patch(names[0], {"spec": {"compute": {"maxCu": 2}}})
    seen_false: dict[str, set[str]] = {name: set() for name in names}
    deadline = time.monotonic() + TIMEOUT
    while True:
        for name, (status, reason) in ready_reasons(apps, names).items():
            if status == "False":
                seen_false[name].add(reason)
        changed = apps.get(names[0])
        ready = condition(changed, "Ready") if changed else None
        if (
            ready is not None
            and ready["status"] == "True"
            and ready.get("observedGeneration") == changed["metadata"]["generation"]
        ):
            break
        assert time.monotonic() < deadline, f"the change never applied: {changed}"
        time.sleep(0.25)
    first_status = statuses[names[0]]
    endpoint = neon.endpoint(first_status["projectId"], first_status["endpointId"])
    assert endpoint["autoscaling_limit_max_cu"] == 2
    # The apps nobody touched never noticed the rotation.
    assert {name: seen_false[name] for name in names[1:]} == {name: set() for name in names[1:]}
    print(f"\nrotation: Ready=False seen on the changed app: {sorted(seen_false[names[0]])}")

    # Revocation of the key in use: every app reports it, within one key check and a sweep.
    start, _ = neon.requests_after(0)
    revoked_at = time.monotonic()
    keys.revoke(second_id)
    for name in names:
        apps.wait_condition(name, "False", "ApiKeyRejected")
    stopped_after = time.monotonic() - revoked_at
    message = condition(apps.get(names[1]) or {}, "Ready") or {}
    assert config in message.get("message", "")
    assert second not in str(apps.get(names[1]))

    # …and then costs Neon next to nothing: only the NeonConfig's own check tries the key.
    quiet_from, before = rejected_calls(neon, start)
    quiet_started = time.monotonic()
    time.sleep(QUIET_SECONDS)
    _, during = rejected_calls(neon, quiet_from)
    quiet = time.monotonic() - quiet_started
    # The NeonConfig's check runs every REFRESH_SECONDS, and after a failure again after the
    # retry delay; each check asks once per tier at most.
    tiers = 2
    budget = tiers * (quiet / min(REFRESH_SECONDS, RETRY_SECONDS) + 2)
    per_minute = during * 60 / quiet
    print(
        f"revocation: every app Ready=False ApiKeyRejected {stopped_after:.1f} s after the "
        f"revoke ({before} calls with the revoked key until then); then {during} calls in "
        f"{quiet:.0f} s = {per_minute:.0f}/min (NeonConfig check every {REFRESH_SECONDS:.0f} s, "
        f"retry delay {RETRY_SECONDS:.0f} s, {tiers} tiers; bound {budget:.0f})"
    )
    assert during <= budget, f"{during} calls with a revoked key in {quiet:.0f} s"

    # A valid key back in the Secret: everything is Ready again, without a restart.
    _, third = keys.issue("rotation-third")
    put_key(core, apps.namespace, secret, third)
    for name in names:
        apps.wait_condition(name, "True")
