"""Rate limits (429 + Retry-After) and injected faults, set at start or through the admin API."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.integration


def test_requests_past_the_burst_budget_get_429_with_retry_after(own_emulator: Any) -> None:
    with own_emulator.admin() as admin:
        admin.put("/admin/rate-limits", json={"per_minute": 700, "burst_per_second": 5})
    with own_emulator.client() as api:
        responses = [api.get("/users/me") for _ in range(30)]
    assert [r.status_code for r in responses[:5]] == [200] * 5
    limited = next(r for r in responses if r.status_code != 200)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert set(limited.json()) == {"code", "message", "request_id"}


def test_burst_budget_is_per_route(own_emulator: Any) -> None:
    with own_emulator.admin() as admin:
        admin.put("/admin/rate-limits", json={"per_minute": 700, "burst_per_second": 2})
    with own_emulator.client() as api:
        assert 429 in {api.get("/users/me").status_code for _ in range(20)}
        assert api.get("/regions").status_code == 200


def test_requests_past_the_minute_budget_get_429(own_emulator: Any) -> None:
    with own_emulator.admin() as admin:
        admin.put("/admin/rate-limits", json={"per_minute": 3, "burst_per_second": 0})
    with own_emulator.client() as api:
        responses = [api.get(path) for path in ("/users/me", "/regions", "/auth", "/regions")]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert int(responses[-1].headers["Retry-After"]) >= 1


def test_injected_5xx(own_emulator: Any) -> None:
    with own_emulator.admin() as admin:
        assert admin.put("/admin/faults", json={"error_5xx_probability": 1}).status_code == 200
    with own_emulator.client() as api:
        response = api.get("/users/me")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    with own_emulator.admin() as admin:
        admin.put("/admin/faults", json={"error_5xx_probability": 0})
        assert admin.get("/admin/faults").json()["error_5xx_probability"] == 0
    with own_emulator.client() as api:
        assert api.get("/users/me").status_code == 200


def test_forced_423_applies_to_mutations_only(own_emulator: Any, create_project: Any) -> None:
    with own_emulator.client() as api:
        project_id = create_project(api, own_emulator.organizations["paid"])["project"]["id"]
        with own_emulator.admin() as admin:
            admin.put("/admin/faults", json={"locked_probability": 1})
        assert api.get(f"/projects/{project_id}").status_code == 200
        response = api.post(f"/projects/{project_id}/branches", json={})
        assert response.status_code == 423
        assert response.json()["message"].startswith("project already has running")


def test_an_echoing_400_quotes_the_body_of_mutations_only(own_emulator: Any) -> None:
    with own_emulator.admin() as admin:
        admin.put("/admin/faults", json={"echo_body_probability": 1})
    with own_emulator.client() as api:
        assert api.get("/users/me").status_code == 200
        body = {"project": {"name": "echo", "settings": {"client_secret": "s3cr3t-value"}}}
        response = api.post("/projects", json=body)
    assert response.status_code == 400
    assert "doesn't match schema" in response.json()["message"]
    assert "s3cr3t-value" in response.json()["message"]
    with own_emulator.admin() as admin:
        admin.put("/admin/faults", json={"echo_body_probability": 0})


def test_knobs_can_be_set_at_start(start_emulator: Any) -> None:
    started = start_emulator(
        "--fault-5xx-probability", "1", "--rate-limit-per-minute", "1", "--fault-latency", "0.01"
    )
    with started.client() as api:
        assert api.get("/users/me").status_code == 503
    with started.admin() as admin:
        assert admin.get("/admin/rate-limits").json()["per_minute"] == 1
        assert admin.get("/admin/faults").json()["latency_seconds"] == 0.01
