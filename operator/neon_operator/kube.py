"""The operator's own Kubernetes calls: Secrets, status, Events, NeonConfigs.

Reconcilers talk to Kubernetes only through the :class:`Kube` protocol, so their tests can use
an in-memory fake; :class:`KubeClient` is the real one, on the official client's asyncio flavour
(``kubernetes.aio``). kopf still does the watching and its own bookkeeping (finalizer,
progress annotations); what the reconcilers write goes through here because it must land at a
precise moment (e.g. a new project id in status *before* waiting for Neon's operations).

Secret values are base64 on the wire and plain ``str`` in :class:`SecretState`; they are never
logged, and API errors are re-raised without request bodies.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import logging
from typing import Any, Final, Protocol

from kubernetes.aio import client, config
from kubernetes.aio.client.exceptions import ApiException

from neon_operator.models import GROUP, VERSION

__all__ = ["Kube", "KubeClient", "ObjectRef", "SecretState"]

logger = logging.getLogger(__name__)

COMPONENT: Final = "neon-operator"
MERGE_PATCH: Final = "application/merge-patch+json"


@dataclasses.dataclass(frozen=True)
class ObjectRef:
    """Enough of an object to own a Secret, patch its status and attach Events to it."""

    kind: str
    plural: str
    name: str
    uid: str
    namespace: str | None = None
    api_version: str = f"{GROUP}/{VERSION}"

    def owner_reference(self) -> dict[str, Any]:
        """An ``ownerReferences`` entry naming this object as controller."""
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


@dataclasses.dataclass(frozen=True)
class SecretState:
    """A Secret as read: decoded data, labels, annotations, controller uid."""

    name: str
    data: dict[str, str] = dataclasses.field(repr=False)
    labels: dict[str, str]
    annotations: dict[str, str]
    controller_uid: str | None


class Kube(Protocol):
    """What reconcilers need from Kubernetes."""

    async def read_secret(self, namespace: str, name: str) -> SecretState | None:
        """The Secret, or ``None`` if it does not exist."""

    async def write_secret(
        self,
        namespace: str,
        name: str,
        *,
        data: dict[str, str],
        labels: dict[str, str],
        annotations: dict[str, str],
        owner: ObjectRef,
    ) -> None:
        """Create the Secret, or replace its data, labels and annotations."""

    async def delete_secret(self, namespace: str, name: str) -> None:
        """Delete the Secret if it exists."""

    async def read_cluster_object(self, plural: str, name: str) -> dict[str, Any] | None:
        """A cluster-scoped object of this operator's group (e.g. a NeonConfig), or ``None``."""

    async def read_object(self, ref: ObjectRef) -> dict[str, Any] | None:
        """The current body of a namespaced object of this operator's group, or ``None``."""

    async def read_namespace_labels(self, name: str) -> dict[str, str] | None:
        """The labels of Namespace ``name``, or ``None`` if it does not exist."""

    async def patch_status(self, ref: ObjectRef, status: dict[str, Any]) -> None:
        """Merge ``status`` into the object's status (``None`` values remove fields)."""

    async def post_event(self, ref: ObjectRef, type_: str, reason: str, message: str) -> None:
        """Record a Kubernetes Event about the object (failures are logged, not raised)."""

    async def patch_object(self, ref: ObjectRef, patch: dict[str, Any]) -> dict[str, Any] | None:
        """Merge ``patch`` into a namespaced object of this operator's group (metadata or spec,
        not status); the patched body, or ``None`` if the object is gone."""

    async def list_objects(
        self, plural: str, namespace: str, *, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        """The objects of ``plural`` in ``namespace`` (optionally matching ``label_selector``)."""

    async def create_object(self, plural: str, namespace: str, body: dict[str, Any]) -> bool:
        """Create an object of this operator's group; ``False`` if one of that name exists."""

    async def delete_object(self, ref: ObjectRef) -> None:
        """Delete a namespaced object of this operator's group if it exists."""


def _decode(data: dict[str, str] | None) -> dict[str, str]:
    return {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in (data or {}).items()}


class KubeClient:
    """:class:`Kube` over ``kubernetes.aio`` with the current kubeconfig or in-cluster account."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)

    @classmethod
    async def connect(cls, kubeconfig: str | None = None) -> KubeClient:
        """A client from ``kubeconfig`` (or ``$KUBECONFIG`` / ``~/.kube/config``), falling back
        to the in-cluster service account."""
        try:
            api = await config.new_client_from_config(config_file=kubeconfig)
        except config.ConfigException:
            config.load_incluster_config()
            api = client.ApiClient()
        return cls(api)

    async def close(self) -> None:
        await self.api.close()

    async def read_secret(self, namespace: str, name: str) -> SecretState | None:
        try:
            secret = await self.core.read_namespaced_secret(name, namespace)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        meta = secret.metadata
        controller = next((o.uid for o in meta.owner_references or [] if o.controller), None)
        return SecretState(
            name=meta.name,
            data=_decode(secret.data),
            labels=dict(meta.labels or {}),
            annotations=dict(meta.annotations or {}),
            controller_uid=controller,
        )

    async def write_secret(
        self,
        namespace: str,
        name: str,
        *,
        data: dict[str, str],
        labels: dict[str, str],
        annotations: dict[str, str],
        owner: ObjectRef,
    ) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": labels,
                "annotations": annotations,
                "ownerReferences": [owner.owner_reference()],
            },
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        }
        try:
            await self.core.create_namespaced_secret(namespace, body)
            return
        except ApiException as error:
            if error.status != 409:
                raise
        await self.core.replace_namespaced_secret(name, namespace, body)

    async def delete_secret(self, namespace: str, name: str) -> None:
        try:
            await self.core.delete_namespaced_secret(name, namespace)
        except ApiException as error:
            if error.status != 404:
                raise

    async def read_cluster_object(self, plural: str, name: str) -> dict[str, Any] | None:
        try:
            body: dict[str, Any] = await self.custom.get_cluster_custom_object(
                GROUP, VERSION, plural, name
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return body

    async def read_namespace_labels(self, name: str) -> dict[str, str] | None:
        try:
            namespace = await self.core.read_namespace(name)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return dict(namespace.metadata.labels or {})

    async def read_object(self, ref: ObjectRef) -> dict[str, Any] | None:
        try:
            body: dict[str, Any] = await self.custom.get_namespaced_custom_object(
                GROUP, VERSION, ref.namespace or "default", ref.plural, ref.name
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return body

    async def patch_status(self, ref: ObjectRef, status: dict[str, Any]) -> None:
        patch = {"status": status}
        try:
            if ref.namespace is None:
                await self.custom.patch_cluster_custom_object_status(
                    GROUP, VERSION, ref.plural, ref.name, patch, _content_type=MERGE_PATCH
                )
            else:
                await self.custom.patch_namespaced_custom_object_status(
                    GROUP,
                    VERSION,
                    ref.namespace,
                    ref.plural,
                    ref.name,
                    patch,
                    _content_type=MERGE_PATCH,
                )
        except ApiException as error:
            if error.status == 404:
                return  # the object is gone; nothing to report on
            raise

    async def patch_object(self, ref: ObjectRef, patch: dict[str, Any]) -> dict[str, Any] | None:
        try:
            body: dict[str, Any] = await self.custom.patch_namespaced_custom_object(
                GROUP,
                VERSION,
                ref.namespace or "default",
                ref.plural,
                ref.name,
                patch,
                _content_type=MERGE_PATCH,
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return body

    async def list_objects(
        self, plural: str, namespace: str, *, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        found: dict[str, Any] = await self.custom.list_namespaced_custom_object(
            GROUP, VERSION, namespace, plural, label_selector=label_selector or ""
        )
        return [dict(item) for item in found.get("items", [])]

    async def create_object(self, plural: str, namespace: str, body: dict[str, Any]) -> bool:
        try:
            await self.custom.create_namespaced_custom_object(
                GROUP, VERSION, namespace, plural, body
            )
        except ApiException as error:
            if error.status == 409:
                return False
            raise
        return True

    async def delete_object(self, ref: ObjectRef) -> None:
        try:
            await self.custom.delete_namespaced_custom_object(
                GROUP, VERSION, ref.namespace or "default", ref.plural, ref.name
            )
        except ApiException as error:
            if error.status != 404:
                raise

    async def post_event(self, ref: ObjectRef, type_: str, reason: str, message: str) -> None:
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        namespace = ref.namespace or "default"
        body = {
            "metadata": {"generateName": f"{ref.name}.", "namespace": namespace},
            "involvedObject": {
                "apiVersion": ref.api_version,
                "kind": ref.kind,
                "name": ref.name,
                "namespace": ref.namespace,
                "uid": ref.uid,
            },
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await self.core.create_namespaced_event(namespace, body)
        except ApiException as error:
            logger.warning("could not post event %s on %s: HTTP %s", reason, ref.name, error.status)
