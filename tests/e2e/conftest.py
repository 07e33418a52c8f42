"""The e2e tier's operator: ``neon-operator run`` as a real subprocess against the session stack.

The session operator serves namespaces matching ``t-*`` (the per-test ``namespace`` fixture), so
a test may start a second operator of its own on a namespace outside that pattern (the crash
test does) without two operators reconciling one object. Intervals are short so drift repair
shows within seconds; Neon drift checks stay rare, as in production.
"""

from __future__ import annotations

import base64
import os
import pathlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client import ApiClient
from kubernetes.client.rest import ApiException

from neon_operator.devstack import stack as devstack

RESYNC_SECONDS = 1.0
RETRY_SECONDS = 2.0
FAST_LEASE = (
    "--leader-election-lease-duration",
    "5",
    "--leader-election-renew-deadline",
    "4",
    "--leader-election-retry-period",
    "1",
)
"""Leader election timing for tests that restart or stop operators: a successor takes over
within seconds instead of controller-runtime's 15 s (the algorithm is the same)."""


@pytest.fixture
def fast_lease() -> tuple[str, ...]:
    """:data:`FAST_LEASE`, for ``start_operator(..., args=fast_lease)``."""
    return FAST_LEASE


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OperatorProcess:
    """One ``neon-operator run`` subprocess with its metrics endpoint and log file."""

    def __init__(
        self,
        kubeconfig: pathlib.Path,
        log: pathlib.Path,
        namespaces: list[str],
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.metrics_port = free_port()
        self.log = log
        argv = [
            sys.executable,
            "-c",
            "from neon_operator.cli import main; raise SystemExit(main())",
            "run",
            *[arg for ns in namespaces for arg in ("--namespace", ns)],
            "--metrics-port",
            str(self.metrics_port),
            "--resync-interval",
            str(RESYNC_SECONDS),
            "--retry-delay",
            str(RETRY_SECONDS),
            "--log-level",
            "DEBUG",
            *args,
        ]
        environment = {**os.environ, "KUBECONFIG": str(kubeconfig), **(env or {})}
        self._log_file = log.open("ab")
        self.popen = subprocess.Popen(
            argv, env=environment, stdout=self._log_file, stderr=subprocess.STDOUT
        )

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())

    def neon_calls(self, method: str, route: str, status: int | None = None) -> float:
        """Neon API requests sent so far for ``method route`` (with ``status``, if given)."""
        total = 0.0
        prefix = "neon_operator_neon_api_requests_total{"
        for line in self.metrics().splitlines():
            labels = [f'method="{method}"', f'route="{route}"']
            if status is not None:
                labels.append(f'status="{status}"')
            if line.startswith(prefix) and all(label in line for label in labels):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def leading(self) -> bool:
        """Whether this operator holds its leadership Lease (its metrics say so)."""
        return "neon_operator_leader 1.0" in self.metrics()

    def neon_calls_by_route(self) -> dict[str, float]:
        """Neon API requests sent so far, by ``METHOD route`` (any status)."""
        totals: dict[str, float] = {}
        for labels, value in self.samples("neon_operator_neon_api_requests_total"):
            key = f"{labels['method']} {labels['route']}"
            totals[key] = totals.get(key, 0.0) + value
        return totals

    def reconciles(self, trigger: str) -> float:
        """Reconciliations of any kind and outcome the operator ran for ``trigger`` so far."""
        return sum(
            value
            for labels, value in self.samples("neon_operator_reconciles_total")
            if labels.get("trigger") == trigger
        )

    def kubernetes_requests(self, verb: str, resource: str) -> float:
        """Requests ``verb resource`` (``get secrets``) the operator's own client sent so far."""
        return sum(
            value
            for labels, value in self.samples("neon_operator_kubernetes_requests_total")
            if (labels.get("verb"), labels.get("resource")) == (verb, resource)
        )

    def samples(self, name: str) -> list[tuple[dict[str, str], float]]:
        """The samples of metric ``name`` on ``/metrics``: their labels and values."""
        found = []
        for line in self.metrics().splitlines():
            if line.startswith(name + "{"):
                labels, _, value = line[len(name) + 1 :].rpartition("} ")
                pairs = (pair.split("=", 1) for pair in labels.split('",') if "=" in pair)
                found.append(({k: v.strip('"') for k, v in pairs}, float(value)))
        return found

    def wait_serving(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"operator exited with {self.popen.returncode}; see {self.log}")
            try:
                self.metrics()
                return
            except OSError:
                time.sleep(0.2)
        raise TimeoutError(f"operator metrics not served; see {self.log}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log_file.close()


@pytest.fixture(scope="session")
def operator(
    local_stack: devstack.Stack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    """The operator serving every ``t-*`` namespace for the whole session."""
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    process = OperatorProcess(local_stack.kubeconfig, log, ["t-*"])
    try:
        process.wait_serving()
        yield process
    finally:
        process.stop()


GROUP, VERSION, PLURAL = "neon.operator.dev", "v1alpha1", "neonappdatabases"


class Neon:
    """Direct calls to the emulator's Neon API with the bootstrap key: what exists in Neon."""

    def __init__(self, emulator: devstack.Emulator) -> None:
        import httpx

        self.organizations = emulator.organizations
        self.http = httpx.Client(
            base_url=emulator.api_url,
            headers={"Authorization": f"Bearer {emulator.api_key()}"},
            timeout=30,
        )

    def get(self, path: str, **params: object) -> dict[str, Any]:
        response = self.http.get(path, params={k: str(v) for k, v in params.items()})
        response.raise_for_status()
        return dict(response.json())

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(path, json=body)
        response.raise_for_status()
        return dict(response.json())

    def projects(self, tier: str = "sponsored", search: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, object] = {"org_id": self.organizations[tier], "limit": 400}
        if search is not None:
            params["search"] = search
        return list(self.get("/projects", **params)["projects"])

    def project_exists(self, project_id: str) -> bool:
        response = self.http.get(f"/projects/{project_id}")
        if response.status_code == 404:
            return False
        response.raise_for_status()
        return True

    def endpoint(self, project_id: str, endpoint_id: str) -> dict[str, Any]:
        return dict(self.get(f"/projects/{project_id}/endpoints/{endpoint_id}")["endpoint"])

    def requests_after(self, seq: int) -> tuple[int, list[dict[str, Any]]]:
        """The emulator's own log of the API requests it answered after number ``seq`` (from any
        client): the latest number, and those requests (``method``, ``path``, ``status`` …)."""
        admin = str(self.http.base_url).rstrip("/").removesuffix("/api/v2")
        response = self.http.get(f"{admin}/admin/requests", params={"after": seq})
        response.raise_for_status()
        log = response.json()
        return int(log["last"]), list(log["requests"])


def create_neon_config(
    api: ApiClient,
    emulator: devstack.Emulator,
    name: str,
    key_secret: tuple[str, str],
    namespaces: list[str],
) -> None:
    """A NeonConfig of the emulator's two tiers whose key is in Secret ``key_secret``
    (namespace, name), granted to ``namespaces`` only."""
    client.CustomObjectsApi(api).create_cluster_custom_object(
        GROUP,
        VERSION,
        "neonconfigs",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "NeonConfig",
            "metadata": {"name": name},
            "spec": {
                "apiUrl": emulator.api_url,
                "apiKeySecretRef": {"namespace": key_secret[0], "name": key_secret[1]},
                "organizations": {
                    "free": emulator.organizations["sponsored"],
                    "paid": emulator.organizations["paid"],
                },
                "allowedNamespaces": namespaces,
            },
        },
    )


@pytest.fixture(scope="session")
def neon(local_stack: devstack.Stack) -> Iterator[Neon]:
    assert local_stack.emulator is not None
    api = Neon(local_stack.emulator)
    yield api
    api.http.close()


class Objects:
    """Objects of one of the operator's namespaced kinds in one namespace, through the real
    apiserver."""

    TIMEOUT = 120.0

    def __init__(
        self, objects: client.CustomObjectsApi, namespace: str, kind: str, plural: str
    ) -> None:
        self.objects, self.namespace = objects, namespace
        self.kind, self.plural = kind, plural

    def create(
        self, name: str, spec: dict[str, Any], annotations: dict[str, str] | None = None
    ) -> dict[str, Any]:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": self.kind,
            "metadata": {"name": name, "annotations": annotations or {}},
            "spec": spec,
        }
        return dict(
            self.objects.create_namespaced_custom_object(
                GROUP, VERSION, self.namespace, self.plural, body
            )
        )

    def get(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(
                self.objects.get_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, self.plural, name
                )
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def patch(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(
            self.objects.patch_namespaced_custom_object(
                GROUP, VERSION, self.namespace, self.plural, name, body
            )
        )

    def delete(self, name: str) -> None:
        self.objects.delete_namespaced_custom_object(
            GROUP, VERSION, self.namespace, self.plural, name
        )

    def delete_all(self, names: Iterable[str]) -> None:
        """Delete ``names`` at once, then wait until each is gone (its finalizer released)."""
        names = list(names)
        for name in names:
            self.delete(name)
        for name in names:
            self.wait(name, lambda obj: obj is None, "deleted")

    def wait(
        self,
        name: str,
        check: Callable[[dict[str, Any] | None], bool],
        what: str,
        timeout: float | None = None,
    ) -> dict[str, Any] | None:
        deadline = time.monotonic() + (timeout or self.TIMEOUT)
        obj = self.get(name)
        while not check(obj):
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.kind} {name} never became {what}; last seen: {obj}")
            time.sleep(0.25)
            obj = self.get(name)
        return obj

    def wait_condition(
        self, name: str, status: str, reason: str | None = None, type_: str = "Ready"
    ) -> dict[str, Any]:
        def matches(obj: dict[str, Any] | None) -> bool:
            if obj is None:
                return False
            found = condition(obj, type_)
            generation = obj["metadata"].get("generation")
            return (
                found is not None
                and found["status"] == status
                and (reason is None or found["reason"] == reason)
                and found.get("observedGeneration") == generation
            )

        obj = self.wait(name, matches, f"{type_}={status} {reason or ''}")
        assert obj is not None
        return obj


class Apps(Objects):
    """NeonAppDatabases and their Secrets in one namespace."""

    TIMEOUT = 90.0

    def __init__(self, api: ApiClient, namespace: str) -> None:
        super().__init__(client.CustomObjectsApi(api), namespace, "NeonAppDatabase", PLURAL)
        self.core = client.CoreV1Api(api)

    def secret(self, name: str) -> dict[str, str] | None:
        try:
            secret = self.core.read_namespaced_secret(name, self.namespace)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}

    def secret_object(self, name: str) -> Any:
        return self.core.read_namespaced_secret(name, self.namespace)

    def events(self, name: str) -> list[tuple[str, str]]:
        found = self.core.list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={name}"
        )
        return [(event.type, event.reason) for event in found.items]


