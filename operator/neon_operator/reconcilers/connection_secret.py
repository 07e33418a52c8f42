"""Keeping a resource's connection Secret exactly as it should be.

The Secret is rendered by :mod:`neon_operator.connection` and carries two annotations of the
operator: the key prefix it was rendered with and a fingerprint of its data. On a resync the
fingerprint tells whether anyone edited the Secret; if not, its password is still the one Neon
has and no Neon call is needed to rebuild it. A missing or edited Secret needs the password from
Neon (``reveal_password``) and is rewritten.
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Sequence
from typing import Any, Final

from neon_operator import connection, kube, neon
from neon_operator.models.appdatabase import ConnectionSecretSpec
from neon_operator.reconcilers.reporting import Report
from neon_operator.settings import PREFIX

__all__ = [
    "FINGERPRINT",
    "KEY_PREFIX",
    "Desired",
    "Outcome",
    "address",
    "address_in",
    "desired",
    "ensure",
    "known_password",
    "write",
]

FINGERPRINT: Final = f"{PREFIX}/data-fingerprint"
KEY_PREFIX: Final = f"{PREFIX}/key-prefix"
MANAGED_BY: Final = {"app.kubernetes.io/managed-by": "neon-operator"}


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

    def render(self, password: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
        """Data, labels and annotations of the Secret with ``password``."""
        creds = connection.Credentials(
            host=self.host,
            endpoint_id=self.endpoint_id,
            user=self.user,
            database=self.database,
            password=password,
        )
        data = connection.render(creds, key_prefix=self.key_prefix)
        labels = {**self.labels, **MANAGED_BY, f"{PREFIX}/owner": self.owner.name}
        annotations = {
            **self.annotations,
            KEY_PREFIX: self.key_prefix,
            FINGERPRINT: connection.fingerprint(data),
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
) -> Desired:
    """What ``owner``'s Secret should be, per its ``connectionSecret`` settings (the Secret
    lives in the owner's namespace, named after it unless the settings name it)."""
    return Desired(
        namespace=owner.namespace or "default",
        name=settings.secret_name(owner.name),
        owner=owner,
        host=host,
        endpoint_id=endpoint_id,
        user=user,
        database=database,
        key_prefix=settings.key_prefix,
        labels=dict(settings.labels),
        annotations=dict(settings.annotations),
    )


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What :func:`ensure` did: ``created``, ``repaired`` (edited or drifted), or ``unchanged``."""

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
    if secret.annotations.get(FINGERPRINT) != connection.fingerprint(secret.data):
        return None
    prefix = secret.annotations.get(KEY_PREFIX, "")
    return connection.password_from(secret.data, key_prefix=prefix)


async def ensure(
    kube_api: kube.Kube,
    desired: Desired,
    *,
    password: str,
    current: kube.SecretState | None,
) -> Outcome:
    """Make the Secret match ``desired`` with ``password``; write only if it differs."""
    data, labels, annotations = desired.render(password)
    if current is not None and (
        current.data == data
        and labels.items() <= current.labels.items()
        and annotations.items() <= current.annotations.items()
        and current.controller_uid == desired.owner.uid
    ):
        return Outcome("unchanged")
    await kube_api.write_secret(
        desired.namespace,
        desired.name,
        data=data,
        labels=labels,
        annotations=annotations,
        owner=desired.owner,
    )
    return Outcome("created" if current is None else "repaired")


async def write(
    kube_api: kube.Kube,
    report: Report[Any],
    desired: Desired,
    password: str,
    current: kube.SecretState | None,
) -> None:
    """:func:`ensure` the Secret, record its name in status and tell what changed (an Event)."""
    outcome = await ensure(kube_api, desired, password=password, current=current)
    report.update(secret_name=desired.name)
    if outcome.action == "repaired":
        await report.event("Normal", "SecretRepaired", f"Secret {desired.name} rewritten")
    elif outcome.action == "created":
        await report.event("Normal", "SecretWritten", f"Secret {desired.name} written")
