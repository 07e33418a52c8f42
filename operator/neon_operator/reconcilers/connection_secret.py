"""Keeping a resource's connection Secret exactly as it should be, and only a Secret it controls.

The Secret is rendered by :mod:`neon_operator.connection` and carries two annotations of the
operator: the key prefix it was rendered with and a fingerprint of the data keys it rendered.
On a resync the fingerprint tells whether anyone edited those keys; if not, its password is
still the one Neon has and no Neon call is needed to rebuild it. A missing or edited Secret
needs the password from Neon (``reveal_password``) and is rewritten.

Whose Secret it is::

    no Secret of that name                    → create it (never over one made meanwhile)
    controlled by this resource (its uid)     → keep it as rendered
    annotated  neon.operator.dev/adopt: <Kind>/<name>  naming this resource, no other
    controller                                → adopt it: the operator's keys are written, the
                                                resource becomes its controller, its other keys,
                                                labels and annotations stay
    anything else                             → never written nor deleted: Ready=False
                                                SecretConflict, naming the Secret and the fix

Adoption keeps the Secret's own keys because a Secret worth adopting is one apps already read
(``envFrom``): dropping what else it holds would break them at the moment of the takeover. Once
adopted it is the resource's, and it is deleted with it (garbage collection), keys and all. The
value must name the adopting resource, so a Secret opened for one resource cannot be taken by
another one that happens to name it.

Writes are patches at the version read (see :mod:`neon_operator.kube`): labels, annotations and
keys other writers put on the Secret survive, and a write that lost a race reads the Secret
again and decides again. Only the keys, labels and annotations the operator rendered before
(recorded in :data:`MANAGED_METADATA` and the key prefix) are ever removed.
"""

from __future__ import annotations

import dataclasses
import json
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any, Final

from neon_operator import connection, kube, neon
from neon_operator.models import label_value
from neon_operator.models.appdatabase import ConnectionSecretSpec
from neon_operator.reconcilers.context import Context
from neon_operator.reconcilers.references import namespace_of
from neon_operator.reconcilers.reporting import Report
from neon_operator.settings import PREFIX

__all__ = [
    "ADOPT",
    "FINGERPRINT",
    "KEY_PREFIX",
    "MANAGED_METADATA",
    "Desired",
    "Outcome",
    "SecretConflict",
    "address",
    "address_in",
    "delete_owned",
    "desired",
    "ensure",
    "known_password",
    "write",
]

ADOPT: Final = f"{PREFIX}/adopt"
"""Annotation a person puts on an existing Secret to hand it to one resource:
``<Kind>/<name>`` of that resource (e.g. ``NeonAppDatabase/todo-app``; the kind is matched
without regard to case)."""
FINGERPRINT: Final = f"{PREFIX}/data-fingerprint"
KEY_PREFIX: Final = f"{PREFIX}/key-prefix"
MANAGED_METADATA: Final = f"{PREFIX}/managed-metadata"
"""The keys of the extra labels and annotations the spec put on the Secret (JSON), so that one
removed from the spec is removed from the Secret while everyone else's stay."""
MANAGED_BY: Final = {"app.kubernetes.io/managed-by": "neon-operator"}
WRITE_ATTEMPTS: Final = 3
"""Writes that lost a race to another writer, re-read and re-decided, before giving up for now."""


