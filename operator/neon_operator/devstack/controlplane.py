"""A real Kubernetes control plane on loopback: etcd, kube-apiserver, kube-controller-manager.

This is what controller-runtime's envtest does, plus the controller-manager, because ownerReference
garbage collection and namespace deletion only happen when its controllers run. Everything binds
to 127.0.0.1, RBAC authorization is on, and an admin kubeconfig (client certificate in
``system:masters``) is written next to the state.

The apiserver keeps an audit log of every write (``logs/audit.log``, one JSON event per
create/update/patch/delete with its user agent), so that tests can tell which process wrote
what: each operator process names its leader-election identity in its user agent.

The controller-manager is started separately (:meth:`ControlPlane.start_controller_manager`) so
that CRDs can be installed first: its garbage collector discovers new kinds only every ~30 s,
which would otherwise delay the collection of Secrets owned by our custom resources.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import pathlib
import ssl
import urllib.request

import yaml

from neon_operator.devstack import binaries, pki, processes, progress
from neon_operator.devstack.binaries import Binaries
from neon_operator.devstack.pki import Pki
from neon_operator.devstack.processes import Process

SERVICE_CIDR = "10.0.0.0/24"
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [
        {"level": "Metadata", "verbs": ["create", "update", "patch", "delete", "deletecollection"]},
        {"level": "None"},
    ],
}


@dataclasses.dataclass
class ControlPlane:
    """Handles to a running control plane; build one with :func:`start`."""

    state_dir: pathlib.Path
    api_server_url: str
    kubeconfig: pathlib.Path
    pki: Pki
    binaries: Binaries
    processes: dict[str, Process]

    @property
    def audit_log(self) -> pathlib.Path:
        """The apiserver's audit log of writes (JSON lines)."""
        return self.state_dir / "logs" / "audit.log"

    def start_controller_manager(self, timeout: float = 60.0) -> None:
        """Start kube-controller-manager and wait until its controllers report healthy."""
        port = processes.free_port()
        argv = [
            str(self.binaries.kube_controller_manager),
            f"--kubeconfig={self.kubeconfig}",
            f"--authentication-kubeconfig={self.kubeconfig}",
            f"--authorization-kubeconfig={self.kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={port}",
            "--leader-elect=false",
            f"--service-account-private-key-file={self.pki.service_account_key}",
            f"--root-ca-file={self.pki.ca_cert}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--use-service-account-credentials=false",
            "--controllers=*",
        ]
        process = processes.spawn(
            "kube-controller-manager", argv, self.state_dir / "logs" / "kube-controller-manager.log"
        )
        self.processes[process.name] = process
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # its serving cert is self-signed in memory
        processes.wait_until(
            process,
            lambda: _http_ok(f"https://127.0.0.1:{port}/healthz", context),
            timeout=timeout,
            what="healthy",
        )

    def stop_storage_and_apiserver(self) -> None:
        """Stop kube-apiserver, then etcd (its data directory stays): an outage of the control
        plane that :meth:`start_storage_and_apiserver` ends. The controller-manager keeps
        running, as it would in a cluster."""
        for name in ("kube-apiserver", "etcd"):
            process = self.processes[name]
            processes.stop(process.pid, process.popen)

    def start_storage_and_apiserver(self, timeout: float = 90.0) -> None:
        """Start etcd and kube-apiserver again, as they were started (same ports, data and
        certificates), and return once the apiserver is ready."""
        context = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        context.load_cert_chain(str(self.pki.admin_cert), str(self.pki.admin_key))
        etcd = self.processes["etcd"] = _respawn(self.processes["etcd"])
        etcd_url = _etcd_client_url(etcd.argv)
        processes.wait_until(
            etcd, lambda: _http_ok(f"{etcd_url}/health"), timeout=timeout, what="healthy again"
        )
        apiserver = self.processes["kube-apiserver"] = _respawn(self.processes["kube-apiserver"])
        processes.wait_until(
            apiserver,
            lambda: _http_ok(f"{self.api_server_url}/readyz", context),
            timeout=timeout,
            what="ready again",
        )

    def stop(self) -> None:
        """Stop every process, controller-manager first, etcd last."""
        for name in ("kube-controller-manager", "kube-apiserver", "etcd"):
            process = self.processes.pop(name, None)
            if process is not None:
                processes.stop(process.pid, process.popen)


