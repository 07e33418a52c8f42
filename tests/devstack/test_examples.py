"""Every example in deploy/examples is accepted by the real apiserver's validation as it is."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client import ApiClient

from neon_operator import crds

pytestmark = pytest.mark.e2e

PLURALS = {kind.kind: kind.plural for kind in crds.KINDS}
EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "deploy" / "examples"
DOCUMENTS = [
    pytest.param(document, id=f"{path.name}:{document['metadata']['name']}")
    for path in sorted(EXAMPLES.glob("*.yaml"))
    for document in yaml.safe_load_all(path.read_text())
    if document
]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_example_passes_admission(
    kube_api: ApiClient, namespace: str, document: dict[str, Any]
) -> None:
    group, version = document["apiVersion"].split("/")
    plural = PLURALS[document["kind"]]
    objects = client.CustomObjectsApi(kube_api)
    if document["kind"] == "NeonConfig":
        renamed = {**document, "metadata": {"name": f"example-{namespace}"}}
        objects.create_cluster_custom_object(group, version, plural, renamed, dry_run="All")
    else:
        objects.create_namespaced_custom_object(
            group, version, namespace, plural, document, dry_run="All"
        )
