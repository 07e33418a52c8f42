"""The consumption poller against the emulator: many projects per Neon call, status and gauges."""

from __future__ import annotations

import asyncio
import math
import re
from typing import Any

import pytest

from neon_operator import metrics, neon
from neon_operator.handlers.consumption import ConsumptionPoller
from neon_operator.neon import ApiCall

pytestmark = pytest.mark.integration

PLURAL = "neonappdatabases"
NAMESPACE = "apps"


async def _app(op: Any, name: str, tier: str) -> dict[str, Any]:
    """A NeonAppDatabase whose project exists in Neon and is recorded in status."""
    created = await op.neon.create_project(tier, name=name)
    project = created["project"]
    for endpoint in created["endpoints"]:  # idle computes: numbers that stay put
        path = f"/projects/{project['id']}/endpoints/{endpoint['id']}/suspend"
        for _ in range(500):  # 423 while the create's operations still run (20 ms each)
            response = await op.neon.api.post(path)
            if response.status_code != 423:
                break
            await asyncio.sleep(0.02)
        response.raise_for_status()
    op.apply(PLURAL, name, {"configRef": {"name": "default"}, "tier": tier})
    await op.kube.patch_status(
        op.ref(PLURAL, name),
        {"projectId": project["id"], "orgId": project["org_id"], "tier": tier},
    )
    return op.body(PLURAL, name)


def _gauge(name: str, tier: str, field: str = "compute_time_seconds") -> float | None:
    labels = {"namespace": NAMESPACE, "name": name, "tier": tier}
    return metrics.REGISTRY.get_sample_value(f"neon_operator_consumption_{field}", labels)


