"""NeonBranch end to end (control plane): real kube-apiserver + controller-manager, the operator
as a subprocess, the session's Neon emulator over HTTP.

What the branch data looks like (rows on a PITR branch, isolation of a dev branch) is checked
against the emulator's PostgreSQL data plane in ``test_restore_data.py``; children holding a
branch's deletion, names taken, crash recovery and deletion policies in
``tests/operator/reconcilers/test_branch.py``.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from kubernetes.client.rest import ApiException

from .conftest import Kind, ready

pytestmark = pytest.mark.e2e

GROUP, VERSION = "neon.operator.dev", "v1alpha1"


@pytest.fixture
def branches(apps: Any) -> Kind:
    return Kind(apps, "NeonBranch", "neonbranches")


def neon_branch(neon: Any, project_id: str, branch_id: str) -> dict[str, Any] | None:
    response = neon.http.get(f"/projects/{project_id}/branches/{branch_id}")
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return dict(response.json()["branch"])


def test_a_branch_gets_its_own_compute_and_secret_and_deleting_it_deletes_the_neon_branch(
    apps, branches, neon
) -> None:
    apps.create("shop", {})
    app = apps.wait_condition("shop", "True")["status"]

    branches.create(
        "feature",
        {"appDatabaseRef": {"name": "shop"}, "compute": {"minCu": 0.25, "maxCu": 0.5}},
    )
    status = branches.wait_condition("feature", "True", "BranchReady")["status"]

    assert status["projectId"] == app["projectId"]
    assert status["parentBranchId"] == app["defaultBranchId"]
    assert status["branchId"] != app["defaultBranchId"]
    found = neon_branch(neon, status["projectId"], status["branchId"])
    assert found is not None
    assert found["name"] == "feature"
    endpoint = neon.endpoint(status["projectId"], status["endpointId"])
    assert (endpoint["branch_id"], endpoint["type"]) == (status["branchId"], "read_write")
    assert endpoint["autoscaling_limit_max_cu"] == 0.5
    secret = apps.secret("feature-neon")
    assert secret is not None
    assert f"{secret['PGHOST_UNPOOLED']}:{secret['PGPORT']}" == status["host"]
    assert secret["PGOPTIONS"] == f"endpoint={status['endpointId']}"
    assert status["endpointId"] != app["endpointId"]
    owner = apps.secret_object("feature-neon").metadata.owner_references
    assert [(o.kind, o.name) for o in owner] == [("NeonBranch", "feature")]
    refs = branches.get("feature")["metadata"]["ownerReferences"]  # type: ignore[index]
    assert [(r["kind"], r["name"]) for r in refs] == [("NeonAppDatabase", "shop")]

    branches.delete("feature")
    branches.wait("feature", lambda obj: obj is None, "deleted")

    assert neon_branch(neon, status["projectId"], status["branchId"]) is None


def test_a_branch_of_a_branch_waits_for_its_parent_then_branches_from_it(apps, branches) -> None:
    branches.create(
        "child", {"appDatabaseRef": {"name": "later"}, "parentBranchRef": {"name": "parent"}}
    )
    waiting = branches.wait_condition("child", "False", "ParentNotFound")
    assert "NeonAppDatabase 'later' does not exist" in ready(waiting)["message"]  # type: ignore[index]

    apps.create("later", {})
    branches.create("parent", {"appDatabaseRef": {"name": "later"}, "compute": {"type": "None"}})
    parent = branches.wait_condition("parent", "True")["status"]
    child = branches.wait_condition("child", "True")["status"]

    assert child["parentBranchId"] == parent["branchId"]
    assert parent.get("secretName") is None


def test_a_point_in_time_outside_the_history_window_is_refused_with_a_clear_message(
    apps, branches, operator
) -> None:
    apps.create("short", {"historyRetentionSeconds": 3600})
    apps.wait_condition("short", "True")
    before = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=2)

    branches.create(
        "too-old",
        {
            "appDatabaseRef": {"name": "short"},
            "parentTimestamp": before.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    )
    refused = branches.wait_condition("too-old", "False", "OutsideHistoryWindow")

    message = ready(refused)["message"]  # type: ignore[index]
    assert "outside the project's history window" in message
    assert "3600s" in message
    calls = operator.neon_calls("POST", "/projects/{project_id}/branches")
    branches.wait_condition("too-old", "False", "OutsideHistoryWindow")
    assert operator.neon_calls("POST", "/projects/{project_id}/branches") == calls


def test_admission_refuses_two_points_in_time_and_changing_the_parent(apps, branches) -> None:
    with pytest.raises(ApiException) as both:
        branches.create(
            "both",
            {
                "appDatabaseRef": {"name": "x"},
                "parentTimestamp": "2026-01-01T00:00:00Z",
                "parentLsn": "0/1DE2850",
            },
        )
    assert both.value.status == 422
    assert "parentTimestamp and parentLsn are mutually exclusive" in both.value.body

    with pytest.raises(ApiException) as bad_lsn:
        branches.create("lsn", {"appDatabaseRef": {"name": "x"}, "parentLsn": "yesterday"})
    assert bad_lsn.value.status == 422
    assert "parentLsn" in bad_lsn.value.body

    branches.create("fixed", {"appDatabaseRef": {"name": "x"}})
    with pytest.raises(ApiException) as moved:
        branches.patch("fixed", {"spec": {"appDatabaseRef": {"name": "y"}}})
    assert moved.value.status == 422
    assert "appDatabaseRef is immutable" in moved.value.body
    with pytest.raises(ApiException) as late:
        branches.patch("fixed", {"spec": {"parentLsn": "0/1DE2850"}})
    assert "parentLsn can only be set when the NeonBranch is created" in late.value.body


def test_a_cross_namespace_reference_is_refused_at_admission(apps, branches) -> None:
    with pytest.raises(ApiException) as refused:
        apps.objects.create_namespaced_custom_object(
            GROUP,
            VERSION,
            apps.namespace,
            "neonbranches",
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "NeonBranch",
                "metadata": {"name": "elsewhere"},
                "spec": {"appDatabaseRef": {"name": "shop", "namespace": "other"}},
            },
        )

    assert refused.value.status == 422
    assert "spec.appDatabaseRef.namespace: other is not this object" in refused.value.body
    assert branches.get("elsewhere") is None
