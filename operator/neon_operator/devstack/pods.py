"""Run one container of a Pod spec from an image's root filesystem, as a kubelet would.

There is no node here (no kubelet, no container runtime), yet the chart's Deployment must be
proven to start. :func:`start` takes a Pod spec (the chart's Deployment template, rendered by
``helm template``), one of its containers and the unpacked image (:mod:`.image`), and does what
the kubelet and runc do for it:

- **argv** from ``command``/``args`` over the image's ``Entrypoint``/``Cmd`` (Kubernetes' rules,
  ``$(VAR)`` expansion included);
- **env**: the image's, ``HOME``, ``HOSTNAME``, the ``KUBERNETES_SERVICE_*`` variables of the
  ``kubernetes`` Service (pointing at the local apiserver), then the container's ``env`` and
  ``envFrom`` (``value``, ``fieldRef``, ``secretKeyRef``, ``configMapKeyRef``);
- **identity**: ``runAsUser``/``runAsGroup`` (container over pod over image ``USER``),
  ``runAsNonRoot`` refused for uid 0, ``fsGroup`` as a supplementary group owning the volumes;
- **isolation**: new mount, PID, UTS and IPC namespaces (``unshare``), the root filesystem
  bind-mounted (read-only under ``readOnlyRootFilesystem``), ``/proc``, a minimal ``/dev``,
  kubelet-managed ``/etc/hosts``/``/etc/hostname``/``/etc/resolv.conf``, ``chroot``, every
  capability out of the bounding set when ``drop: [ALL]``, ``no_new_privs`` when
  ``allowPrivilegeEscalation: false``;
- **volumes**: ``emptyDir``, ``secret``, ``configMap`` and the projected service-account volume
  at ``/var/run/secrets/kubernetes.io/serviceaccount`` (``token`` minted for the Pod's
  ServiceAccount through the TokenRequest API, ``ca.crt`` from the ``kube-root-ca.crt``
  ConfigMap, ``namespace``), honouring ``readOnly`` and ``automountServiceAccountToken``;
- **probes**: :meth:`Container.probe` performs a container's ``httpGet``/``tcpSocket`` probe
  with its port (named ports resolved), path, scheme and ``timeoutSeconds``, and
  :meth:`Container.wait_probe` applies ``initialDelaySeconds``, ``periodSeconds`` and the
  success/failure thresholds.

Not modelled, and said so: the Pod shares the host's network namespace (there is no Pod network;
the apiserver listens on loopback), seccomp profiles are not loaded, and resource limits are not
enforced (:meth:`Container.rss_bytes` lets a test compare memory with the limit). Anything else
in a spec that this module cannot honour raises :class:`PodError` naming the field: a test
that runs a chart through it fails rather than passing on something a real node would reject.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, Literal

from neon_operator.devstack.image import Image

__all__ = ["Cluster", "Container", "PodError", "ProbeResult", "command_line", "start"]

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
TOKEN_SECONDS = 3607  # what the kubelet asks for a projected service-account token
_LAUNCHER = pathlib.Path(__file__).with_name("podlaunch.py")


class PodError(RuntimeError):
    """The Pod spec asks for something a node would refuse or this runner cannot honour."""


@dataclasses.dataclass(frozen=True)
class Cluster:
    """What the kubelet knows about its cluster: where the apiserver is, and a client to it."""

    api_host: str
    api_port: int
    api: Any  # kubernetes.client.ApiClient with the rights of a node (we use admin)


@dataclasses.dataclass(frozen=True)
class ProbeResult:
    ok: bool
    detail: str


@dataclasses.dataclass
class Container:
    """A started container: its process (``unshare``'s), log, spec and pod directory."""

    name: str
    spec: dict[str, Any]
    pod_dir: pathlib.Path
    log: pathlib.Path
    popen: subprocess.Popen[bytes]
    argv: list[str]
    env: dict[str, str]

    def alive(self) -> bool:
        return self.popen.poll() is None

    def probe(self, kind: Literal["liveness", "readiness", "startup"]) -> ProbeResult:
        """Perform the container's ``<kind>Probe`` once, as the kubelet's prober does."""
        spec = self.spec.get(f"{kind}Probe")
        if spec is None:
            raise PodError(f"container {self.name!r} has no {kind}Probe")
        timeout = float(spec.get("timeoutSeconds", 1))
        if "httpGet" in spec:
            get = spec["httpGet"]
            scheme = str(get.get("scheme", "HTTP")).lower()
            host = get.get("host") or "127.0.0.1"
            port = self.port(get["port"], f"{kind}Probe.httpGet.port")
            url = f"{scheme}://{host}:{port}{get.get('path', '/')}"
            request = urllib.request.Request(url, headers={"User-Agent": "kube-probe/1.36"})
            for header in get.get("httpHeaders", []):
                request.add_header(header["name"], header["value"])
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    code = response.status
            except urllib.error.HTTPError as error:
                code = error.code
            except OSError as error:
                return ProbeResult(False, f"GET {url}: {error}")
            return ProbeResult(200 <= code < 400, f"GET {url}: HTTP {code}")
        if "tcpSocket" in spec:
            import socket

            port = self.port(spec["tcpSocket"]["port"], f"{kind}Probe.tcpSocket.port")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=timeout):
                    return ProbeResult(True, f"TCP 127.0.0.1:{port} open")
            except OSError as error:
                return ProbeResult(False, f"TCP 127.0.0.1:{port}: {error}")
        raise PodError(f"container {self.name!r}: {kind}Probe has no httpGet or tcpSocket")

    def wait_probe(
        self, kind: Literal["liveness", "readiness", "startup"], *, timeout: float = 120.0
    ) -> ProbeResult:
        """Probe on the spec's schedule until ``successThreshold`` successes in a row.

        Raises :class:`PodError` when the container exits, when ``failureThreshold`` failures in
        a row come after the initial delay (the kubelet would restart it, or mark it unready),
        or after ``timeout`` seconds.
        """
        spec = self.spec.get(f"{kind}Probe") or {}
        period = float(spec.get("periodSeconds", 10))
        successes_needed = int(spec.get("successThreshold", 1))
        failures_allowed = int(spec.get("failureThreshold", 3))
        deadline = time.monotonic() + timeout
        time.sleep(float(spec.get("initialDelaySeconds", 0)))
        successes = failures = 0
        while True:
            if not self.alive():
                raise PodError(f"container exited ({self.popen.returncode}); see {self.log}")
            result = self.probe(kind)
            if result.ok:
                successes, failures = successes + 1, 0
                if successes >= successes_needed:
                    return result
            else:
                successes, failures = 0, failures + 1
                if failures >= failures_allowed:
                    raise PodError(
                        f"{kind} probe failed {failures} times in a row ({result.detail}); "
                        f"see {self.log}"
                    )
            if time.monotonic() > deadline:
                raise PodError(f"{kind} probe not passing after {timeout:.0f}s: {result.detail}")
            time.sleep(period)

    def port(self, port: int | str, field: str) -> int:
        """A probe's port: a number, or the name of one of the container's ports."""
        if isinstance(port, int):
            return port
        if port.isdigit():
            return int(port)
        for declared in self.spec.get("ports", []):
            if declared.get("name") == port:
                return int(declared["containerPort"])
        raise PodError(f"{field}: {port!r} names no port of container {self.name!r}")

    def process_id(self) -> int | None:
        """The host PID of the container's first process (PID 1 inside its namespace)."""
        try:
            children = pathlib.Path(f"/proc/{self.popen.pid}/task/{self.popen.pid}/children")
            found = children.read_text().split()
        except OSError:
            return None
        return int(found[0]) if found else None

    def rss_bytes(self) -> int:
        """Resident memory of the container's processes (what a memory limit would count)."""
        pid = self.process_id()
        if pid is None:
            return 0
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def stop(self, grace: float = 30.0) -> int | None:
        """SIGTERM the container's first process, SIGKILL after ``grace``; its exit code."""
        pid = self.process_id()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        try:
            return self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.popen.kill()
            return self.popen.wait(timeout=10)