async def test_projects_are_fetched_a_batch_per_call_into_status_and_gauges(
    op: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(neon, "CONSUMPTION_BATCH", 2)
    names = [f"usage-{i}" for i in range(5)]
    paused: list[float] = []

    async def pause(seconds: float) -> None:
        paused.append(seconds)

    poller = ConsumptionPoller(op.ctx, interval=3600, share=0.5, sleep=pause)
    for name in names:
        poller.track(await _app(op, name, "paid"))
    account = await op.accounts.get("default", namespace=None)
    sent: list[ApiCall] = []
    account.client.calls.subscribe(sent.append)

    await poller.poll()

    history = [c for c in sent if c.route == "/consumption_history/projects"]
    assert len(history) == math.ceil(len(names) / 2) == 3
    assert {c.priority for c in history} == {neon.Priority.DRIFT}
    budget = account.config.spec.rate_limit.requests_per_minute
    assert paused == [60 / (0.5 * budget)] * 2  # between batches, within half the budget
    for name in names:
        consumption = op.status(PLURAL, name)["consumption"]
        assert consumption["source"] == "history"
        assert consumption["computeTimeSeconds"] >= 0
        assert consumption["periodStart"]
        assert _gauge(name, "paid") == consumption["computeTimeSeconds"]
        assert (
            _gauge(name, "paid", "synthetic_storage_size_bytes")
            == (consumption["syntheticStorageSizeBytes"])
        )
        assert _gauge(name, "paid", "data_transfer_bytes") is None  # history has none

    versions = {name: op.body(PLURAL, name)["metadata"]["resourceVersion"] for name in names}
    await poller.poll()  # nothing changed in Neon: no status write
    assert {n: op.body(PLURAL, n)["metadata"]["resourceVersion"] for n in names} == versions

    poller.untrack(op.body(PLURAL, names[0])["metadata"]["uid"])
    assert _gauge(names[0], "paid") is None
    assert _gauge(names[1], "paid") is not None


def _count_kube(op: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many reads and status patches of objects the code under test sends."""
    counts = {"read": 0, "patch": 0}
    read, patch = op.kube.read_object, op.kube.patch_status

    async def counted_read(*args: Any, **kwargs: Any) -> Any:
        counts["read"] += 1
        return await read(*args, **kwargs)

    async def counted_patch(*args: Any, **kwargs: Any) -> Any:
        counts["patch"] += 1
        return await patch(*args, **kwargs)

    monkeypatch.setattr(op.kube, "read_object", counted_read)
    monkeypatch.setattr(op.kube, "patch_status", counted_patch)
    return counts


async def test_a_resource_unchanged_since_it_was_seen_costs_one_patch_and_no_read(
    op: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    poller = ConsumptionPoller(op.ctx, interval=3600, share=1.0)
    names = [f"quiet-{i}" for i in range(3)]
    for name in names:
        poller.track(await _app(op, name, "paid"))
    counts = _count_kube(op, monkeypatch)

    await poller.poll()

    assert counts == {"read": 0, "patch": len(names)}
    for name in names:
        assert op.status(PLURAL, name)["consumption"]["source"] == "history"


async def test_a_resource_changed_since_it_was_seen_is_read_and_keeps_the_change(
    op: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    poller = ConsumptionPoller(op.ctx, interval=3600, share=1.0)
    poller.track(await _app(op, "busy", "paid"))
    poller.track(await _app(op, "moved", "paid"))
    # Written after the poller saw them: a condition on one, another project on the other.
    await op.kube.patch_status(op.ref(PLURAL, "busy"), {"secretName": "kept"})
    other = await op.neon.create_project("paid", name="elsewhere")
    await op.kube.patch_status(op.ref(PLURAL, "moved"), {"projectId": other["project"]["id"]})
    counts = _count_kube(op, monkeypatch)

    await poller.poll()

    busy = op.status(PLURAL, "busy")
    assert busy["consumption"]["source"] == "history"
    assert busy["secretName"] == "kept"  # written at the version read, not over it
    assert "consumption" not in op.status(PLURAL, "moved")  # not the numbers of its old project
    # Each: a refused patch at the version seen, a read; then a patch for the one still on it.
    assert counts == {"read": 2, "patch": 3}


async def test_a_resource_untracked_while_its_consumption_is_written_keeps_no_gauges(
    op: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    poller = ConsumptionPoller(op.ctx, interval=3600, share=1.0)
    body = await _app(op, "leaving", "paid")
    poller.track(body)
    patch = op.kube.patch_status

    async def untracked_meanwhile(*args: Any, **kwargs: Any) -> Any:
        written = await patch(*args, **kwargs)
        poller.untrack(body["metadata"]["uid"])  # deleted while the patch was on its way
        return written

    monkeypatch.setattr(op.kube, "patch_status", untracked_meanwhile)

    await poller.poll()

    assert op.status(PLURAL, "leaving")["consumption"]["source"] == "history"
    assert len(poller) == 0
    assert _gauge("leaving", "paid") is None


async def test_an_app_tracked_before_it_had_a_project_is_read_again(op: Any) -> None:
    poller = ConsumptionPoller(op.ctx, interval=3600, share=1.0)
    op.apply(PLURAL, "young", {"configRef": {"name": "default"}, "tier": "paid"})
    poller.track(op.body(PLURAL, "young"))  # kopf hands the upkeep the body it reconciled
    op.kube.delete(PLURAL, "young", namespace=NAMESPACE)
    op.kube.remove_finalizer(PLURAL, "young", op.settings.finalizer, namespace=NAMESPACE)
    await _app(op, "young", "paid")  # a new object of the same name: another uid
    poller.track(op.body(PLURAL, "young") | {"status": {}})

    await poller.poll()

    assert len(poller) == 1
    assert op.status(PLURAL, "young")["consumption"]["source"] == "history"
    assert _gauge("young", "paid") is not None


async def test_an_organization_without_consumption_history_is_left_to_drift_checks(
    op: Any,
) -> None:
    poller = ConsumptionPoller(op.ctx, interval=3600, share=1.0)
    poller.track(await _app(op, "free-usage", "free"))  # the free plan: Neon answers 403

    await poller.poll()

    assert "consumption" not in op.status(PLURAL, "free-usage")
    assert _gauge("free-usage", "free") is None


async def test_a_drift_check_keeps_the_history_and_adds_the_data_transfer(op: Any) -> None:
    op.apply(PLURAL, "drifting", {"configRef": {"name": "default"}, "tier": "paid"})
    await op.reconcile(PLURAL, "drifting")
    assert op.status(PLURAL, "drifting")["consumption"]["source"] == "project"
    poller = ConsumptionPoller(op.ctx, interval=3600, share=1.0)
    poller.track(op.body(PLURAL, "drifting"))
    await poller.poll()
    recorded = op.status(PLURAL, "drifting")["consumption"]
    assert recorded["source"] == "history"

    await op.reconcile(PLURAL, "drifting", resync=False)

    after = op.status(PLURAL, "drifting")["consumption"]
    assert after["source"] == "history"
    assert after["computeTimeSeconds"] == recorded["computeTimeSeconds"]
    assert "dataTransferBytes" in after


def test_consumption_gauges_are_named_by_prometheus_rules() -> None:
    families = {
        family.name: family
        for family in metrics.REGISTRY.collect()
        if family.name.startswith("neon_operator_consumption_")
    }

    assert len(families) == len(metrics.CONSUMPTION) == 5
    for name, family in families.items():
        assert family.type == "gauge", name  # they reset every billing period
        assert re.fullmatch(r"neon_operator_consumption_[a-z_]+_(seconds|bytes)", name), name
