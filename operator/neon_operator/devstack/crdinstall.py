"""Install this operator's CRDs into a cluster and wait until the apiserver serves them.

The CRDs are rendered from the models in this process rather than read from ``crds/``, so the
local stack always serves exactly the schema of the code that runs against it (the drift test
keeps ``crds/`` equal to the same rendering).
"""

from __future__ import annotations

import pathlib
import time
from typing import Any

import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from neon_operator import crds


def install(kubeconfig: pathlib.Path, timeout: float = 30.0) -> list[str]:
    """Create or update every CRD and wait for ``Established``; return their names."""
    api = client.ApiextensionsV1Api(config.new_client_from_config(config_file=str(kubeconfig)))
    names = []
    for text in crds.render().values():
        document: dict[str, Any] = yaml.safe_load(text)
        name = document["metadata"]["name"]
        try:
            api.create_custom_resource_definition(body=document)
        except ApiException as error:
            if error.status != 409:
                raise
            current = api.read_custom_resource_definition(name)
            document["metadata"]["resourceVersion"] = current.metadata.resource_version
            api.replace_custom_resource_definition(name, body=document)
        names.append(name)
    deadline = time.monotonic() + timeout
    for name in names:
        while not _established(api, name):
            if time.monotonic() > deadline:
                raise TimeoutError(f"CRD {name} was not Established within {timeout:.0f}s")
            time.sleep(0.1)
    return names


def _established(api: Any, name: str) -> bool:
    status = api.read_custom_resource_definition_status(name).status
    return any(
        condition.type == "Established" and condition.status == "True"
        for condition in (status.conditions or [])
    )
