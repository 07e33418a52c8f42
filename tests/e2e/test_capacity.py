"""A tier whose organization is at its project limit: the apps beyond it wait (OrganizationFull)
without a storm of creates, and a deleted app's place goes to one of them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from kubernetes import client
from kubernetes.client import ApiClient

from neon_operator.devstack import stack as devstack

pytestmark = pytest.mark.e2e

GROUP, VERSION = "neon.operator.dev", "v1alpha1"
LIMIT = 2
QUIET = 15.0
"""Seconds the waiters are watched for create attempts (the e2e operator retries every 2 s)."""


@pytest.fixture
def capped_config(kube_api: ApiClient, namespace: str, neon: Any) -> Iterator[tuple[str, str]]:
    """A NeonConfig (the session's key) whose one tier, ``capped``, is a new organization
    limited to :data:`LIMIT` projects; the name of the NeonConfig and the organization id."""
    admin = str(neon.http.base_url).rstrip("/").removesuffix("/api/v2")
    org_id = httpx.post(f"{admin}/admin/organizations", json={"name": f"Capped {namespace}"})
    org_id.raise_for_status()
    org = str(org_id.json()["id"])
    limits = httpx.put(f"{admin}/admin/organizations/{org}/limits", json={"projects_limit": LIMIT})
    limits.raise_for_status()
    objects = client.CustomObjectsApi(kube_api)
    args = (GROUP, VERSION, "neonconfigs")
    default = objects.get_cluster_custom_object(*args, devstack.DEFAULT_CONFIG)
    spec = {
        key: value
        for key, value in default["spec"].items()
        if key not in ("allowedNamespaces", "namespaceSelector", "organizations")
    }
    name = "capped-" + uuid.uuid4().hex[:8]
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "NeonConfig",
        "metadata": {"name": name},
        "spec": {**spec, "organizations": {"capped": org}, "allowedNamespaces": [namespace]},
    }
    objects.create_cluster_custom_object(*args, body)
    try:
        yield name, org
    finally:
        objects.delete_cluster_custom_object(*args, name)


def creates_answered(neon: Any, after: int) -> tuple[int, list[int]]:
    """The emulator's request number now and the statuses of ``POST /projects`` since
    ``after``."""
    last, requests = neon.requests_after(after)
    return last, [
        r["status"] for r in requests if r["method"] == "POST" and r["route"] == "/projects"
    ]


def test_apps_beyond_the_limit_wait_quietly_and_one_takes_a_deleted_apps_place(
    apps: Any, capped_config: tuple[str, str], neon: Any
) -> None:
    config, org = capped_config
    names = [f"app-{index}" for index in range(LIMIT + 2)]
    for name in names:
        apps.create(name, {"configRef": {"name": config}, "tier": "capped"})
    try:
        apps.wait(
            names[0],
            lambda _: (
                sum(_reason(apps, n) == "ProjectReady" for n in names) == LIMIT
                and sum(_reason(apps, n) == "OrganizationFull" for n in names) == 2
            ),
            f"{LIMIT} Ready and 2 OrganizationFull",
        )
        waiting = [n for n in names if _reason(apps, n) == "OrganizationFull"]
        message = _ready(apps, waiting[0])["message"]
        for named in (org, "tier 'capped'", f"NeonConfig {config!r}", "spec.tier"):
            assert named in message

        # No storm: while they wait, creates for them reach Neon once per probe backoff (30 s)
        # at most, not once per retry of each (every 2 s here).
        seq, _ = neon.requests_after(0)
        time.sleep(QUIET)
        _, statuses = creates_answered(neon, seq)
        assert len(statuses) <= 1, statuses
        assert all(_reason(apps, n) == "OrganizationFull" for n in waiting)

        # A deleted app frees one place: one waiter takes it, the other keeps waiting.
        freed = next(n for n in names if n not in waiting)
        apps.delete_all([freed])
        apps.wait(
            waiting[0],
            lambda _: any(_reason(apps, n) == "ProjectReady" for n in waiting),
            "Ready after a place was freed",
        )
        assert sorted(_reason(apps, n) for n in waiting) == ["OrganizationFull", "ProjectReady"]
        assert len(neon.get("/projects", org_id=org, limit=400)["projects"]) == LIMIT
    finally:
        apps.delete_all(name for name in names if apps.get(name) is not None)


def _ready(apps: Any, name: str) -> dict[str, Any]:
    obj = apps.get(name) or {}
    found = (c for c in obj.get("status", {}).get("conditions", []) if c["type"] == "Ready")
    return dict(next(found, {}))


def _reason(apps: Any, name: str) -> str | None:
    return _ready(apps, name).get("reason")
