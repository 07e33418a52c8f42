"""The official Python client ``neon-api`` works against the emulator unmodified."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from neon_api import NeonAPI

pytestmark = pytest.mark.integration


def test_neon_api_client_create_branch_list_delete(
    emulator: Any, api: httpx.Client, wait_for_operations: Any
) -> None:
    with emulator.admin() as admin:
        org = admin.post("/admin/organizations", json={"name": "Client"}).json()["id"]
    org_key = api.post(f"/organizations/{org}/api_keys", json={"key_name": "neon-api"})
    neon = NeonAPI(org_key.json()["key"], base_url=emulator.api_url + "/")

    project = neon.project_create(project={"name": "from-neon-api", "pg_version": 17}).project
    assert project.name == "from-neon-api"
    wait_for_operations(api, project.id)

    created = neon.branch_create(project.id, branch={"name": "dev"})
    assert created.branch.name == "dev"
    wait_for_operations(api, project.id)

    branches = neon.branches(project.id).branches
    assert {b.name for b in branches} == {"main", "dev"}
    assert project.id in {p.id for p in neon.projects().projects}
    assert neon.project(project.id).project.id == project.id

    uri = neon.connection_uri(
        project.id, database_name="neondb", role_name="neondb_owner", pooled=True
    )
    assert "-pooler." in uri.uri

    neon.branch_delete(project.id, created.branch.id)
    wait_for_operations(api, project.id)
    assert {b.name for b in neon.branches(project.id).branches} == {"main"}

    neon.project_delete(project.id)
    assert project.id not in {p.id for p in neon.projects().projects}
