"""``helm upgrade`` from the previous chart version, the way the README says to do it.

The previous chart is recorded as a fixture (``fixtures/neon-operator-0.1.0.tgz``: the chart as
of the commit before this test existed). Helm installs ``crds/`` on install but never upgrades
them, so the documented upgrade is two steps: ``kubectl apply --server-side --force-conflicts -f
helm/neon-operator/crds/`` (the new CRDs, taking the fields over from Helm), then ``helm
upgrade``. A rollback restores the previous templates; the CRDs stay new (Helm never touches
them), and what was created before keeps working throughout. It runs on a control plane of its
own, since it installs old CRDs.

While chart 0.1.0 is installed (before the upgrade, after the rollback) the operator that runs is
0.1.0's own: its code, taken from the commit the chart fixture was recorded from
(``PREVIOUS_COMMIT``), as a rollback restores the old image too. Today's operator would not be a
fair stand-in: it needs RBAC for its leadership Lease and grants on the NeonConfig, which that
chart does not give.
"""

from __future__ import annotations

import base64
import pathlib
import subprocess
import sys
import time
from collections.abc import Iterator

import psycopg
import pytest
from kubernetes import client, config
from kubernetes.client import ApiClient

from neon_operator.devstack import binaries, controlplane, processes
from neon_operator.devstack import stack as devstack

from .conftest import CHART, operator_kubeconfig

pytestmark = pytest.mark.e2e

PREVIOUS = pathlib.Path(__file__).parent / "fixtures" / "neon-operator-0.1.0.tgz"
PREVIOUS_COMMIT = "a012dd70215f59dc7d857dff77cd25bf7f64d1a3"  # helm/neon-operator == the fixture
REPOSITORY = pathlib.Path(__file__).resolve().parents[2]
GROUP, VERSION, PLURAL = "neon.operator.dev", "v1alpha1", "neonappdatabases"
RELEASE, NAMESPACE, TENANT = "neon", "neon-system", "team-a"


@pytest.fixture
def plane(tmp_path: pathlib.Path) -> Iterator[controlplane.ControlPlane]:
    """A fresh etcd + kube-apiserver, without our CRDs."""
    started = controlplane.start(tmp_path / "plane")
    try:
        yield started
    finally:
        started.stop()


def run(*argv: str | pathlib.Path) -> str:
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(map(str, argv))}:\n{result.stdout}{result.stderr}"
    return result.stdout


def ready(api: ApiClient, name: str) -> bool:
    body = client.CustomObjectsApi(api).get_namespaced_custom_object(
        GROUP, VERSION, TENANT, PLURAL, name
    )
    conditions = body.get("status", {}).get("conditions", [])
    generation = body["metadata"]["generation"]
    return any(
        c["type"] == "Ready" and c["status"] == "True" and c["observedGeneration"] == generation
        for c in conditions
    )


def connects(api: ApiClient, secret: str) -> bool:
    data = client.CoreV1Api(api).read_namespaced_secret(secret, TENANT).data
    url = base64.b64decode(data["DATABASE_URL"]).decode()
    with psycopg.connect(url, connect_timeout=20) as connection:
        return connection.execute("select 1").fetchone() == (1,)


