"""The operator's own Kubernetes calls: Secrets, status, Events, NeonConfigs.

Reconcilers talk to Kubernetes only through the :class:`Kube` protocol, so their tests can use
an in-memory fake; :class:`KubeClient` is the real one, on the official client's asyncio flavour
(``kubernetes.aio``). kopf still does the watching and its own bookkeeping (finalizer,
progress annotations); what the reconcilers write goes through here because it must land at a
precise moment (e.g. a new project id in status *before* waiting for Neon's operations).

Every write that decides from something it read says so: a Secret is created only where none
exists, and changed or deleted only at the ``resourceVersion`` it was read at (optimistic
concurrency). When someone else wrote in between, the write fails with :class:`Conflict` and the
caller reads again and decides again, instead of overwriting a change it never saw. Secret
changes are JSON merge patches: labels, annotations and data keys the operator does not name
stay as their writers left them.

Every write first passes the process's :class:`~neon_operator.fencing.Fence`: an instance that
lost the leadership Lease writes nothing.

Secret values are base64 on the wire and plain ``str`` in :class:`SecretState`; they are never
logged, and API errors are re-raised without request bodies.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import logging
import sys
from collections.abc import Mapping
from typing import Any, Final, Protocol, Self

from kubernetes.aio import client, config
from kubernetes.aio.client.exceptions import ApiException

from neon_operator.fencing import Fence
from neon_operator.models import GROUP, VERSION

__all__ = [
    "FIELD_MANAGER",
    "Conflict",
    "Kube",
    "KubeClient",
    "ObjectRef",
    "SecretState",
    "secret_body",
    "secret_patch",
    "shared",
]

logger = logging.getLogger(__name__)

COMPONENT: Final = "neon-operator"
FIELD_MANAGER: Final = "neon-operator"
"""The name the operator's writes carry in ``metadata.managedFields``."""
MERGE_PATCH: Final = "application/merge-patch+json"


class Conflict(Exception):
    """The object changed, appeared or vanished since it was read: read again, decide again."""

    def __init__(self, kind: str, namespace: str, name: str) -> None:
        super().__init__(f"{kind} {namespace}/{name} changed since it was read")


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
    """A Secret as read: decoded data, labels, annotations, owners, and the version read."""

    name: str
    data: dict[str, str] = dataclasses.field(repr=False)
    labels: dict[str, str]
    annotations: dict[str, str]
    controller_uid: str | None
    owner_references: tuple[dict[str, Any], ...] = ()
    """``metadata.ownerReferences`` as plain dicts (camelCase keys)."""
    uid: str = ""
    resource_version: str = ""
    """The version this state was read at: the precondition of a write that decided from it."""

    def controller(self) -> dict[str, Any] | None:
        """The owner reference marked ``controller``, if any."""
        return next((ref for ref in self.owner_references if ref.get("controller")), None)


