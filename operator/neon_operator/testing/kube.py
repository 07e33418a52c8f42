"""An in-memory Kubernetes API behind the :class:`~neon_operator.kube.Kube` protocol.

It answers as :class:`~neon_operator.kube.KubeClient` does over a real kube-apiserver, for what
reconcilers do with it:

* **Not found / already exists.** Reads of a missing object give ``None``; creating an existing
  custom object gives ``False``; deleting a missing one, or patching the status of one, is a
  no-op.
* **resourceVersion.** Every write that changes an object stores a new, increasing
  ``metadata.resourceVersion``; a no-op patch keeps it. A patch carrying
  ``metadata.resourceVersion``, and ``resource_version=`` of ``patch_status`` / ``patch_object``,
  is a precondition: another version fails with :class:`~neon_operator.kube.Conflict` through
  the protocol, and with a 409 ``ApiException`` through :meth:`InMemoryKube.patch` and
  :meth:`InMemoryKube.replace` (what ``kubectl`` gets).
* **Secrets, optimistically.** ``write_secret`` without ``current`` creates (``Conflict`` if the
  name is taken); with ``current`` it merge-patches the Secret at ``current.resource_version``
  (``Conflict`` if it changed or vanished): ``None`` removes a data key, label or annotation,
  others stay; ``ownerReferences`` become the other non-controller owners plus the writer as
  controller. ``delete_secret`` with ``current`` has the uid and resourceVersion preconditions
  (``Conflict`` on a mismatch; a Secret already gone is a no-op). ``delete_object`` with
  ``ref.uid`` set leaves a namesake with another uid alone.
* **generation and the status subresource.** ``metadata.generation`` starts at 1 and grows only
  when ``spec`` changes. Status is written through :meth:`patch_status` alone: ``status`` in a
  create body, a patch or a replace is dropped, as the apiserver does for CRDs with a status
  subresource; a new custom object gets the CRDs' default status, ``{observedGeneration: 0}``.
* **Deletion.** An object with finalizers gets a ``deletionTimestamp`` and stays until the last
  finalizer is removed (:meth:`InMemoryKube.remove_finalizer`, which is what kopf does after a
  delete handler succeeded). When an object goes, the garbage collector's background cascade
  follows at once: objects whose every ``ownerReferences`` entry names a gone owner are deleted
  too (and so on down).
* **Label selectors**: ``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``, ``k in (a,b)``,
  ``k notin (a,b)``, comma-separated; anything else raises ``ValueError`` rather than matching
  wrongly.

Objects are stored as JSON-shaped dicts, Secret ``data`` base64-encoded as on the wire, and every
read returns a deep copy: a caller cannot change the store by mutating what it got. Events are
kept in :attr:`InMemoryKube.events`.

Not emulated: admission (CRD schemas, CEL rules, webhooks), RBAC, watches, server-side apply,
managedFields, namespaces as objects (a Namespace is only its labels, in
:attr:`InMemoryKube.namespaces`). Flows that need those belong in the e2e tier.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import datetime
import itertools
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

from kubernetes.aio.client.exceptions import ApiException

from neon_operator import crds, kube
from neon_operator.models import API_VERSION

__all__ = ["InMemoryKube", "RecordedEvent"]

SECRETS: Final = "secrets"
EVENT_MESSAGE_LIMIT: Final = 1024
"""Characters of an Event message kept (as :class:`~neon_operator.kube.KubeClient` cuts it)."""

Key = tuple[str, str, str]
"""(plural, namespace -- ``""`` for cluster-scoped --, name)."""


@dataclasses.dataclass(frozen=True)
class RecordedEvent:
    """An Event posted about an object."""

    kind: str
    name: str
    namespace: str | None
    uid: str
    type: str
    reason: str
    message: str


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_patch(target: Any, patch: Any) -> Any:
    """``target`` with the JSON merge patch (RFC 7386) ``patch`` applied (a new value)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


