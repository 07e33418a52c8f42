"""``neon-operator demo``: the local stack end to end, narrated.

Starts a real kube-apiserver (+ etcd, kube-controller-manager) with this operator's CRDs and the
Neon emulator, then shows what exists today: the CRDs served by the apiserver, an example
``NeonAppDatabase`` accepted, an invalid one refused by the CRD's CEL rules with a message that
names the field, and the emulator creating a Neon project whose connection URI comes back.
"""

from __future__ import annotations

import json
import pathlib
import tempfile
import urllib.request
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

    emulator = running.emulator
    if emulator is not None:
        _say(f"Neon emulator at {emulator.api_url}, organizations {emulator.organizations}")
        body = {"project": {"name": "demo-app", "org_id": emulator.organizations["sponsored"]}}
        created_project = _post(emulator.api_url + "/projects", emulator.api_key(), body)
        project = created_project["project"]
        uri = created_project["connection_uris"][0]["connection_uri"]
        print(f"  project {project['id']} in {project['region_id']}, host {project['proxy_host']}")
        print(f"  connection URI: {_redact(uri)}")


def _post(url: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        document: dict[str, Any] = json.load(response)
        return document


def _redact(uri: str) -> str:
    scheme, rest = uri.split("://", 1)
    credentials, host = rest.split("@", 1)
    return f"{scheme}://{credentials.split(':', 1)[0]}:****@{host}"


def _say(text: str) -> None:
    print(f"\n==> {text}", flush=True)