def test_helm_upgrade_from_the_previous_chart_keeps_resources_working_and_rolls_back(
    plane: controlplane.ControlPlane, local_stack: devstack.Stack, tmp_path: pathlib.Path
) -> None:
    emulator = local_stack.emulator
    assert emulator is not None
    helm, kubectl = binaries.ensure_helm(), binaries.ensure_kubectl()
    kubeconfig = f"--kubeconfig={plane.kubeconfig}"
    api = config.new_client_from_config(config_file=str(plane.kubeconfig))
    core = client.CoreV1Api(api)
    objects = client.CustomObjectsApi(api)
    for name in (NAMESPACE, TENANT):
        core.create_namespace({"metadata": {"name": name}})
    core.create_namespaced_secret(
        NAMESPACE,
        {"metadata": {"name": "neon-api-key"}, "stringData": {"apiKey": emulator.api_key()}},
    )
    values = [
        "--set=neonConfig.create=true",
        f"--set=neonConfig.apiUrl={emulator.api_url}",
        f"--set=neonConfig.organizations.free={emulator.organizations['sponsored']}",
        f"--set=neonConfig.organizations.paid={emulator.organizations['paid']}",
        f"--set=watchNamespaces={{{TENANT}}}",
    ]
    run(helm, kubeconfig, "install", RELEASE, PREVIOUS, "-n", NAMESPACE, *values, "--wait=false")

    previous_code = tmp_path / "previous"
    previous_code.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPOSITORY), "archive", PREVIOUS_COMMIT, "operator"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "x", "-C", str(previous_code)], input=archive, check=True)
    operators: list[processes.Process] = []

    def start_operator(log: str, *, previous: bool) -> processes.Process:
        """The operator as the release's ServiceAccount (a rollout restarts the Pod): 0.1.0's
        code while chart 0.1.0 is installed, today's after the upgrade."""
        for old in operators:
            processes.stop(old.pid, old.popen)
        token = core.create_namespaced_service_account_token(
            f"{RELEASE}-neon-operator", NAMESPACE, {"spec": {"expirationSeconds": 3600}}
        ).status.token
        account = operator_kubeconfig(plane.kubeconfig, token, tmp_path / f"{log}.kubeconfig")
        argv = [sys.executable, "-m", "neon_operator.cli", "run", "--namespace", TENANT]
        env = {"KUBECONFIG": str(account)}
        if previous:
            env["PYTHONPATH"] = str(previous_code / "operator")
        else:
            argv.append(f"--leader-election-namespace={NAMESPACE}")
        process = processes.spawn("operator", argv, tmp_path / f"{log}.log", env=env)
        operators.append(process)
        return process

    def create_app(name: str) -> None:
        objects.create_namespaced_custom_object(
            GROUP,
            VERSION,
            TENANT,
            PLURAL,
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "NeonAppDatabase",
                "metadata": {"name": name},
                "spec": {},
            },
        )

    def refused_creation(name: str) -> str | None:
        """``None`` once the app is created; else why admission refused it."""
        try:
            create_app(name)
        except client.ApiException as error:
            if error.status != 403:
                raise
            return str(error.body)
        return None

    try:
        operator = start_operator("before", previous=True)
        create_app("before")
        processes.wait_until(operator, lambda: ready(api, "before"), timeout=120, what="Ready")
        assert connects(api, "before-neon")

        # The documented upgrade: the new CRDs first (Helm would not), then the templates.
        crds = run(
            kubectl, kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", CHART / "crds"
        )
        assert crds.count("serverside-applied") == 6
        run(helm, kubeconfig, "upgrade", RELEASE, CHART, "-n", NAMESPACE, *values)
        crd = client.ApiextensionsV1Api(api).read_custom_resource_definition(f"{PLURAL}.{GROUP}")
        status_schema = crd.spec.versions[0].schema.open_apiv3_schema.properties["status"]
        assert status_schema.default == {"observedGeneration": 0}  # the new CRD is served
        deployment = client.AppsV1Api(api).read_namespaced_deployment(
            f"{RELEASE}-neon-operator", NAMESPACE
        )
        assert deployment.spec.template.spec.containers[0].readiness_probe is not None

        # The new chart grants the tenant's namespace on the NeonConfig; admission reads that
        # through its param informer, so wait until the grant is visible, as a user would see it.
        deadline = time.monotonic() + 30
        while "allowedNamespaces" not in objects.get_cluster_custom_object(
            GROUP, VERSION, "neonconfigs", "default"
        ).get("spec", {}):
            assert time.monotonic() < deadline, "helm upgrade did not grant the namespaces"
            time.sleep(0.2)
        operator = start_operator("upgraded", previous=False)
        # Admission reads the NeonConfig through the apiserver's param informer, which catches up
        # with the grant a moment after the CRD's new schema is served: retry, as Argo CD would.
        deadline = time.monotonic() + 60
        while (refusal := refused_creation("after")) is not None:
            assert "is not granted" in refusal, refusal
            assert time.monotonic() < deadline, f"admission never saw the grant: {refusal}"
            time.sleep(1)
        processes.wait_until(operator, lambda: ready(api, "after"), timeout=120, what="Ready")
        assert ready(api, "before")
        assert connects(api, "before-neon")
        assert connects(api, "after-neon")

        run(helm, kubeconfig, "rollback", RELEASE, "1", "-n", NAMESPACE, "--wait=false")
        deployment = client.AppsV1Api(api).read_namespaced_deployment(
            f"{RELEASE}-neon-operator", NAMESPACE
        )
        assert deployment.spec.template.spec.containers[0].readiness_probe is None
        history = run(helm, kubeconfig, "history", RELEASE, "-n", NAMESPACE)
        assert "Rollback to 1" in history
        operator = start_operator("rolled-back", previous=True)
        objects.patch_namespaced_custom_object(
            GROUP, VERSION, TENANT, PLURAL, "after", {"spec": {"compute": {"maxCu": 1}}}
        )
        processes.wait_until(operator, lambda: ready(api, "after"), timeout=120, what="Ready")
        assert ready(api, "before")
        assert connects(api, "before-neon")

        for name in ("before", "after"):  # the operator deletes their Neon projects
            objects.delete_namespaced_custom_object(GROUP, VERSION, TENANT, PLURAL, name)
        deadline = time.monotonic() + 60
        while objects.list_namespaced_custom_object(GROUP, VERSION, TENANT, PLURAL)["items"]:
            assert time.monotonic() < deadline, "apps never finished deleting"
            time.sleep(0.2)
    finally:
        for process in operators:
            processes.stop(process.pid, process.popen)
        api.close()

    def refused(log: str) -> list[str]:
        lines = (tmp_path / f"{log}.log").read_text().splitlines()
        return [line for line in lines if " 403" in line or "orbidden" in line]

    # Right after the upgrade the apiserver's RBAC cache may not yet know the new Lease Role (the
    # operator retries reading its Lease until it may), and the rollback removes that Role before
    # the new operator stops (it cannot release the Lease, which then expires): nothing else.
    assert [line for line in refused("upgraded") if "the Lease: HTTP 403" not in line] == []
    # Chart 0.1.0 (and a rollback to it) lacked the Role for Events about NeonConfigs, which
    # go to the default namespace when watchNamespaces is set: that, and nothing else.
    for log in ("before", "rolled-back"):
        assert all("could not post event" in line for line in refused(log)), refused(log)
