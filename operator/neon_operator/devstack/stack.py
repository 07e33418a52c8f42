"""The whole local stack in one call: control plane, CRDs, controller-manager, Neon emulator.

Used by the pytest fixtures, by the demo and by ``neon-operator dev up|down``. ``up`` returns
once everything answers; it writes ``DIR/kubeconfig`` and ``DIR/stack.json``::

    {"kubeconfig": ..., "api_server_url": ..., "kubernetes_version": ...,
     "emulator": {"api_url": ..., "api_key_file": ..., "organizations": {...}},
     "pids": {"etcd": ..., "kube-apiserver": ..., ...}}

``down`` reads ``stack.json`` and stops what it names, so it works from another process.

With the emulator, ``up`` also stores its API key in the Secret ``neon-api-key`` of namespace
``neon-operator-system`` and creates the ``default`` NeonConfig pointing at the emulator (tiers
``free`` → the sponsored organization, ``paid`` → the paid one), so any example
NeonAppDatabase works as soon as an operator runs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shutil
import sys
import urllib.parse
import urllib.request
from typing import Any

from neon_operator import admission
from neon_operator.devstack import controlplane, crdinstall, processes, progress
from neon_operator.devstack.processes import Process

STACK_FILE = "stack.json"
OPERATOR_NAMESPACE = "neon-operator-system"
API_KEY_SECRET = "neon-api-key"
DEFAULT_CONFIG = "default"


@dataclasses.dataclass
class Emulator:
    """Where the local Neon API emulator listens and the credentials it made on first start."""

    api_url: str
    api_key_file: pathlib.Path
    organizations: dict[str, str]

    def api_key(self) -> str:
        return self.api_key_file.read_text().strip()


@dataclasses.dataclass
class Stack:
    """A running local stack; :meth:`stop` ends every process it started."""

    state_dir: pathlib.Path
    control_plane: controlplane.ControlPlane
    kubernetes_version: str
    emulator: Emulator | None
    processes: dict[str, Process]

    @property
    def kubeconfig(self) -> pathlib.Path:
        return self.control_plane.kubeconfig

    def describe(self) -> dict[str, Any]:
        emulator = None
        if self.emulator is not None:
            emulator = {
                "api_url": self.emulator.api_url,
                "api_key_file": str(self.emulator.api_key_file),
                "organizations": self.emulator.organizations,
            }
        return {
            "kubeconfig": str(self.kubeconfig),
            "api_server_url": self.control_plane.api_server_url,
            "kubernetes_version": self.kubernetes_version,
            "emulator": emulator,
            "pids": {name: process.pid for name, process in self.all_processes().items()},
        }

    def all_processes(self) -> dict[str, Process]:
        return {**self.control_plane.processes, **self.processes}

    def stop_emulator(self) -> None:
        """Stop the emulator (its state directory stays): a Neon outage that
        :meth:`start_emulator` ends."""
        process = self.processes["emulator"]
        processes.stop(process.pid, process.popen)

    def start_emulator(self) -> None:
        """Start the emulator again as it was started, on the same port and state directory."""
        assert self.emulator is not None, "this stack has no emulator"
        before = self.processes["emulator"]
        port = urllib.parse.urlsplit(self.emulator.api_url).port
        argv = list(before.argv)
        argv[argv.index("--port") + 1] = str(port)
        _spawn_emulator(self, argv)

    def stop(self) -> None:
        for name in list(self.processes):
            process = self.processes.pop(name)
            processes.stop(process.pid, process.popen)
        self.control_plane.stop()
        (self.state_dir / STACK_FILE).unlink(missing_ok=True)


def up(
    state_dir: pathlib.Path,
    *,
    emulator: bool = True,
    controller_manager: bool = True,
    emulator_args: list[str] | None = None,
    report: progress.Reporter | None = None,
) -> Stack:
    """Start the local stack in ``state_dir`` and return once every part is ready.

    A stack already running from the same directory is refused, not duplicated. Builds of
    missing binaries say what they do through ``report`` (standard error by default).
    """
    state_dir = state_dir.resolve()
    if (state_dir / STACK_FILE).exists() and _any_alive(state_dir):
        raise processes.StartupError(
            f"a stack is already running from {state_dir}; "
            f"run `neon-operator dev down --state-dir {state_dir}` first"
        )
    # etcd data from an earlier stack would hold objects signed by certificates we replace.
    shutil.rmtree(state_dir / "etcd", ignore_errors=True)
    plane = controlplane.start(state_dir, report=report)
    stack = Stack(
        state_dir=state_dir,
        control_plane=plane,
        kubernetes_version=controlplane.server_version(plane.api_server_url, plane.pki)[
            "gitVersion"
        ],
        emulator=None,
        processes={},
    )
    try:
        crdinstall.install(plane.kubeconfig)
        admission.install(str(plane.kubeconfig))
        if controller_manager:
            plane.start_controller_manager()
        if emulator:
            stack.emulator = _start_emulator(stack, emulator_args or [])
            configure_operator(plane.kubeconfig, stack.emulator)
    except BaseException:
        stack.stop()
        raise
    (state_dir / STACK_FILE).write_text(json.dumps(stack.describe(), indent=2) + "\n")
    return stack


def down(state_dir: pathlib.Path) -> list[str]:
    """Stop the stack described by ``state_dir/stack.json``; return the names stopped."""
    path = state_dir / STACK_FILE
    if not path.exists():
        return []
    described = json.loads(path.read_text())
    stopped = []
    order = ["emulator", "kube-controller-manager", "kube-apiserver", "etcd"]
    pids: dict[str, int] = described.get("pids", {})
    for name in sorted(pids, key=lambda n: order.index(n) if n in order else -1):
        if processes.pid_alive(pids[name]):
            processes.stop(pids[name])
            stopped.append(name)
    path.unlink()
    return stopped


def _any_alive(state_dir: pathlib.Path) -> bool:
    described = json.loads((state_dir / STACK_FILE).read_text())
    return any(processes.pid_alive(pid) for pid in described.get("pids", {}).values())


def _start_emulator(stack: Stack, extra_args: list[str]) -> Emulator:
    directory = stack.state_dir / "emulator"
    directory.mkdir(exist_ok=True)
    argv = [
        sys.executable,
        "-c",
        "from neon_emulator.cli import main; main()",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--state-dir",
        str(directory),
        "--postgres",  # real PostgreSQL behind every branch; lazy, so idle projects cost nothing
        *extra_args,
    ]
    info = _spawn_emulator(stack, argv)
    key_file = directory / "api-key"
    key_file.write_text(info["api_key"] + "\n")
    os.chmod(key_file, 0o600)
    return Emulator(
        api_url=info["api_url"],
        api_key_file=key_file,
        organizations=dict(info["organizations"]),
    )


def _spawn_emulator(stack: Stack, argv: list[str]) -> dict[str, Any]:
    """Start the emulator with ``argv``; return its ``bootstrap.json`` once it serves."""
    bootstrap = stack.state_dir / "emulator" / "bootstrap.json"
    bootstrap.unlink(missing_ok=True)
    process = processes.spawn("emulator", argv, stack.state_dir / "logs" / "emulator.log")
    stack.processes[process.name] = process

    def ready() -> bool:
        if not bootstrap.exists():
            return False
        base = json.loads(bootstrap.read_text())["api_url"].rsplit("/api/v2", 1)[0]
        with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
            return bool(response.status == 200)

    processes.wait_until(process, ready, timeout=60, what="serving")
    info: dict[str, Any] = json.loads(bootstrap.read_text())
    return info


def configure_operator(kubeconfig: pathlib.Path, emulator: Emulator) -> None:
    """The API key Secret and the ``default`` NeonConfig for the emulator (created or replaced)."""
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException

    api = config.new_client_from_config(config_file=str(kubeconfig))
    try:
        core = client.CoreV1Api(api)
        try:
            core.create_namespace({"metadata": {"name": OPERATOR_NAMESPACE}})
        except ApiException as error:
            if error.status != 409:
                raise
        secret = {
            "metadata": {"name": API_KEY_SECRET, "namespace": OPERATOR_NAMESPACE},
            "stringData": {"apiKey": emulator.api_key()},
        }
        try:
            core.create_namespaced_secret(OPERATOR_NAMESPACE, secret)
        except ApiException as error:
            if error.status != 409:
                raise
            core.replace_namespaced_secret(API_KEY_SECRET, OPERATOR_NAMESPACE, secret)
        neon_config: dict[str, Any] = {
            "apiVersion": "neon.operator.dev/v1alpha1",
            "kind": "NeonConfig",
            "metadata": {"name": DEFAULT_CONFIG},
            "spec": {
                "apiUrl": emulator.api_url,
                "apiKeySecretRef": {"namespace": OPERATOR_NAMESPACE, "name": API_KEY_SECRET},
                "organizations": {
                    "free": emulator.organizations["sponsored"],
                    "paid": emulator.organizations["paid"],
                },
                "allowedNamespaces": ["*"],  # the local cluster's one NeonConfig serves all
            },
        }
        objects = client.CustomObjectsApi(api)
        args = ("neon.operator.dev", "v1alpha1", "neonconfigs")
        try:
            objects.create_cluster_custom_object(*args, neon_config)
        except ApiException as error:
            if error.status != 409:
                raise
            current = objects.get_cluster_custom_object(*args, DEFAULT_CONFIG)
            neon_config["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            objects.replace_cluster_custom_object(*args, DEFAULT_CONFIG, neon_config)
    finally:
        api.close()