def command_line(
    container: Mapping[str, Any], image_config: Mapping[str, Any], env: Mapping[str, str]
) -> list[str]:
    """The argv Kubernetes runs: ``command`` replaces the ENTRYPOINT (and drops the CMD),
    ``args`` replaces the CMD; ``$(VAR)`` expands from the container's env, ``$$`` escapes."""
    entrypoint = list(image_config.get("Entrypoint") or [])
    cmd = list(image_config.get("Cmd") or [])
    command = container.get("command")
    args = container.get("args")
    if command is not None:
        argv = [*command, *(args or [])]
    elif args is not None:
        argv = [*entrypoint, *args]
    else:
        argv = [*entrypoint, *cmd]
    if not argv:
        raise PodError(f"container {container.get('name')!r}: no command and the image has none")
    return [_expand(str(part), env) for part in argv]


def _expand(value: str, env: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env[name] if name in env else match.group(0)

    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", replace, value)


def start(
    pod: Mapping[str, Any],
    container_name: str,
    image: Image,
    cluster: Cluster,
    pod_dir: pathlib.Path,
) -> Container:
    """Start ``container_name`` of ``pod`` (a Pod: ``metadata`` with name and namespace, and
    ``spec``) from ``image``; return once its process runs (probe it to know more)."""
    if os.geteuid() != 0:
        raise PodError("running a container with unshare and chroot needs root")
    metadata, spec = pod["metadata"], pod["spec"]
    container = next((c for c in spec.get("containers", []) if c["name"] == container_name), None)
    if container is None:
        raise PodError(f"the Pod has no container {container_name!r}")
    _refuse_unsupported(spec, container)
    config = image.config()
    shutil.rmtree(pod_dir, ignore_errors=True)
    pod_dir.mkdir(parents=True)

    pod_security = spec.get("securityContext") or {}
    security = {**pod_security, **(container.get("securityContext") or {})}
    uid, gid = _identity(security, str(config.get("User") or "0:0"))
    if (security.get("runAsNonRoot") or False) and uid == 0:
        raise PodError(
            f"container {container_name!r} has runAsNonRoot and image will run as root "
            "(securityContext.runAsUser is 0 or unset and the image's USER is root)"
        )
    fs_group = pod_security.get("fsGroup")
    groups = sorted({int(g) for g in pod_security.get("supplementalGroups", [])})
    if fs_group is not None:
        groups = sorted({*groups, int(fs_group)})

    env = _image_env(config)
    env.setdefault("HOME", "/")
    env["HOSTNAME"] = metadata["name"]
    env.update(_service_env(cluster))
    env.update(_container_env(container, pod, cluster))
    argv = command_line(container, config, env)

    volumes = _volumes(spec, container, pod, cluster, pod_dir, uid, fs_group)
    mounts = [*_kubelet_files(metadata["name"], pod_dir), *volumes]
    launch = {
        "rootfs": str(image.rootfs),
        "newroot": str(pod_dir / "root"),
        "readonly_root": bool(security.get("readOnlyRootFilesystem", False)),
        "mounts": mounts,
        "hostname": metadata["name"],
        "uid": uid,
        "gid": gid,
        "groups": groups,
        "drop_all_capabilities": "ALL" in (security.get("capabilities") or {}).get("drop", []),
        "no_new_privs": security.get("allowPrivilegeEscalation") is False,
        "cwd": container.get("workingDir") or config.get("WorkingDir") or "/",
        "argv": argv,
        "env": env,
    }
    (pod_dir / "launch.json").write_text(json.dumps(launch, indent=2))
    log = pod_dir / f"{container_name}.log"
    with log.open("ab") as out:
        popen = subprocess.Popen(
            [
                "unshare",
                "--mount",
                "--pid",
                "--uts",
                "--ipc",
                "--fork",
                "--propagation=private",
                "--kill-child=SIGKILL",
                sys.executable,
                str(_LAUNCHER),
                str(pod_dir / "launch.json"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Container(
        name=container_name,
        spec=dict(container),
        pod_dir=pod_dir,
        log=log,
        popen=popen,
        argv=argv,
        env=env,
    )


_SUPPORTED_VOLUMES = {"emptyDir", "secret", "configMap", "projected"}


def _refuse_unsupported(spec: Mapping[str, Any], container: Mapping[str, Any]) -> None:
    for volume in spec.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= _SUPPORTED_VOLUMES:
            raise PodError(f"volume {volume['name']!r}: {sorted(kinds)} is not supported here")
    if container.get("volumeDevices"):
        raise PodError("volumeDevices are not supported here")
    security = container.get("securityContext") or {}
    if security.get("privileged"):
        raise PodError("securityContext.privileged is not supported here")
    if (security.get("capabilities") or {}).get("add"):
        raise PodError("securityContext.capabilities.add is not supported here")


def _identity(security: Mapping[str, Any], image_user: str) -> tuple[int, int]:
    user, _, group = image_user.partition(":")
    if "runAsUser" in security:
        uid = int(security["runAsUser"])
    elif user.isdigit():
        uid = int(user)
    else:
        raise PodError(
            f"the image's USER {user!r} is not numeric; a node cannot verify runAsNonRoot: "
            "set securityContext.runAsUser"
        )
    if "runAsGroup" in security:
        gid = int(security["runAsGroup"])
    elif group.isdigit():
        gid = int(group)
    else:
        gid = 0
    return uid, gid


def _image_env(config: Mapping[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for entry in config.get("Env") or []:
        name, _, value = str(entry).partition("=")
        env[name] = value
    return env


def _service_env(cluster: Cluster) -> dict[str, str]:
    """The variables of the ``default/kubernetes`` Service, which client libraries read for
    in-cluster config (here the Service is the apiserver on loopback)."""
    host, port = cluster.api_host, str(cluster.api_port)
    return {
        "KUBERNETES_SERVICE_HOST": host,
        "KUBERNETES_SERVICE_PORT": port,
        "KUBERNETES_SERVICE_PORT_HTTPS": port,
        "KUBERNETES_PORT": f"tcp://{host}:{port}",
        f"KUBERNETES_PORT_{port}_TCP": f"tcp://{host}:{port}",
        f"KUBERNETES_PORT_{port}_TCP_PROTO": "tcp",
        f"KUBERNETES_PORT_{port}_TCP_PORT": port,
        f"KUBERNETES_PORT_{port}_TCP_ADDR": host,
    }


def _container_env(
    container: Mapping[str, Any], pod: Mapping[str, Any], cluster: Cluster
) -> dict[str, str]:
    namespace = pod["metadata"]["namespace"]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        prefix = source.get("prefix", "")
        if "secretRef" in source:
            data = _secret(cluster, namespace, source["secretRef"]["name"])
        elif "configMapRef" in source:
            data = _config_map(cluster, namespace, source["configMapRef"]["name"])
        else:
            raise PodError(f"envFrom {source}: only secretRef and configMapRef are supported")
        env.update({prefix + key: value for key, value in data.items()})
    for variable in container.get("env", []):
        name = variable["name"]
        if "value" in variable:
            env[name] = _expand(str(variable["value"]), env)
            continue
        source = variable.get("valueFrom") or {}
        if "fieldRef" in source:
            env[name] = _field(pod, source["fieldRef"]["fieldPath"], f"env {name}")
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            env[name] = _secret(cluster, namespace, ref["name"])[ref["key"]]
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            env[name] = _config_map(cluster, namespace, ref["name"])[ref["key"]]
        elif not source:
            env[name] = ""
        else:
            raise PodError(f"env {name}: {sorted(source)} is not supported here")
    return env


def _field(pod: Mapping[str, Any], path: str, what: str) -> str:
    metadata, spec = pod["metadata"], pod["spec"]
    fields = {
        "metadata.name": metadata["name"],
        "metadata.namespace": metadata["namespace"],
        "metadata.uid": metadata.get("uid", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
        "spec.nodeName": "localhost",
        "status.podIP": "127.0.0.1",
        "status.hostIP": "127.0.0.1",
    }
    labels = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if labels:
        return str((metadata.get(labels.group(1)) or {}).get(labels.group(2), ""))
    if path not in fields:
        raise PodError(f"{what}: fieldRef {path!r} is not supported here")
    return str(fields[path])


def _secret(cluster: Cluster, namespace: str, name: str) -> dict[str, str]:
    from kubernetes import client

    secret = client.CoreV1Api(cluster.api).read_namespaced_secret(name, namespace)
    return {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}


def _config_map(cluster: Cluster, namespace: str, name: str) -> dict[str, str]:
    from kubernetes import client

    found = client.CoreV1Api(cluster.api).read_namespaced_config_map(name, namespace)
    return dict(found.data or {})


def _service_account_files(pod: Mapping[str, Any], cluster: Cluster) -> dict[str, str]:
    """What the kubelet projects into ``kube-api-access-*``: a token minted for the Pod's
    ServiceAccount (TokenRequest), the cluster CA from ``kube-root-ca.crt``, the namespace."""
    from kubernetes import client

    namespace = pod["metadata"]["namespace"]
    account = pod["spec"].get("serviceAccountName") or "default"
    core = client.CoreV1Api(cluster.api)
    token = core.create_namespaced_service_account_token(
        account, namespace, {"spec": {"expirationSeconds": TOKEN_SECONDS}}
    ).status.token
    deadline = time.monotonic() + 30
    while True:  # the controller-manager publishes it into each new namespace
        try:
            ca = core.read_namespaced_config_map("kube-root-ca.crt", namespace).data["ca.crt"]
            break
        except Exception:
            if time.monotonic() > deadline:
                raise PodError(f"no ConfigMap kube-root-ca.crt in namespace {namespace}") from None
            time.sleep(0.2)
    return {"token": token, "ca.crt": ca, "namespace": namespace}


def _volumes(
    spec: Mapping[str, Any],
    container: Mapping[str, Any],
    pod: Mapping[str, Any],
    cluster: Cluster,
    pod_dir: pathlib.Path,
    uid: int,
    fs_group: int | None,
) -> list[dict[str, Any]]:
    namespace = pod["metadata"]["namespace"]
    declared = {volume["name"]: volume for volume in spec.get("volumes", [])}
    mounts: list[dict[str, Any]] = []
    paths = {m["mountPath"] for m in container.get("volumeMounts", [])}
    automount = spec.get("automountServiceAccountToken", True)
    if automount and SERVICE_ACCOUNT_DIR not in paths:
        directory = _write_files(
            pod_dir / "volumes" / "kube-api-access", _service_account_files(pod, cluster), fs_group
        )
        mounts.append({"source": str(directory), "target": SERVICE_ACCOUNT_DIR, "readonly": True})
    for mount in container.get("volumeMounts", []):
        volume = declared.get(mount["name"])
        if volume is None:
            raise PodError(f"volumeMounts {mount['name']!r}: the Pod declares no such volume")
        directory = pod_dir / "volumes" / mount["name"]
        if "emptyDir" in volume:
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o777)  # the kubelet's emptyDir mode
            if fs_group is not None:
                os.chown(directory, -1, fs_group)
                directory.chmod(0o2777)
        elif "secret" in volume:
            data = _secret(cluster, namespace, volume["secret"]["secretName"])
            _write_files(directory, data, fs_group)
        elif "configMap" in volume:
            data = _config_map(cluster, namespace, volume["configMap"]["name"])
            _write_files(directory, data, fs_group)
        elif "projected" in volume:
            _write_files(directory, _projected(volume["projected"], pod, cluster), fs_group)
        if mount.get("subPath"):
            raise PodError(f"volumeMounts {mount['name']!r}: subPath is not supported here")
        mounts.append(
            {
                "source": str(directory),
                "target": mount["mountPath"],
                "readonly": bool(mount.get("readOnly", False)),
            }
        )
    return mounts


def _projected(
    projected: Mapping[str, Any], pod: Mapping[str, Any], cluster: Cluster
) -> dict[str, str]:
    files: dict[str, str] = {}
    account = _service_account_files(pod, cluster)
    for source in projected.get("sources", []):
        if "serviceAccountToken" in source:
            files[source["serviceAccountToken"]["path"]] = account["token"]
        elif "configMap" in source and source["configMap"]["name"] == "kube-root-ca.crt":
            files["ca.crt"] = account["ca.crt"]
        elif "downwardAPI" in source:
            for item in source["downwardAPI"]["items"]:
                files[item["path"]] = _field(pod, item["fieldRef"]["fieldPath"], item["path"])
        else:
            raise PodError(f"projected source {sorted(source)} is not supported here")
    return files


def _write_files(
    directory: pathlib.Path, files: Mapping[str, str], fs_group: int | None
) -> pathlib.Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        path.chmod(0o644)  # the projected volume's defaultMode (420)
        if fs_group is not None:
            os.chown(path, -1, fs_group)
    return directory


def _kubelet_files(pod_name: str, pod_dir: pathlib.Path) -> list[dict[str, Any]]:
    """``/etc/hosts``, ``/etc/hostname`` and ``/etc/resolv.conf``, written per Pod as the
    kubelet does (there is no cluster DNS here: the resolver file names none)."""
    etc = pod_dir / "etc"
    etc.mkdir()
    (etc / "hosts").write_text(
        f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.0.1\t{pod_name}\n"
    )
    (etc / "hostname").write_text(pod_name + "\n")
    (etc / "resolv.conf").write_text("options ndots:5\n")
    return [
        {"source": str(etc / name), "target": f"/etc/{name}", "readonly": False}
        for name in ("hosts", "hostname", "resolv.conf")
    ]