_REQUIREMENT = re.compile(
    r"""^\s*(?:
        (?P<absent>!\s*[\w./-]+)
      | (?P<setkey>[\w./-]+)\s+(?P<setop>in|notin)\s+\((?P<values>[^)]*)\)
      | (?P<key>[\w./-]+)\s*(?:(?P<op>==|!=|=)\s*(?P<value>[\w.-]*))?
    )\s*$""",
    re.VERBOSE,
)


def label_filter(selector: str | None) -> Callable[[dict[str, str]], bool]:
    """Whether labels satisfy the label ``selector`` (``None`` or ``""``: everything does)."""
    checks: list[Callable[[dict[str, str]], bool]] = []
    for part in _split(selector or ""):
        found = _REQUIREMENT.match(part)
        if found is None:
            raise ValueError(f"unsupported label selector requirement {part!r}")
        checks.append(_check(found))
    return lambda labels: all(check(labels) for check in checks)


def _split(selector: str) -> Iterator[str]:
    depth, start = 0, 0
    for index, char in enumerate(selector):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            yield selector[start:index]
            start = index + 1
    if selector[start:].strip():
        yield selector[start:]


def _check(found: re.Match[str]) -> Callable[[dict[str, str]], bool]:
    if found["absent"]:
        key = found["absent"].lstrip("!").strip()
        return lambda labels: key not in labels
    if found["setkey"]:
        key, values = found["setkey"], {v.strip() for v in found["values"].split(",")}
        if found["setop"] == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    key, op, value = found["key"], found["op"], found["value"] or ""
    if op is None:
        return lambda labels: key in labels
    if op == "!=":
        return lambda labels: labels.get(key) != value
    return lambda labels: labels.get(key) == value