class SecretConflict(Exception):
    """The Secret exists and is not this resource's to write; ``message`` says what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclasses.dataclass(frozen=True)
class Desired:
    """What the Secret should be, apart from the password."""

    namespace: str
    name: str
    owner: kube.ObjectRef
    host: str
    endpoint_id: str
    user: str
    database: str
    key_prefix: str
    labels: dict[str, str]
    annotations: dict[str, str]
    field: str = "spec.connectionSecret.name"
    """The spec field that names the Secret (for messages)."""

    def render(self, password: str) -> Rendering:
        """Data, labels and annotations of the Secret with ``password``."""
        creds = connection.Credentials(
            host=self.host,
            endpoint_id=self.endpoint_id,
            user=self.user,
            database=self.database,
            password=password,
        )
        data = connection.render(creds, key_prefix=self.key_prefix)
        labels = {**self.labels, **MANAGED_BY, f"{PREFIX}/owner": label_value(self.owner.name)}
        managed = {"labels": sorted(self.labels), "annotations": sorted(self.annotations)}
        annotations = {
            **self.annotations,
            KEY_PREFIX: self.key_prefix,
            FINGERPRINT: connection.fingerprint(data),
            MANAGED_METADATA: json.dumps(managed, separators=(",", ":")),
        }
        return data, labels, annotations


def desired(
    settings: ConnectionSecretSpec,
    *,
    owner: kube.ObjectRef,
    host: str,
    endpoint_id: str,
    user: str,
    database: str,
    field: str = "spec.connectionSecret.name",
) -> Desired:
    """What ``owner``'s Secret should be, per its ``connectionSecret`` settings (the Secret
    lives in the owner's namespace, named after it unless the settings name it)."""
    return Desired(
        namespace=namespace_of(owner),
        name=settings.secret_name(owner.name),
        owner=owner,
        host=host,
        endpoint_id=endpoint_id,
        user=user,
        database=database,
        key_prefix=settings.key_prefix,
        labels=dict(settings.labels),
        annotations=dict(settings.annotations),
        field=field,
    )


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What :func:`ensure` did: ``created``, ``adopted``, ``repaired`` (edited or drifted), or
    ``unchanged``."""

    action: str


def address_in(
    details: Sequence[neon.ConnectionDetails], *, role: str, database: str
) -> str | None:
    """Where a create response says to connect as ``role`` to ``database`` (its
    ``connection_parameters.host``), if it lists that pair."""
    for entry in details:
        parameters = entry.connection_parameters
        if parameters.role == role and parameters.database == database:
            return parameters.host
    return None


async def address(
    client: neon.NeonClient,
    project_id: str,
    endpoint: neon.Endpoint,
    *,
    role: str,
    database: str,
    known: str | None,
) -> str:
    """Where clients connect to ``endpoint``: ``known`` (recorded in status from an earlier
    answer) or, at one call, the host of Neon's own direct connection URI. Not
    ``endpoint.host``: a Neon-compatible API (a local emulator) may serve connections at
    another address than the compute's name."""
    if known is not None:
        return known
    uri = await client.connection_uri(
        project_id,
        database_name=database,
        role_name=role,
        pooled=False,
        branch_id=endpoint.branch_id,
        endpoint_id=endpoint.id,
    )
    netloc = urllib.parse.urlsplit(uri.get_secret_value()).netloc
    return netloc.rpartition("@")[2]


def known_password(secret: kube.SecretState | None) -> str | None:
    """The password of a Secret the operator wrote and nobody edited since, else ``None``."""
    if secret is None:
        return None
    prefix = secret.annotations.get(KEY_PREFIX, "")
    if secret.annotations.get(FINGERPRINT) != connection.fingerprint(_rendered(secret, prefix)):
        return None
    return connection.password_from(secret.data, key_prefix=prefix)


def _operator_keys(prefix: str) -> set[str]:
    return {prefix + key for key in (*connection.KEYS, connection.OPTIONS_KEY)}


def _rendered(secret: kube.SecretState, prefix: str) -> dict[str, str]:
    """The data keys of ``secret`` the operator renders with ``prefix`` (not anyone else's)."""
    keys = _operator_keys(prefix)
    return {k: v for k, v in secret.data.items() if k in keys}


def _managed_metadata(secret: kube.SecretState) -> tuple[set[str], set[str]]:
    """The extra label and annotation keys the spec put on ``secret`` when last rendered."""
    try:
        recorded = json.loads(secret.annotations.get(MANAGED_METADATA, "{}"))
        return set(recorded.get("labels", [])), set(recorded.get("annotations", []))
    except (ValueError, AttributeError, TypeError):
        return set(), set()


def _changes(
    wanted: Mapping[str, str], current: Mapping[str, str], stale: set[str]
) -> dict[str, str | None]:
    """What to patch so ``current`` holds ``wanted``: changed values, and ``None`` for the
    ``stale`` keys (rendered before, not now) that are still there."""
    changed: dict[str, str | None] = {k: v for k, v in wanted.items() if current.get(k) != v}
    changed.update({k: None for k in stale - set(wanted) if k in current})
    return changed


def _adoption_wanted(secret: kube.SecretState, owner: kube.ObjectRef) -> bool:
    kind, _, name = secret.annotations.get(ADOPT, "").strip().partition("/")
    return kind.lower() == owner.kind.lower() and name == owner.name


