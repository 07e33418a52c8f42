"""Endpoints, roles, databases and connection URIs of a branch."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration


def test_endpoint_autoscaling_and_suspend_timeout_update(
    api: httpx.Client, project: dict[str, Any], wait_for_operations: Any
) -> None:
    project_id = project["project"]["id"]
    endpoint_id = project["endpoints"][0]["id"]
    response = api.patch(
        f"/projects/{project_id}/endpoints/{endpoint_id}",
        json={
            "endpoint": {
                "autoscaling_limit_min_cu": 1,
                "autoscaling_limit_max_cu": 4,
                "suspend_timeout_seconds": 600,
            }
        },
    )
    assert response.status_code == 200, response.text
    assert [op["action"] for op in response.json()["operations"]] == ["apply_config"]
    wait_for_operations(api, project_id)
    endpoint = api.get(f"/projects/{project_id}/endpoints/{endpoint_id}").json()["endpoint"]
    assert (endpoint["autoscaling_limit_min_cu"], endpoint["autoscaling_limit_max_cu"]) == (1, 4)
    assert endpoint["suspend_timeout_seconds"] == 600


def test_second_read_write_endpoint_is_refused_but_read_only_is_fine(
    api: httpx.Client, project: dict[str, Any], wait_for_operations: Any
) -> None:
    project_id = project["project"]["id"]
    branch_id = project["branch"]["id"]
    second = api.post(
        f"/projects/{project_id}/endpoints",
        json={"endpoint": {"branch_id": branch_id, "type": "read_write"}},
    )
    assert second.status_code == 400
    replica = api.post(
        f"/projects/{project_id}/endpoints",
        json={"endpoint": {"branch_id": branch_id, "type": "read_only"}},
    )
    assert replica.status_code == 201, replica.text
    wait_for_operations(api, project_id)
    replica_id = replica.json()["endpoint"]["id"]
    listed = api.get(f"/projects/{project_id}/branches/{branch_id}/endpoints").json()
    assert len(listed["endpoints"]) == 2
    assert api.delete(f"/projects/{project_id}/endpoints/{replica_id}").status_code == 200
    wait_for_operations(api, project_id)
    assert api.delete(f"/projects/{project_id}/endpoints/{replica_id}").status_code == 204


def test_restart_needs_an_active_compute(
    api: httpx.Client, project: dict[str, Any], wait_for_operations: Any
) -> None:
    project_id = project["project"]["id"]
    endpoint_id = project["endpoints"][0]["id"]
    restarted = api.post(f"/projects/{project_id}/endpoints/{endpoint_id}/restart")
    assert [op["action"] for op in restarted.json()["operations"]] == [
        "suspend_compute",
        "start_compute",
    ]
    wait_for_operations(api, project_id)
    api.post(f"/projects/{project_id}/endpoints/{endpoint_id}/suspend").raise_for_status()
    wait_for_operations(api, project_id)
    assert api.post(f"/projects/{project_id}/endpoints/{endpoint_id}/restart").status_code == 400


def test_roles_create_reveal_reset_delete(
    api: httpx.Client, project: dict[str, Any], wait_for_operations: Any
) -> None:
    base = f"/projects/{project['project']['id']}/branches/{project['branch']['id']}/roles"
    created = api.post(base, json={"role": {"name": "app_user"}})
    assert created.status_code == 201, created.text
    password = created.json()["role"]["password"]
    wait_for_operations(api, project["project"]["id"])
    assert api.get(f"{base}/app_user/reveal_password").json() == {"password": password}
    assert "password" not in api.get(f"{base}/app_user").json()["role"]
    assert api.post(base, json={"role": {"name": "app_user"}}).status_code == 409

    reset = api.post(f"{base}/app_user/reset_password").json()
    assert reset["role"]["password"] != password
    wait_for_operations(api, project["project"]["id"])
    assert (
        api.get(f"{base}/app_user/reveal_password").json()["password"] == reset["role"]["password"]
    )

    assert api.delete(f"{base}/app_user").status_code == 200
    wait_for_operations(api, project["project"]["id"])
    assert api.get(f"{base}/app_user").status_code == 404


def test_reveal_password_when_passwords_are_not_stored(
    api: httpx.Client, paid_org: str, create_project: Any
) -> None:
    created = create_project(api, paid_org, store_passwords=False)
    base = f"/projects/{created['project']['id']}/branches/{created['branch']['id']}/roles"
    response = api.get(f"{base}/neondb_owner/reveal_password")
    assert response.status_code == 412


def test_databases_create_rename_delete(
    api: httpx.Client, project: dict[str, Any], wait_for_operations: Any
) -> None:
    project_id = project["project"]["id"]
    base = f"/projects/{project_id}/branches/{project['branch']['id']}/databases"
    created = api.post(base, json={"database": {"name": "shop", "owner_name": "neondb_owner"}})
    assert created.status_code == 201, created.text
    assert isinstance(created.json()["database"]["id"], int)
    wait_for_operations(api, project_id)
    orphan = api.post(base, json={"database": {"name": "x", "owner_name": "nobody"}})
    assert orphan.status_code == 400
    assert "owner_name" in orphan.json()["message"]
    renamed = api.patch(f"{base}/shop", json={"database": {"name": "store"}})
    assert renamed.json()["database"]["name"] == "store"
    wait_for_operations(api, project_id)
    assert {d["name"] for d in api.get(base).json()["databases"]} == {"neondb", "store"}
    assert api.delete(f"{base}/store").status_code == 200


def test_connection_uri_pooled_and_direct(api: httpx.Client, project: dict[str, Any]) -> None:
    project_id = project["project"]["id"]
    endpoint = project["endpoints"][0]
    password = project["roles"][0]["password"]
    params = {"database_name": "neondb", "role_name": "neondb_owner"}
    direct = api.get(f"/projects/{project_id}/connection_uri", params=params).json()["uri"]
    pooled = api.get(
        f"/projects/{project_id}/connection_uri", params={**params, "pooled": "True"}
    ).json()["uri"]
    assert (
        direct == f"postgresql://neondb_owner:{password}@{endpoint['host']}/neondb?sslmode=require"
    )
    assert pooled == direct.replace(endpoint["id"], endpoint["id"] + "-pooler")
    missing = api.get(
        f"/projects/{project_id}/connection_uri", params={"role_name": "neondb_owner"}
    )
    assert missing.status_code == 400
    assert "database_name" in missing.json()["message"]


def test_host_domain_and_postgres_port_shape_connection_uris(
    start_emulator: Any, create_project: Any
) -> None:
    started = start_emulator("--host-domain", "localtest.me", "--postgres-port", "5433")
    with started.client() as api:
        body = create_project(api, started.organizations["paid"])
    endpoint = body["endpoints"][0]
    assert endpoint["host"] == f"{endpoint['id']}.us-east-2.aws.localtest.me"
    uri = body["connection_uris"][0]["connection_uri"]
    assert f"@{endpoint['host']}:5433/neondb" in uri
