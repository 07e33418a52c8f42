"""The request history: every API request the emulator answered, with its path, route and
status, read through ``GET /admin/requests``."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.integration


def test_the_history_holds_each_api_request_with_route_and_status(own_emulator: Any) -> None:
    with own_emulator.admin() as admin:
        start = admin.get("/admin/requests").json()["last"]
        admin.put("/admin/rate-limits", json={"per_minute": 2, "burst_per_second": 0})
    with own_emulator.client() as api:
        assert api.get("/projects/no-such-project").status_code == 404
        assert api.get("/regions").status_code == 200
        assert api.get("/regions").status_code == 429
    with own_emulator.client(key="not-a-key") as stranger:
        assert stranger.get("/regions").status_code == 401
    with own_emulator.admin() as admin:
        log = admin.get("/admin/requests", params={"after": start}).json()
        later = admin.get("/admin/requests", params={"after": log["last"] - 1}).json()

    seen = [(r["method"], r["path"], r["route"], r["status"]) for r in log["requests"]]
    assert seen == [
        ("GET", "/projects/no-such-project", "/projects/{project_id}", 404),
        ("GET", "/regions", "/regions", 200),
        ("GET", "/regions", "/regions", 429),
        ("GET", "/regions", "/regions", 401),
    ]
    assert [r["seq"] for r in log["requests"]] == list(range(start + 1, start + 5))
    assert log["last"] == start + 4
    assert [r["status"] for r in later["requests"]] == [401]


def test_a_bad_after_is_a_400(own_emulator: Any) -> None:
    with own_emulator.admin() as admin:
        assert admin.get("/admin/requests", params={"after": "x"}).status_code == 400