def _check_ownership(desired: Desired, current: kube.SecretState) -> str:
    """``own`` or ``adopt``; :class:`SecretConflict` for a Secret that is not ours to write."""
    owner = desired.owner
    if current.controller_uid == owner.uid:
        return "own"
    controller = current.controller()
    if controller is None and _adoption_wanted(current, owner):
        return "adopt"
    where = f"Secret {desired.name!r} in namespace {desired.namespace!r}"
    if controller is not None:
        raise SecretConflict(
            f"{where} is controlled by {controller.get('kind')} {controller.get('name')!r}, so "
            f"the operator leaves it untouched: set {desired.field} to a free name"
        )
    promised = current.annotations.get(ADOPT)
    elsewhere = f" (its {ADOPT} annotation names {promised!r})" if promised else ""
    handed = f"{owner.kind}/{owner.name}"
    raise SecretConflict(
        f"{where} exists and was not made by this {owner.kind}{elsewhere}, so the operator "
        f"leaves it untouched: set {desired.field} to a free name, or hand the Secret over with "
        f"the annotation {ADOPT}: {handed} (kubectl annotate secret {desired.name} -n "
        f"{desired.namespace} {ADOPT}={handed}); its other keys are kept, and it is then "
        f"deleted with this {owner.kind}"
    )


Rendering = tuple[dict[str, str], dict[str, str], dict[str, str]]
Changes = Mapping[str, str | None]
Patch = tuple[Changes, Changes, Changes]
"""Data, labels and annotations to set (``None``: to remove)."""


def _patch(desired: Desired, rendered: Rendering, current: kube.SecretState) -> Patch:
    """What to change in ``current`` (data, labels, annotations) to match ``rendered``."""
    data, labels, annotations = rendered
    prefix = current.annotations.get(KEY_PREFIX, desired.key_prefix)
    stale_labels, stale_annotations = _managed_metadata(current)
    return (
        _changes(data, current.data, _operator_keys(prefix) | _operator_keys(desired.key_prefix)),
        _changes(labels, current.labels, stale_labels),
        _changes(annotations, current.annotations, stale_annotations),
    )


async def ensure(
    kube_api: kube.Kube,
    desired: Desired,
    *,
    password: str,
    current: kube.SecretState | None,
) -> Outcome:
    """Make the Secret match ``desired`` with ``password``; write only if it differs, and only
    into a Secret this resource controls (or is handed, see the module docstring).

    :class:`SecretConflict` when the Secret is someone else's; when another writer keeps
    changing it under us, :class:`neon_operator.kube.Conflict` after :data:`WRITE_ATTEMPTS`."""
    rendered = desired.render(password)
    for attempt in range(WRITE_ATTEMPTS):
        try:
            changes: Patch
            if current is None:
                action, changes = "created", rendered
            else:
                ownership = _check_ownership(desired, current)
                action = "adopted" if ownership == "adopt" else "repaired"
                changes = _patch(desired, rendered, current)
                if ownership == "own" and not any(changes):
                    return Outcome("unchanged")
            data, labels, annotations = changes
            await kube_api.write_secret(
                desired.namespace,
                desired.name,
                data=data,
                labels=labels,
                annotations=annotations,
                owner=desired.owner,
                current=current,
            )
            return Outcome(action)
        except kube.Conflict:
            if attempt == WRITE_ATTEMPTS - 1:
                raise
            current = await kube_api.read_secret(desired.namespace, desired.name)
    raise AssertionError("unreachable")


async def write(
    ctx: Context,
    report: Report[Any],
    desired: Desired,
    password: str,
    current: kube.SecretState | None,
    *,
    record: bool = True,
) -> Outcome:
    """:func:`ensure` the Secret; with ``record``, put its name in ``status.secretName`` and
    tell what changed (an Event). A Secret that is not the resource's: ``Ready=False``
    ``SecretConflict`` and a :class:`errors.RetryLater` (a person must act; no hot loop)."""
    try:
        outcome = await ensure(ctx.kube, desired, password=password, current=current)
    except SecretConflict as conflict:
        raise await report.waiting("SecretConflict", conflict.message) from None
    if not record:
        return outcome
    report.update(secret_name=desired.name)
    if outcome.action == "repaired":
        await report.event("Normal", "SecretRepaired", f"Secret {desired.name} rewritten")
    elif outcome.action == "created":
        await report.event("Normal", "SecretWritten", f"Secret {desired.name} written")
    elif outcome.action == "adopted":
        await report.event(
            "Normal", "SecretAdopted", f"took over Secret {desired.name} as its {ADOPT} says"
        )
    return outcome


async def delete_owned(kube_api: kube.Kube, namespace: str, name: str, owner_uid: str) -> bool:
    """Delete the Secret ``name`` if, and only if, the object ``owner_uid`` controls it (at the
    version read: never one that changed hands meanwhile); whether it was deleted."""
    for attempt in range(WRITE_ATTEMPTS):
        found = await kube_api.read_secret(namespace, name)
        if found is None or found.controller_uid != owner_uid:
            return False
        try:
            await kube_api.delete_secret(namespace, name, current=found)
            return True
        except kube.Conflict:
            if attempt == WRITE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
