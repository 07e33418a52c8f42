"""Neon Auth and Data API (control-plane side) and consumption reporting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration


def test_neon_auth_enable_get_providers_disable(api: httpx.Client, project: dict[str, Any]) -> None:
    base = f"/projects/{project['project']['id']}/branches/{project['branch']['id']}/auth"
    created = api.post(base, json={"auth_provider": "better_auth"})
    assert created.status_code == 201, created.text
    keys = created.json()
    assert keys["jwks_url"].endswith("/.well-known/jwks.json")
    assert keys["pub_client_key"].startswith("pck_")
    assert keys["secret_server_key"].startswith("ssk_")
    assert api.post(base, json={"auth_provider": "better_auth"}).status_code == 409

    got = api.get(base).json()
    assert (got["branch_id"], got["db_name"]) == (project["branch"]["id"], "neondb")

    added = api.post(
        f"{base}/oauth_providers",
        json={"id": "microsoft", "client_id": "cid", "client_secret": "secret"},
    )
    assert added.json() == {
        "id": "microsoft",
        "type": "standard",
        "client_id": "cid",
        "client_secret": "secret",
    }
    providers = api.get(f"{base}/oauth_providers").json()["providers"]
    assert {p["id"] for p in providers} == {"google", "github", "microsoft"}
    api.patch(f"{base}/oauth_providers/github", json={"client_id": "gh"}).raise_for_status()
    assert api.delete(f"{base}/oauth_providers/google").status_code == 200
    providers = api.get(f"{base}/oauth_providers").json()["providers"]
    assert {p["id"]: p["type"] for p in providers} == {
        "github": "standard",
        "microsoft": "standard",
    }

    assert api.delete(base).status_code == 200
    assert api.get(base).status_code == 404


def test_data_api_lifecycle(api: httpx.Client, project: dict[str, Any], emulator: Any) -> None:
    endpoint = project["endpoints"][0]
    base = f"/projects/{project['project']['id']}/branches/{project['branch']['id']}"
    created = api.post(f"{base}/data-api/neondb", json={})
    assert created.status_code == 201, created.text
    url = created.json()["url"]
    assert url.endswith(f"/apirest/{endpoint['id']}/neondb/rest/v1")
    assert url.startswith(emulator.base_url)  # served by the emulator: it resolves as returned
    got = api.get(f"{base}/data-api/neondb").json()
    assert (got["url"], got["status"]) == (url, "active")
    updated = api.patch(f"{base}/data-api/neondb", json={"settings": {"db_max_rows": 100}})
    assert updated.status_code == 201
    assert api.get(f"{base}/data-api/neondb").json()["settings"]["db_max_rows"] == 100
    assert api.delete(f"{base}/data-api/neondb").status_code == 200
    assert api.get(f"{base}/data-api/neondb").status_code == 404
    assert api.post(f"{base}/data-api/nodb", json={}).status_code == 404


def test_project_carries_consumption_fields(api: httpx.Client, project: dict[str, Any]) -> None:
    got = api.get(f"/projects/{project['project']['id']}").json()["project"]
    for field in (
        "active_time_seconds",
        "compute_time_seconds",
        "written_data_bytes",
        "data_transfer_bytes",
        "data_storage_bytes_hour",
    ):
        assert isinstance(got[field], int)
    assert got["consumption_period_start"] < got["consumption_period_end"]


def _range(hours: int) -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "from": (now - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:00:00Z"),
        "to": (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:00:00Z"),
    }


def test_consumption_history_per_project(
    api: httpx.Client, paid_org: str, sponsored_org: str, project: dict[str, Any]
) -> None:
    params = {
        **_range(3),
        "granularity": "hourly",
        "org_id": paid_org,
        "project_ids": project["project"]["id"],
    }
    response = api.get("/consumption_history/projects", params=params)
    assert response.status_code == 200, response.text
    [entry] = response.json()["projects"]
    assert entry["project_id"] == project["project"]["id"]
    assert len(entry["periods"][0]["consumption"]) == 4  # three past hours and this one

    v2 = api.get(
        "/consumption_history/v2/projects",
        params={**params, "metrics": "compute_unit_seconds,root_branch_bytes_month"},
    )
    assert v2.status_code == 200, v2.text
    metrics = v2.json()["projects"][0]["periods"][0]["consumption"][0]["metrics"]
    assert [m["metric_name"] for m in metrics] == [
        "compute_unit_seconds",
        "root_branch_bytes_month",
    ]

    free = api.get("/consumption_history/projects", params={**params, "org_id": sponsored_org})
    assert free.status_code == 403
    too_long = api.get("/consumption_history/projects", params={**params, **_range(24 * 10)})
    assert too_long.status_code == 406
