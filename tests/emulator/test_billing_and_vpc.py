"""An organization's spending limit and VPC endpoints (assignment, project restrictions)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

ENDPOINT = "vpce-0a1b2c3d4e5f60718"


def test_spending_limit_is_set_read_and_cleared_on_paid_plans(
    api: httpx.Client, paid_org: str, sponsored_org: str
) -> None:
    limit = f"/organizations/{paid_org}/billing/spending_limit"
    assert api.put(limit, json={"spending_limit_cents": 2500}).json() == {
        "spending_limit_cents": 2500
    }
    assert api.get(limit).json() == {"spending_limit_cents": 2500}
    assert api.delete(limit).json() == {}
    assert api.delete(limit).status_code == 200
    assert api.get(limit).json() == {"spending_limit_cents": None}
    assert api.put(limit, json={"spending_limit_cents": 0}).status_code == 400
    free = api.get(f"/organizations/{sponsored_org}/billing/spending_limit")
    assert free.status_code == 403
    assert "free_v2" in free.json()["message"]


def test_a_vpc_endpoint_restricts_projects_of_its_organization_and_region(
    emulator: Any, api: httpx.Client, create_project: Any
) -> None:
    with emulator.admin() as admin:
        org_id = admin.post("/admin/organizations", json={"name": "Private"}).json()["id"]
    project_id = create_project(api, org_id, region_id="aws-us-east-2")["project"]["id"]
    elsewhere = create_project(api, org_id, region_id="aws-eu-central-1")["project"]["id"]
    region = f"/organizations/{org_id}/vpc/region/aws-us-east-2/vpc_endpoints"
    restriction = f"/projects/{project_id}/vpc_endpoints/{ENDPOINT}"

    early = api.post(restriction, json={"label": "app"})
    assert early.status_code == 400
    assert "assign it there first" in early.json()["message"]
    assert api.post(f"{region}/{ENDPOINT}", json={"label": "prod"}).status_code == 200
    assert api.post(f"{region}/{ENDPOINT}", json={"label": "prod vpc"}).status_code == 200
    assert api.post(restriction, json={"label": "app"}).status_code == 200
    foreign = api.post(f"/projects/{elsewhere}/vpc_endpoints/{ENDPOINT}", json={"label": "x"})
    assert foreign.status_code == 400

    details = api.get(f"{region}/{ENDPOINT}").json()
    assert details == {
        "vpc_endpoint_id": ENDPOINT,
        "label": "prod vpc",
        "state": "accepted",
        "num_restricted_projects": 1,
        "example_restricted_projects": [project_id],
    }
    assert api.get(f"/organizations/{org_id}/vpc/vpc_endpoints").json() == {
        "endpoints": [
            {"vpc_endpoint_id": ENDPOINT, "label": "prod vpc", "region_id": "aws-us-east-2"}
        ]
    }
    assert api.get(f"/projects/{project_id}/vpc_endpoints").json() == {
        "endpoints": [{"vpc_endpoint_id": ENDPOINT, "label": "app"}]
    }

    assert api.delete(f"{region}/{ENDPOINT}").status_code == 400
    assert api.delete(restriction).status_code == 200
    assert api.delete(restriction).status_code == 404
    assert api.delete(f"{region}/{ENDPOINT}").status_code == 200
    assert api.get(region).json() == {"endpoints": []}
    back = api.post(f"{region}/{ENDPOINT}", json={"label": "again"})
    assert back.status_code == 400
    assert "cannot be added back" in back.json()["message"]


def test_a_malformed_vpc_endpoint_id_names_the_field(api: httpx.Client, paid_org: str) -> None:
    response = api.post(
        f"/organizations/{paid_org}/vpc/region/aws-us-east-2/vpc_endpoints/endpoint-1",
        json={"label": "x"},
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith("vpc_endpoint_id:")