class Kind(Objects):
    """Objects of another of the operator's kinds in the namespace of ``apps``."""

    def __init__(self, apps: Apps, kind: str, plural: str) -> None:
        super().__init__(apps.objects, apps.namespace, kind, plural)
        self.apps = apps


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for found in obj.get("status", {}).get("conditions", []):
        if found["type"] == type_:
            return dict(found)
    return None


def ready(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The object's Ready condition."""
    return condition(obj, "Ready")


@pytest.fixture
def apps(kube_api: ApiClient, namespace: str, operator: OperatorProcess) -> Apps:
    """NeonAppDatabases in this test's namespace, served by the session operator."""
    return Apps(kube_api, namespace)


@pytest.fixture
def start_operator(
    local_stack: devstack.Stack, tmp_path: pathlib.Path
) -> Iterator[Callable[..., OperatorProcess]]:
    """Start extra operators (on namespaces outside ``t-*``); all are stopped afterwards."""
    started: list[OperatorProcess] = []

    def start(
        namespaces: list[str],
        log_name: str,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> OperatorProcess:
        process = OperatorProcess(
            local_stack.kubeconfig, tmp_path / log_name, namespaces, env, args
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def apps_in(kube_api: ApiClient) -> Callable[[str], Apps]:
    """:class:`Apps` of any namespace."""
    return lambda namespace: Apps(kube_api, namespace)


@pytest.fixture
def objects_in(kube_api: ApiClient) -> Callable[[str, str, str], Objects]:
    """:class:`Objects` of any kind (``namespace, kind, plural``)."""
    custom = client.CustomObjectsApi(kube_api)
    return lambda namespace, kind, plural: Objects(custom, namespace, kind, plural)
