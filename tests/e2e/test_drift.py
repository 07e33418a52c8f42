"""What changes in Neon behind the operator's back is put back by the periodic resync."""

from __future__ import annotations

import time
import uuid

import pytest
from kubernetes import client

pytestmark = pytest.mark.e2e


def test_an_out_of_band_compute_change_in_neon_is_reverted(
    kube_api, neon, start_operator, apps_in
) -> None:
    namespace = "drift-" + uuid.uuid4().hex[:8]
    core = client.CoreV1Api(kube_api)
    core.create_namespace({"metadata": {"name": namespace}})
    apps = apps_in(namespace)
    try:
        start_operator([namespace], "drift.log", args=("--neon-resync-interval", "1"))
        apps.create(
            "steady", {"compute": {"minCu": 0.25, "maxCu": 1, "suspendTimeoutSeconds": 300}}
        )
        status = apps.wait_condition("steady", "True")["status"]
        path = f"/projects/{status['projectId']}/endpoints/{status['endpointId']}"
        changed = neon.http.patch(
            path, json={"endpoint": {"autoscaling_limit_max_cu": 8, "suspend_timeout_seconds": -1}}
        )
        changed.raise_for_status()

        deadline = time.monotonic() + 60
        endpoint = neon.endpoint(status["projectId"], status["endpointId"])
        while (endpoint["autoscaling_limit_max_cu"], endpoint["suspend_timeout_seconds"]) != (
            1,
            300,
        ):
            assert time.monotonic() < deadline, f"drift never reverted: {endpoint}"
            time.sleep(0.5)
            endpoint = neon.endpoint(status["projectId"], status["endpointId"])

        apps.delete("steady")  # while its operator runs, so the finalizer is released
        apps.wait("steady", lambda obj: obj is None, "deleted")
    finally:
        core.delete_namespace(namespace)