class Kube(Protocol):
    """What reconcilers need from Kubernetes."""

    async def read_secret(self, namespace: str, name: str) -> SecretState | None:
        """The Secret, or ``None`` if it does not exist."""

    async def write_secret(
        self,
        namespace: str,
        name: str,
        *,
        data: Mapping[str, str | None],
        labels: Mapping[str, str | None],
        annotations: Mapping[str, str | None],
        owner: ObjectRef,
        current: SecretState | None = None,
    ) -> None:
        """Create the Secret (``current`` is ``None``) or change the one read as ``current``:
        set these data keys, labels and annotations (``None`` removes one; others stay as they
        are) and make ``owner`` its controller (other, non-controller owners stay).
        :class:`Conflict` if it exists (create) or changed since ``current`` was read."""

    async def delete_secret(
        self, namespace: str, name: str, *, current: SecretState | None = None
    ) -> None:
        """Delete the Secret if it exists; with ``current``, only if it is still the version
        read then (else :class:`Conflict`)."""

    async def read_cluster_object(self, plural: str, name: str) -> dict[str, Any] | None:
        """A cluster-scoped object of this operator's group (e.g. a NeonConfig), or ``None``."""

    async def read_object(self, ref: ObjectRef) -> dict[str, Any] | None:
        """The current body of a namespaced object of this operator's group, or ``None``."""

    async def read_namespace_labels(self, name: str) -> dict[str, str] | None:
        """The labels of Namespace ``name``, or ``None`` if it does not exist."""

    async def patch_status(
        self, ref: ObjectRef, status: dict[str, Any], *, resource_version: str | None = None
    ) -> str | None:
        """Merge ``status`` into the object's status (``None`` values remove fields); with
        ``resource_version``, only at that version (else :class:`Conflict`). The object's
        ``resourceVersion`` afterwards; ``None`` if the object is gone."""

    async def post_event(self, ref: ObjectRef, type_: str, reason: str, message: str) -> None:
        """Record a Kubernetes Event about the object (failures are logged, not raised)."""

    async def patch_object(
        self, ref: ObjectRef, patch: dict[str, Any], *, resource_version: str | None = None
    ) -> dict[str, Any] | None:
        """Merge ``patch`` into a namespaced object of this operator's group (metadata or spec,
        not status); the patched body, or ``None`` if the object is gone. With
        ``resource_version``, only at that version (else :class:`Conflict`): for a patch that
        replaces a list computed from what was read."""

    async def list_objects(
        self, plural: str, namespace: str, *, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        """The objects of ``plural`` in ``namespace`` (optionally matching ``label_selector``)."""

    async def create_object(self, plural: str, namespace: str, body: dict[str, Any]) -> bool:
        """Create an object of this operator's group; ``False`` if one of that name exists."""

    async def delete_object(self, ref: ObjectRef) -> None:
        """Delete a namespaced object of this operator's group if it exists (and, when
        ``ref.uid`` is set, only if it is still that object, not a namesake made since)."""


SHARED_UP_TO: Final = 64
"""The longest string value :func:`shared` shares: names, reasons, labels, ids. Longer ones
(a connection string, kopf's last-handled configuration) are rarely another object's too."""


def shared(value: Any) -> Any:
    """``value`` (parsed JSON) rebuilt with one copy of each key and short string for every
    object held: equal, and smaller by what the objects have in common. ``sys.intern`` forgets
    a string once nothing holds it."""
    if isinstance(value, dict):
        return {_interned(key): shared(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shared(item) for item in value]
    return _interned(value) if isinstance(value, str) and len(value) <= SHARED_UP_TO else value


def _interned(text: Any) -> Any:
    return sys.intern(text) if type(text) is str else text


def _decode(data: dict[str, str] | None) -> dict[str, str]:
    return {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in (data or {}).items()}


def _encode(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _present(values: Mapping[str, str | None]) -> dict[str, str]:
    """The entries that set a value (a create has nothing to remove)."""
    return {k: v for k, v in values.items() if v is not None}


def secret_body(
    namespace: str,
    name: str,
    *,
    data: Mapping[str, str | None],
    labels: Mapping[str, str | None],
    annotations: Mapping[str, str | None],
    owner: ObjectRef,
) -> dict[str, Any]:
    """The body :meth:`Kube.write_secret` creates a Secret with (``None`` values left out)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": _present(labels),
            "annotations": _present(annotations),
            "ownerReferences": [owner.owner_reference()],
        },
        "data": {k: _encode(v) for k, v in _present(data).items()},
    }


def secret_patch(
    current: SecretState,
    *,
    data: Mapping[str, str | None],
    labels: Mapping[str, str | None],
    annotations: Mapping[str, str | None],
    owner: ObjectRef,
) -> dict[str, Any]:
    """The JSON merge patch :meth:`Kube.write_secret` changes the Secret read as ``current``
    with: at its resourceVersion, ``owner`` as controller, other non-controller owners kept."""
    others = [
        ref
        for ref in current.owner_references
        if not ref.get("controller") and ref.get("uid") != owner.uid
    ]
    return {
        "metadata": {
            "resourceVersion": current.resource_version,
            "labels": dict(labels),
            "annotations": dict(annotations),
            "ownerReferences": [*others, owner.owner_reference()],
        },
        "data": {k: _encode(v) if v is not None else None for k, v in data.items()},
    }


class KubeClient:
    """:class:`Kube` over ``kubernetes.aio`` with the current kubeconfig or in-cluster account."""

    def __init__(self, api: client.ApiClient, fence: Fence | None = None) -> None:
        self.api = api
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.fence = fence if fence is not None else Fence.unfenced()

    @classmethod
    async def connect(
        cls,
        kubeconfig: str | None = None,
        *,
        fence: Fence | None = None,
        user_agent: str | None = None,
    ) -> Self:
        """A client from ``kubeconfig`` (or ``$KUBECONFIG`` / ``~/.kube/config``), falling back
        to the in-cluster service account; its writes pass ``fence`` (default: none)."""
        try:
            api = await config.new_client_from_config(config_file=kubeconfig)
        except config.ConfigException:
            config.load_incluster_config()
            api = client.ApiClient()
        if user_agent is not None:
            api.user_agent = user_agent
        # As kopf's own session (its networking.trust_env is off by default): with it on,
        # aiohttp looks for proxy variables and parses ~/.netrc in a thread for every request,
        # a quarter of the operator's CPU under a burst of thousands of objects.
        api.configuration.client_session_kwargs = {"trust_env": False}
        return cls(api, fence)

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
        owners = tuple(self.api.sanitize_for_serialization(o) for o in meta.owner_references or [])
        controller = next((o["uid"] for o in owners if o.get("controller")), None)
        return SecretState(
            name=meta.name,
            data=_decode(secret.data),
            labels=dict(meta.labels or {}),
            annotations=dict(meta.annotations or {}),
            controller_uid=controller,
            owner_references=owners,
            uid=meta.uid or "",
            resource_version=meta.resource_version or "",
        )

    async def write_secret(
        self,
        namespace: str,
        name: str,
        *,
        data: Mapping[str, str | None],
        labels: Mapping[str, str | None],
        annotations: Mapping[str, str | None],
        owner: ObjectRef,
        current: SecretState | None = None,
    ) -> None:
        self.fence.check(f"write Secret {namespace}/{name}")
        if current is None:
            body = secret_body(
                namespace, name, data=data, labels=labels, annotations=annotations, owner=owner
            )
            try:
                await self.core.create_namespaced_secret(
                    namespace, body, field_manager=FIELD_MANAGER
                )
            except ApiException as error:
                if error.status == 409:
                    raise Conflict("Secret", namespace, name) from None
                raise
            return
        patch = secret_patch(
            current, data=data, labels=labels, annotations=annotations, owner=owner
        )
        try:
            await self.core.patch_namespaced_secret(
                name, namespace, patch, field_manager=FIELD_MANAGER, _content_type=MERGE_PATCH
            )
        except ApiException as error:
            if error.status in (404, 409):
                raise Conflict("Secret", namespace, name) from None
            raise

    async def delete_secret(
        self, namespace: str, name: str, *, current: SecretState | None = None
    ) -> None:
        self.fence.check(f"delete Secret {namespace}/{name}")
        options = None
        if current is not None:
            options = {
                "preconditions": {"uid": current.uid, "resourceVersion": current.resource_version}
            }
        try:
            await self.core.delete_namespaced_secret(name, namespace, body=options)
        except ApiException as error:
            if error.status == 409:
                raise Conflict("Secret", namespace, name) from None
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

    async def patch_status(
        self, ref: ObjectRef, status: dict[str, Any], *, resource_version: str | None = None
    ) -> str | None:
        self.fence.check(f"patch status of {ref.kind} {ref.name}")
        patch: dict[str, Any] = {"status": status}
        if resource_version is not None:
            patch["metadata"] = {"resourceVersion": resource_version}
        try:
            if ref.namespace is None:
                written = await self.custom.patch_cluster_custom_object_status(
                    GROUP,
                    VERSION,
                    ref.plural,
                    ref.name,
                    patch,
                    field_manager=FIELD_MANAGER,
                    _content_type=MERGE_PATCH,
                )
            else:
                written = await self.custom.patch_namespaced_custom_object_status(
                    GROUP,
                    VERSION,
                    ref.namespace,
                    ref.plural,
                    ref.name,
                    patch,
                    field_manager=FIELD_MANAGER,
                    _content_type=MERGE_PATCH,
                )
        except ApiException as error:
            if error.status == 404:
                return None  # the object is gone; nothing to report on
            if error.status == 409:
                raise Conflict(ref.kind, ref.namespace or "", ref.name) from None
            raise
        return str(written["metadata"]["resourceVersion"])

    async def patch_object(
        self, ref: ObjectRef, patch: dict[str, Any], *, resource_version: str | None = None
    ) -> dict[str, Any] | None:
        self.fence.check(f"patch {ref.kind} {ref.name}")
        if resource_version is not None:
            metadata = {**patch.get("metadata", {}), "resourceVersion": resource_version}
            patch = {**patch, "metadata": metadata}
        try:
            body: dict[str, Any] = await self.custom.patch_namespaced_custom_object(
                GROUP,
                VERSION,
                ref.namespace or "default",
                ref.plural,
                ref.name,
                patch,
                field_manager=FIELD_MANAGER,
                _content_type=MERGE_PATCH,
            )
        except ApiException as error:
            if error.status == 404:
                return None
            if error.status == 409:
                raise Conflict(ref.kind, ref.namespace or "", ref.name) from None
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
        self.fence.check(f"create {plural} {namespace}/{body.get('metadata', {}).get('name')}")
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
        self.fence.check(f"delete {ref.kind} {ref.name}")
        options = {"preconditions": {"uid": ref.uid}} if ref.uid else None
        try:
            await self.custom.delete_namespaced_custom_object(
                GROUP, VERSION, ref.namespace or "default", ref.plural, ref.name, body=options
            )
        except ApiException as error:
            if error.status == 409:
                return  # a namesake made since: not the object meant
            if error.status != 404:
                raise

    async def post_event(self, ref: ObjectRef, type_: str, reason: str, message: str) -> None:
        self.fence.check(f"post Event {reason} on {ref.kind} {ref.name}")
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