def start(
    state_dir: pathlib.Path, *, timeout: float = 90.0, report: progress.Reporter | None = None
) -> ControlPlane:
    """Start etcd and kube-apiserver on loopback; return once ``/readyz`` answers ok.

    The Kubernetes binaries are built first if the cache lacks them (minutes, once; progress
    lines go to ``report``, standard error by default).
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    logs = state_dir / "logs"
    logs.mkdir(exist_ok=True)
    bins = binaries.ensure_binaries(log=logs / "build.log", report=report)
    certs = pki.create(state_dir / "pki")
    started: dict[str, processes.Process] = {}
    try:
        client_port, peer_port = processes.free_port(), processes.free_port()
        etcd = processes.spawn(
            "etcd",
            [
                str(bins.etcd),
                "--name=devstack",
                f"--data-dir={state_dir / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{client_port}",
                f"--advertise-client-urls=http://127.0.0.1:{client_port}",
                f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-cluster=devstack=http://127.0.0.1:{peer_port}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
            logs / "etcd.log",
        )
        started[etcd.name] = etcd
        processes.wait_until(
            etcd,
            lambda: _http_ok(f"http://127.0.0.1:{client_port}/health"),
            timeout=timeout,
            what="healthy",
        )

        api_port = processes.free_port()
        policy = state_dir / "audit-policy.yaml"
        policy.write_text(yaml.safe_dump(AUDIT_POLICY, sort_keys=False))
        apiserver = processes.spawn(
            "kube-apiserver",
            [
                str(bins.kube_apiserver),
                f"--etcd-servers=http://127.0.0.1:{client_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={api_port}",
                f"--cert-dir={state_dir / 'pki'}",
                f"--tls-cert-file={certs.serving_cert}",
                f"--tls-private-key-file={certs.serving_key}",
                f"--client-ca-file={certs.ca_cert}",
                "--authorization-mode=RBAC",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={certs.service_account_pub}",
                f"--service-account-signing-key-file={certs.service_account_key}",
                "--endpoint-reconciler-type=none",
                "--allow-privileged=true",
                f"--audit-policy-file={policy}",
                f"--audit-log-path={logs / 'audit.log'}",
                "--audit-log-maxsize=200",
                "--audit-log-maxbackup=1",
                "--v=1",
            ],
            logs / "kube-apiserver.log",
        )
        started[apiserver.name] = apiserver
        url = f"https://127.0.0.1:{api_port}"
        context = ssl.create_default_context(cafile=str(certs.ca_cert))
        context.load_cert_chain(str(certs.admin_cert), str(certs.admin_key))
        processes.wait_until(
            apiserver,
            lambda: _http_ok(f"{url}/readyz", context),
            timeout=timeout,
            what="ready",
        )
    except BaseException:
        for process in reversed(started.values()):
            processes.stop(process.pid, process.popen)
        raise
    kubeconfig = state_dir / "kubeconfig"
    write_kubeconfig(kubeconfig, url, certs)
    return ControlPlane(
        state_dir=state_dir,
        api_server_url=url,
        kubeconfig=kubeconfig,
        pki=certs,
        binaries=bins,
        processes=started,
    )


def write_kubeconfig(path: pathlib.Path, server: str, certs: pki.Pki) -> None:
    """Write an admin kubeconfig with the credentials inlined (one self-contained file)."""

    def b64(file: pathlib.Path) -> str:
        return base64.b64encode(file.read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "devstack",
                "cluster": {"server": server, "certificate-authority-data": b64(certs.ca_cert)},
            }
        ],
        "users": [
            {
                "name": "devstack-admin",
                "user": {
                    "client-certificate-data": b64(certs.admin_cert),
                    "client-key-data": b64(certs.admin_key),
                },
            }
        ],
        "contexts": [
            {"name": "devstack", "context": {"cluster": "devstack", "user": "devstack-admin"}}
        ],
        "current-context": "devstack",
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)


def server_version(url: str, certs: pki.Pki) -> dict[str, str]:
    """The apiserver's ``/version`` document (gitVersion, goVersion, …)."""
    context = ssl.create_default_context(cafile=str(certs.ca_cert))
    context.load_cert_chain(str(certs.admin_cert), str(certs.admin_key))
    with urllib.request.urlopen(f"{url}/version", context=context, timeout=5) as response:
        version: dict[str, str] = json.load(response)
        return version


def _respawn(process: Process) -> Process:
    """``process`` started again with the same arguments and log."""
    return processes.spawn(process.name, process.argv, process.log)


def _etcd_client_url(argv: tuple[str, ...]) -> str:
    prefix = "--listen-client-urls="
    return next(arg[len(prefix) :] for arg in argv if arg.startswith(prefix))


def _http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    with urllib.request.urlopen(url, context=context, timeout=2) as response:
        return bool(response.status == 200)
