"""``neon-operator demo``: the local stack end to end, narrated.

Starts a real kube-apiserver (+ etcd, kube-controller-manager) with this operator's CRDs and the
Neon emulator (``dev up`` also creates the ``default`` NeonConfig for it), then: the CRDs served
by the apiserver, an invalid ``NeonAppDatabase`` refused by the CRD's CEL rules with a message
that names the field, the operator (``neon-operator run`` as a subprocess) provisioning
``deploy/examples/appdatabase.yaml`` until Ready, the Secret's keys (never its values), a table
created and read through ``DATABASE_URL``, and deletion removing the Neon project.
"""

from __future__ import annotations

import base64
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
from typing import Any

import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from neon_operator.devstack import stack as devstack

GROUP, VERSION = "neon.operator.dev", "v1alpha1"
EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "deploy" / "examples"


def run(state_dir: pathlib.Path | None = None, keep: bool = False) -> int:
    """Run the demo; stop the stack at the end unless ``keep``."""
    directory = state_dir or pathlib.Path(tempfile.mkdtemp(prefix="neon-operator-demo-"))
    _say(f"starting the local stack in {directory} (first run builds Kubernetes: ~4-8 min)")
    running = devstack.up(directory)
    try:
        _demo(running)
    finally:
        if keep:
            _say(
                f"stack left running: export KUBECONFIG={running.kubeconfig}; "
                f"stop it with `neon-operator dev down --state-dir {directory}`"
            )
        else:
            running.stop()
            _say("stack stopped")
    return 0


def _demo(running: devstack.Stack) -> None:
    api = config.new_client_from_config(config_file=str(running.kubeconfig))
    _say(f"kube-apiserver {running.kubernetes_version} at {running.control_plane.api_server_url}")
    for crd in client.ApiextensionsV1Api(api).list_custom_resource_definition().items:
        established = any(
            c.type == "Established" and c.status == "True" for c in crd.status.conditions or []
        )
        print(f"  CRD {crd.metadata.name:45} established={established}")

    objects = client.CustomObjectsApi(api)
    client.CoreV1Api(api).create_namespace({"metadata": {"name": "demo"}})
    example = yaml.safe_load((EXAMPLES / "appdatabase.yaml").read_text())
    created = objects.create_namespaced_custom_object(
        GROUP, VERSION, "demo", "neonappdatabases", example
    )
    _say("applied deploy/examples/appdatabase.yaml; the apiserver stored (defaults filled in):")
    print(yaml.safe_dump({"spec": created["spec"]}, sort_keys=False))

    invalid = json.loads(json.dumps(example))
    invalid["metadata"]["name"] = "invalid"
    invalid["spec"]["compute"] = {"minCu": 4, "maxCu": 2}
    try:
        objects.create_namespaced_custom_object(GROUP, VERSION, "demo", "neonappdatabases", invalid)
    except ApiException as refused:
        message = json.loads(refused.body)["message"]
        _say(f"an invalid spec (minCu 4 > maxCu 2) is refused at admission:\n  {message}")

    if running.emulator is None:
        return
    _say(
        f"Neon emulator at {running.emulator.api_url}; NeonConfig 'default' points at it "
        f"(tiers free/paid → organizations {running.emulator.organizations})"
    )
    _run_operator(running, objects, example)


def _run_operator(running: devstack.Stack, objects: client.CustomObjectsApi, example: Any) -> None:
    """Start ``neon-operator run``, let it provision the example, show the Secret and query it."""
    log_path = running.state_dir / "logs" / "operator.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "KUBECONFIG": str(running.kubeconfig)}
    argv = [sys.executable, "-c", "from neon_operator.cli import main; main()", "run"]
    with log_path.open("ab") as log:
        operator = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    _say(f"operator started (pid {operator.pid}, log {log_path})")
    try:
        name = example["metadata"]["name"]
        started = time.monotonic()
        ready = _wait_ready(objects, name, operator)
        status = ready["status"]
        _say(
            f"{name} Ready after {time.monotonic() - started:.1f}s: project {status['projectId']} "
            f"in {status['orgId']} (tier {status['tier']}), Secret {status['secretName']}"
        )
        secret = client.CoreV1Api(objects.api_client).read_namespaced_secret(
            status["secretName"], "demo"
        )
        print("  Secret keys (values stay in the Secret): " + ", ".join(sorted(secret.data)))
        url = base64.b64decode(secret.data["DATABASE_URL"]).decode()
        _query(url)
        objects.delete_namespaced_custom_object(GROUP, VERSION, "demo", "neonappdatabases", name)
        _say(f"deleted {name}: deletionPolicy Delete removes its Neon project, the Secret goes too")
    finally:
        operator.terminate()
        operator.wait(timeout=30)


def _wait_ready(
    objects: client.CustomObjectsApi, name: str, operator: subprocess.Popen[bytes]
) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if operator.poll() is not None:
            raise RuntimeError(f"the operator exited with {operator.returncode}")
        body: dict[str, Any] = objects.get_namespaced_custom_object(
            GROUP, VERSION, "demo", "neonappdatabases", name
        )
        for condition in body.get("status", {}).get("conditions", []):
            if condition["type"] == "Ready" and condition["status"] == "True":
                return body
        time.sleep(0.2)
    raise TimeoutError(f"{name} did not become Ready in 120s")


def _query(url: str) -> None:
    """Create, fill and read a table through ``DATABASE_URL`` (needs the emulator's data plane)."""
    try:
        import psycopg
    except ImportError:
        _say("psycopg is not installed; skipping the query through DATABASE_URL")
        return
    _say(f"connecting through DATABASE_URL ({_redact(url)})")
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS todos (id serial PRIMARY KEY, title text)")
            conn.execute("INSERT INTO todos (title) VALUES ('try neon-operator')")
            rows = conn.execute("SELECT id, title FROM todos").fetchall()
        print(f"  SELECT id, title FROM todos → {rows}")
    except psycopg.OperationalError as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"  could not connect: {first_line}")
        print("  (the emulator serves real PostgreSQL only once its data plane is running)")


def _redact(uri: str) -> str:
    scheme, rest = uri.split("://", 1)
    credentials, host = rest.split("@", 1)
    return f"{scheme}://{credentials.split(':', 1)[0]}:****@{host}"


def _say(text: str) -> None:
    print(f"\n==> {text}", flush=True)
