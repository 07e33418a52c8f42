"""Bad input gets Neon's status code and a message that names the field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration


def _create(api: httpx.Client, org: str, **project: Any) -> httpx.Response:
    return api.post("/projects", json={"project": {"org_id": org, **project}})


def test_missing_wrapper(api: httpx.Client) -> None:
    response = api.post("/projects", json={"name": "unwrapped"})
    assert response.status_code == 400
    assert response.json()["message"] == (
        "invalid request: decode application/json: invalid: project (field required)"
    )


def test_pg_version_13(api: httpx.Client, paid_org: str) -> None:
    response = _create(api, paid_org, pg_version=13)
    assert response.status_code == 400
    assert "pg_version" in response.json()["message"]
    assert "14" in response.json()["message"]


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        (
            {"autoscaling_limit_min_cu": 2, "autoscaling_limit_max_cu": 1},
            "autoscaling_limit_max_cu",
        ),
        ({"autoscaling_limit_min_cu": 0.1}, "autoscaling_limit_min_cu"),
        (
            {"autoscaling_limit_min_cu": 64, "autoscaling_limit_max_cu": 64},
            "autoscaling_limit_min_cu",
        ),
        (
            {"autoscaling_limit_min_cu": 1, "autoscaling_limit_max_cu": 12},
            "autoscaling_limit_max_cu",
        ),
        ({"suspend_timeout_seconds": 30}, "suspend_timeout_seconds"),
        ({"suspend_timeout_seconds": 604801}, "suspend_timeout_seconds"),
    ],
    ids=["max-below-min", "below-0.25", "above-56", "spread-over-8", "suspend-30s", "suspend-8d"],
)
def test_compute_settings_out_of_range(
    api: httpx.Client, paid_org: str, settings: dict[str, Any], field: str
) -> None:
    response = _create(api, paid_org, default_endpoint_settings=settings)
    assert response.status_code == 400
    assert field in response.json()["message"]


def test_endpoint_update_with_max_below_min(api: httpx.Client, project: dict[str, Any]) -> None:
    endpoint = project["endpoints"][0]
    response = api.patch(
        f"/projects/{project['project']['id']}/endpoints/{endpoint['id']}",
        json={"endpoint": {"autoscaling_limit_min_cu": 2, "autoscaling_limit_max_cu": 1}},
    )
    assert response.status_code == 400
    assert "autoscaling_limit_max_cu" in response.json()["message"]


@pytest.mark.parametrize(
    "path",
    [
        "/projects/nope-nope-00000000",
        "/projects/{project}/branches/br-nope-nope-a5000000",
        "/projects/{project}/endpoints/ep-nope-nope-a5000000",
        "/projects/{project}/operations/00000000-0000-0000-0000-000000000000",
        "/projects/{project}/branches/{branch}/roles/nobody",
        "/projects/{project}/branches/{branch}/databases/nothing",
    ],
)
def test_unknown_ids_get_404(api: httpx.Client, project: dict[str, Any], path: str) -> None:
    url = path.format(project=project["project"]["id"], branch=project["branch"]["id"])
    response = api.get(url)
    assert response.status_code == 404
    assert set(response.json()) == {"code", "message", "request_id"}


def test_deleting_what_is_already_gone_gets_204(api: httpx.Client, project: dict[str, Any]) -> None:
    base = f"/projects/{project['project']['id']}"
    branch = project["branch"]["id"]
    for path in (
        f"{base}/branches/br-nope-nope-a5000000",
        f"{base}/endpoints/ep-nope-nope-a5000000",
        f"{base}/branches/{branch}/roles/nobody",
        f"{base}/branches/{branch}/databases/nothing",
    ):
        response = api.delete(path)
        assert response.status_code == 204, path
        assert response.content == b""


def test_transfer_of_more_than_400_projects(
    api: httpx.Client, paid_org: str, sponsored_org: str
) -> None:
    ids = [f"p-{i:08d}" for i in range(401)]
    response = api.post(
        f"/organizations/{sponsored_org}/projects/transfer",
        json={"destination_org_id": paid_org, "project_ids": ids},
    )
    assert response.status_code == 400
    assert "project_ids" in response.json()["message"]


def test_malformed_json(api: httpx.Client) -> None:
    response = api.post(
        "/projects", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith("invalid request: decode application/json")


def test_unknown_region(api: httpx.Client, paid_org: str) -> None:
    response = _create(api, paid_org, region_id="aws-moon-1")
    assert response.status_code == 400
    assert "region_id" in response.json()["message"]
