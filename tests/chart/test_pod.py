"""The chart's Deployment runs from the image built from the Dockerfile, as a kubelet would run it.

The container spec comes from ``helm template``; :mod:`neon_operator.devstack.pods` honours its
command, args, env, ports, probes, security context (non-root user, read-only root filesystem,
no capabilities, no privilege escalation) and volumes, and projects a token minted for the
chart's ServiceAccount with the CA and namespace files, with ``KUBERNETES_SERVICE_HOST``/``_PORT``
naming the local apiserver: the operator finds nothing but in-cluster config. If the chart were
wrong for a real Pod (a path not writable under the read-only root, a probe on the wrong port, a
missing permission or env var), this is where it fails.
"""

from __future__ import annotations

import base64
import pathlib
import urllib.parse
import uuid
from collections.abc import Callable

import psycopg
import pytest
from kubernetes import client
from kubernetes.client import ApiClient
from kubernetes.client.rest import ApiException

from neon_operator.devstack import image, pods, processes
from neon_operator.devstack import stack as devstack

from .conftest import Installed

pytestmark = pytest.mark.e2e

GROUP, VERSION, PLURAL = "neon.operator.dev", "v1alpha1", "neonappdatabases"


def memory_bytes(quantity: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return int(quantity[: -len(suffix)]) * factor
    return int(quantity)


def test_the_charts_deployment_runs_from_the_image_and_serves_an_app(
    install: Callable[..., Installed],
    kube_api: ApiClient,
    local_stack: devstack.Stack,
    operator_image: image.Image,
    tmp_path: pathlib.Path,
) -> None:
    core = client.CoreV1Api(kube_api)
    objects = client.CustomObjectsApi(kube_api)
    tenant = "pod-tenant-" + uuid.uuid4().hex[:6]  # outside the session operator's t-*
    core.create_namespace({"metadata": {"name": tenant}})
    # Only what a node makes unique (ports on a shared host network) and the namespace to
    # watch (other tests run operators of their own) differ from the chart's defaults.
    release = install(
        f"watchNamespaces={{{tenant}}}",
        f"livenessPort={processes.free_port()}",
        f"metrics.port={processes.free_port()}",
    )
    deployment = release.one("Deployment")
    template = deployment["spec"]["template"]
    (container,) = template["spec"]["containers"]
    assert container["image"] == operator_image.reference
    assert "readinessProbe" in container
    assert "livenessProbe" in container
    pod = {
        "metadata": {
            "name": f"{deployment['metadata']['name']}-0",
            "namespace": release.namespace,
            "labels": template["metadata"]["labels"],
        },
        "spec": template["spec"],
    }
    api = urllib.parse.urlsplit(local_stack.control_plane.api_server_url)
    assert api.hostname is not None
    assert api.port is not None
    cluster = pods.Cluster(api_host=api.hostname, api_port=api.port, api=kube_api)
    running = pods.start(pod, container["name"], operator_image, cluster, tmp_path / "pod")
    args = (GROUP, VERSION, tenant, PLURAL)
    try:
        assert running.env["KUBERNETES_SERVICE_HOST"] == "127.0.0.1"
        assert "KUBECONFIG" not in running.env
        running.wait_probe("readiness", timeout=120)
        assert running.probe("liveness").ok

        objects.create_namespaced_custom_object(
            *args,
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "NeonAppDatabase",
                "metadata": {"name": "todo"},
                "spec": {"configRef": {"name": release.config_name}},
            },
        )

        def ready() -> bool:
            body = objects.get_namespaced_custom_object(*args, "todo")
            conditions = body.get("status", {}).get("conditions", [])
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

        process = processes.Process("operator pod", running.popen.pid, running.log, running.popen)
        processes.wait_until(process, ready, timeout=120, what="serving a Ready app")
        secret = core.read_namespaced_secret("todo-neon", tenant)
        url = base64.b64decode(secret.data["DATABASE_URL"]).decode()
        with psycopg.connect(url, connect_timeout=20) as connection:
            assert connection.execute("select 1").fetchone() == (1,)

        assert running.probe("liveness").ok
        assert running.probe("readiness").ok
        limit = memory_bytes(container["resources"]["limits"]["memory"])
        assert 0 < running.rss_bytes() < limit

        objects.delete_namespaced_custom_object(*args, "todo")

        def gone() -> bool:
            try:
                objects.get_namespaced_custom_object(*args, "todo")
            except ApiException as error:
                return bool(error.status == 404)
            return False

        processes.wait_until(process, gone, timeout=60, what="done deleting")
    finally:
        grace = float(template["spec"].get("terminationGracePeriodSeconds", 30))
        exit_code = running.stop(grace=grace)
        core.delete_namespace(tenant)
    log = running.log.read_text(errors="replace")
    assert exit_code == 0, log[-3000:]
    # Other tests' NeonConfigs (and their key Secrets) share this apiserver; what this release
    # serves (its NeonConfig, the tenant, its own namespace) must never be refused.
    ours = (release.config_name, tenant, f'\\"{release.namespace}\\"')
    refused = [line for line in log.splitlines() if " 403" in line or "orbidden" in line]
    assert [line for line in refused if any(name in line for name in ours)] == []