def _encode(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _labels(body: dict[str, Any]) -> dict[str, str]:
    return dict(body["metadata"].get("labels") or {})


def _conflict(plural: str, name: str, why: str) -> ApiException:
    error = ApiException(status=409, reason="Conflict")
    error.body = f'{{"kind":"Status","reason":"Conflict","message":"{plural} {name!r}: {why}"}}'
    return error


class InMemoryKube:
    """:class:`~neon_operator.kube.Kube` over a dict (see the module docstring)."""

    def __init__(self) -> None:
        self._objects: dict[Key, dict[str, Any]] = {}
        self._versions = itertools.count(1)
        self._scopes = {kind.plural: kind for kind in crds.KINDS}
        self.events: list[RecordedEvent] = []
        """Every Event posted, oldest first."""
        self.namespaces: dict[str, dict[str, str]] = {}
        """Namespaces that exist, with their labels (set by tests; one not listed does not
        exist)."""

    # -- the Kube protocol ------------------------------------------------------------------

    async def read_secret(self, namespace: str, name: str) -> kube.SecretState | None:
        body = self._objects.get((SECRETS, namespace, name))
        if body is None:
            return None
        meta = body["metadata"]
        owners = meta.get("ownerReferences") or []
        return kube.SecretState(
            name=name,
            data={
                k: base64.b64decode(v).decode("utf-8", "replace")
                for k, v in (body.get("data") or {}).items()
            },
            labels=dict(meta.get("labels") or {}),
            annotations=dict(meta.get("annotations") or {}),
            controller_uid=next((o["uid"] for o in owners if o.get("controller")), None),
            owner_references=tuple(copy.deepcopy(owners)),
            uid=meta["uid"],
            resource_version=meta["resourceVersion"],
        )

    async def write_secret(
        self,
        namespace: str,
        name: str,
        *,
        data: Mapping[str, str | None],
        labels: Mapping[str, str | None],
        annotations: Mapping[str, str | None],
        owner: kube.ObjectRef,
        current: kube.SecretState | None = None,
    ) -> None:
        key = (SECRETS, namespace, name)
        if current is None:
            if key in self._objects:
                raise kube.Conflict("Secret", namespace, name)  # the client's create → 409
            body = kube.secret_body(
                namespace, name, data=data, labels=labels, annotations=annotations, owner=owner
            )
            self._store(key, body, new=True)
            return
        patch = kube.secret_patch(
            current, data=data, labels=labels, annotations=annotations, owner=owner
        )
        try:
            patched = self._patch(key, patch)
        except ApiException:  # 409: changed since it was read
            raise kube.Conflict("Secret", namespace, name) from None
        if patched is None:  # 404: gone since it was read
            raise kube.Conflict("Secret", namespace, name)

    async def delete_secret(
        self, namespace: str, name: str, *, current: kube.SecretState | None = None
    ) -> None:
        key = (SECRETS, namespace, name)
        found = self._objects.get(key)
        if found is None:
            return
        meta = found["metadata"]
        if current is not None and (current.uid, current.resource_version) != (
            meta["uid"],
            meta["resourceVersion"],
        ):
            raise kube.Conflict("Secret", namespace, name)  # a failed precondition: 409
        self._delete(key)

    async def read_cluster_object(self, plural: str, name: str) -> dict[str, Any] | None:
        return self._read((plural, "", name))

    async def read_namespace_labels(self, name: str) -> dict[str, str] | None:
        labels = self.namespaces.get(name)
        return None if labels is None else dict(labels)

    async def read_object(self, ref: kube.ObjectRef) -> dict[str, Any] | None:
        return self._read(self._key(ref))

    async def patch_status(
        self, ref: kube.ObjectRef, status: dict[str, Any], *, resource_version: str | None = None
    ) -> str | None:
        key = self._key(ref)
        current = self._objects.get(key)
        if current is None:
            return None  # as the client: the object is gone, nothing to report on
        if (
            resource_version is not None
            and resource_version != current["metadata"]["resourceVersion"]
        ):
            raise kube.Conflict(ref.kind, ref.namespace or "", ref.name)
        updated = copy.deepcopy(current)
        updated["status"] = merge_patch(current.get("status") or {}, status)
        self._store(key, updated, previous=current, status=True)
        return str(self._objects[key]["metadata"]["resourceVersion"])

    async def post_event(self, ref: kube.ObjectRef, type_: str, reason: str, message: str) -> None:
        self.events.append(
            RecordedEvent(
                kind=ref.kind,
                name=ref.name,
                namespace=ref.namespace,
                uid=ref.uid,
                type=type_,
                reason=reason,
                message=message[:EVENT_MESSAGE_LIMIT],
            )
        )

    async def patch_object(
        self, ref: kube.ObjectRef, patch: dict[str, Any], *, resource_version: str | None = None
    ) -> dict[str, Any] | None:
        if resource_version is not None:
            metadata = {**patch.get("metadata", {}), "resourceVersion": resource_version}
            patch = {**patch, "metadata": metadata}
        try:
            return self._patch(self._key(ref), patch)
        except ApiException:  # 409, as the client turns it
            raise kube.Conflict(ref.kind, ref.namespace or "", ref.name) from None

    async def list_objects(
        self, plural: str, namespace: str, *, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        matches = label_filter(label_selector)
        return [
            copy.deepcopy(body)
            for (kind, where, _), body in sorted(self._objects.items())
            if kind == plural and where == namespace and matches(_labels(body))
        ]

    async def create_object(self, plural: str, namespace: str, body: dict[str, Any]) -> bool:
        key = (plural, namespace, str(body.get("metadata", {}).get("name", "")))
        if key in self._objects:
            return False
        self.create(plural, body, namespace=namespace)
        return True

    async def delete_object(self, ref: kube.ObjectRef) -> None:
        key = self._key(ref)
        found = self._objects.get(key)
        if found is None or (ref.uid and ref.uid != found["metadata"]["uid"]):
            return  # gone, or a namesake made since: the client's 404 / 409 precondition
        self._delete(key)

    # -- what a person (kubectl) or kopf does ------------------------------------------------

    def create(
        self, plural: str, body: dict[str, Any], *, namespace: str | None = None
    ) -> dict[str, Any]:
        """Create ``body`` (a custom object of ``plural``, or ``"secrets"``) as the apiserver
        would: uid, resourceVersion, generation 1, creationTimestamp; status dropped for the
        CRDs' default (``crds.STATUS_DEFAULT``). A 409
        ``ApiException`` if the name is taken."""
        meta = body.get("metadata", {})
        scoped = plural == SECRETS or self._namespaced(plural)
        where = (namespace or meta.get("namespace") or "default") if scoped else ""
        key = (plural, where, str(meta["name"]))
        if key in self._objects:
            raise _conflict(plural, key[2], "already exists")
        stored = copy.deepcopy(body)
        stored.pop("status", None)
        if plural != SECRETS:
            stored["status"] = copy.deepcopy(crds.STATUS_DEFAULT)
        if scoped:
            stored["metadata"]["namespace"] = where
        else:
            stored["metadata"].pop("namespace", None)
        self._store(key, stored, new=True)
        return self._read(key) or {}

    def create_secret(
        self,
        namespace: str,
        name: str,
        data: dict[str, str],
        *,
        labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
        owner_references: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Create a Secret with plain-text ``data`` (stored base64, as on the wire)."""
        metadata: dict[str, Any] = {"name": name, "labels": labels or {}}
        metadata["annotations"] = annotations or {}
        if owner_references:
            metadata["ownerReferences"] = owner_references
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": metadata,
            "data": {k: _encode(v) for k, v in data.items()},
        }
        return self.create(SECRETS, body, namespace=namespace)

    def get(self, plural: str, name: str, *, namespace: str = "default") -> dict[str, Any] | None:
        """The object, or ``None``."""
        return self._read((plural, namespace if self._scoped(plural) else "", name))

    def patch(
        self, plural: str, name: str, patch: dict[str, Any], *, namespace: str = "default"
    ) -> dict[str, Any] | None:
        """``kubectl patch --type merge``: ``status`` in ``patch`` is ignored, a
        ``metadata.resourceVersion`` in it is a precondition; the result, or ``None``."""
        return self._patch((plural, namespace if self._scoped(plural) else "", name), patch)

    def _patch(self, key: Key, patch: dict[str, Any]) -> dict[str, Any] | None:
        current = self._objects.get(key)
        if current is None:
            return None
        wanted = patch.get("metadata", {}).get("resourceVersion")
        if wanted is not None and wanted != current["metadata"]["resourceVersion"]:
            raise _conflict(key[0], key[2], "the object has been modified")
        updated = merge_patch(current, {k: v for k, v in patch.items() if k != "status"})
        self._store(key, updated, previous=current)
        result = self._read(key)
        self._still_held(key)  # the response still shows the object, as the apiserver's does
        return result

    def replace(self, plural: str, body: dict[str, Any]) -> dict[str, Any]:
        """PUT ``body`` at the ``metadata.resourceVersion`` it carries (409 if another is
        current, 404 if the object is gone); status is kept as it is."""
        meta = body["metadata"]
        key = (plural, meta.get("namespace", "") if self._scoped(plural) else "", meta["name"])
        current = self._objects.get(key)
        if current is None:
            raise ApiException(status=404, reason="Not Found")
        if meta.get("resourceVersion") != current["metadata"]["resourceVersion"]:
            raise _conflict(plural, key[2], "the object has been modified")
        updated = copy.deepcopy(body)
        updated["status"] = copy.deepcopy(current.get("status"))
        if updated["status"] is None:
            del updated["status"]
        self._store(key, updated, previous=current)
        result = copy.deepcopy(self._objects[key])
        self._still_held(key)
        return result

    def delete(self, plural: str, name: str, *, namespace: str = "default") -> None:
        """``kubectl delete``: gone now, or marked for deletion while finalizers remain."""
        self._delete((plural, namespace if self._scoped(plural) else "", name))

    def remove_finalizer(
        self, plural: str, name: str, finalizer: str, *, namespace: str = "default"
    ) -> None:
        """Drop ``finalizer`` (kopf's step after a successful delete handler); an object being
        deleted goes once it has none left."""
        key = (plural, namespace if self._scoped(plural) else "", name)
        current = self._objects.get(key)
        if current is None:
            return
        left = [f for f in current["metadata"].get("finalizers") or [] if f != finalizer]
        self._patch(key, {"metadata": {"finalizers": left or None}})

    def events_about(self, name: str) -> list[RecordedEvent]:
        """The Events posted about objects named ``name``, oldest first."""
        return [event for event in self.events if event.name == name]

    # -- the store ---------------------------------------------------------------------------

    def _namespaced(self, plural: str) -> bool:
        kind = self._scopes.get(plural)
        if kind is None:
            raise ValueError(f"{plural!r} is not a resource of this operator (nor secrets)")
        return kind.scope == "Namespaced"

    def _scoped(self, plural: str) -> bool:
        return plural == SECRETS or self._namespaced(plural)

    def _key(self, ref: kube.ObjectRef) -> Key:
        if not self._scoped(ref.plural):
            return (ref.plural, "", ref.name)
        return (ref.plural, ref.namespace or "default", ref.name)

    def _read(self, key: Key) -> dict[str, Any] | None:
        body = self._objects.get(key)
        return copy.deepcopy(body) if body is not None else None

    def _store(
        self,
        key: Key,
        body: dict[str, Any],
        *,
        new: bool = False,
        previous: dict[str, Any] | None = None,
        status: bool = False,
    ) -> None:
        meta = body.setdefault("metadata", {})
        if new:
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = _now()
            if key[0] != SECRETS:
                meta["generation"] = 1
                body.setdefault("apiVersion", API_VERSION)
        else:
            assert previous is not None
            before = previous["metadata"]
            for fixed in ("uid", "creationTimestamp", "generation", "deletionTimestamp"):
                if fixed in before:
                    meta[fixed] = before[fixed]
                else:
                    meta.pop(fixed, None)
            meta["name"], meta["resourceVersion"] = before["name"], before["resourceVersion"]
            if "namespace" in before:
                meta["namespace"] = before["namespace"]
            if not status and "status" in previous:
                body["status"] = copy.deepcopy(previous["status"])
            if body == previous:
                return  # a no-op write keeps the resourceVersion
            if key[0] != SECRETS and body.get("spec") != previous.get("spec"):
                meta["generation"] = before.get("generation", 1) + 1
        meta["resourceVersion"] = str(next(self._versions))
        self._objects[key] = body

    def _still_held(self, key: Key) -> bool:
        """Remove the object if it is being deleted and its last finalizer just went."""
        meta = self._objects[key]["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self._remove(key)
            return False
        return True

    def _delete(self, key: Key) -> None:
        current = self._objects.get(key)
        if current is None:
            return
        if current["metadata"].get("finalizers"):
            if not current["metadata"].get("deletionTimestamp"):
                marked = copy.deepcopy(current)
                marked["metadata"]["deletionTimestamp"] = _now()
                self._objects[key] = marked
                marked["metadata"]["resourceVersion"] = str(next(self._versions))
            return
        self._remove(key)

    def _remove(self, key: Key) -> None:
        """Remove the object, then collect what it alone owned (background cascade)."""
        del self._objects[key]
        live = {body["metadata"]["uid"] for body in self._objects.values()}
        for other, body in list(self._objects.items()):
            owners = body["metadata"].get("ownerReferences") or []
            if owners and other in self._objects and not any(o.get("uid") in live for o in owners):
                self._delete(other)


if TYPE_CHECKING:

    def _implements_the_protocol(fake: InMemoryKube) -> kube.Kube:
        return fake  # mypy proves InMemoryKube is a Kube
