"""Pieces every custom resource of `neon.operator.dev` shares.

The models here are the single source of truth for two things at once: parsing custom resource
bodies in the operator, and (through :mod:`neon_operator.crds`) the CRD schemas the apiserver
enforces. Each attribute's docstring becomes the field's `description` in the CRD, and every
rule the apiserver can check at admission is written next to the field as a CEL rule
(`x-kubernetes-validations`, built with :func:`cel`). Rules that matter to the operator as well
are mirrored in Python validators with the same message, so both sides refuse the same input.

Models are frozen, take camelCase aliases (`min_cu` is `minCu` on the wire) and ignore
unknown fields: the apiserver already prunes what the schema does not know, and whatever it still
carries (fields of a newer CRD version, status written by someone else) must not break parsing.
"""

from __future__ import annotations

import datetime
import enum
import hashlib
import re
from typing import Annotated, Any, Final, Literal

import pydantic
from pydantic import Field, StringConstraints
from pydantic.alias_generators import to_camel

GROUP: Final = "neon.operator.dev"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"

READY: Final = "Ready"
"""Condition type: the resource is provisioned and usable (kstatus reads this one)."""
SYNCED: Final = "Synced"
"""Condition type: the last reconciliation of the current generation reached Neon's API."""
RECONCILING: Final = "Reconciling"
"""Condition type (kstatus): `True` while the operator works towards `Ready` on its own
(provisioning, waiting for a parent, retrying Neon): Flux and kstatus read `InProgress`."""
STALLED: Final = "Stalled"
"""Condition type (kstatus): `True` when only a change by a person can help (Neon rejected the
spec, the spec contradicts its NeonConfig): kstatus reads `Failed`, so Flux stops waiting."""

TIER_PATTERN: Final = r"^[a-z][a-z0-9-]{0,62}$"
"""A tier name (`free`, `paid`, …): a DNS-label-like word, the key of NeonConfig's map."""

DNS_SUBDOMAIN_PATTERN: Final = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
"""A Kubernetes object name (RFC 1123 subdomain), e.g. of a Secret."""

REGION_PATTERN: Final = r"^[a-z]+-[a-z0-9-]+$"
"""A Neon region id, `<platform>-<region>`: `aws-us-east-2`, `azure-eastus2`."""

PG_VERSIONS: Final = (14, 18)
"""Oldest and newest Postgres major version Neon offers."""

LABEL_VALUE_PATTERN: Final = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
"""A Kubernetes label value (at most 63 characters)."""
LabelValue = Annotated[str, StringConstraints(pattern=LABEL_VALUE_PATTERN, max_length=63)]
"""A label value: at most 63 letters, digits, `-`, `_` or `.`, starting and ending with a
letter or digit (or empty)."""

QUALIFIED_NAME_PATTERN: Final = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
"""A Kubernetes label or annotation key: an optional DNS-subdomain prefix and `/`, then a name
of at most 63 letters, digits, `-`, `_` and `.` that starts and ends with a letter or digit."""


def label_value(text: str) -> str:
    """`text` (an object's name) as a label value: itself when it is one, else its first 52
    characters and a digest of the whole (unique, and still recognisable)."""
    if len(text) <= 63 and re.fullmatch(LABEL_VALUE_PATTERN, text):
        return text
    head = re.sub(r"[^-A-Za-z0-9_.]", "", text)[:52]
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return f"{head}-{digest}" if head and head[0].isalnum() else digest


Timestamp = Annotated[
    datetime.datetime, pydantic.AfterValidator(lambda moment: moment.replace(microsecond=0))
]
"""A point in time at Kubernetes' precision (whole seconds, as `metav1.Time`), so a status read
back from the apiserver compares equal to the one written."""

TierName = Annotated[str, StringConstraints(pattern=TIER_PATTERN, max_length=63)]
RegionId = Annotated[str, StringConstraints(pattern=REGION_PATTERN, max_length=64)]
PgVersion = Annotated[int, Field(ge=PG_VERSIONS[0], le=PG_VERSIONS[1])]
ObjectName = Annotated[
    str, StringConstraints(pattern=DNS_SUBDOMAIN_PATTERN, min_length=1, max_length=253)
]
NamespaceName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", min_length=1, max_length=63),
]


class Model(pydantic.BaseModel):
    """Base of every CRD model: frozen, camelCase on the wire, lenient about unknown fields."""

    model_config = pydantic.ConfigDict(
        frozen=True,
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="ignore",
        use_attribute_docstrings=True,
    )


def cel(
    rule: str,
    message: str,
    *,
    field_path: str | None = None,
    reason: str | None = None,
) -> dict[str, str]:
    """One `x-kubernetes-validations` entry.

    `message` should name the field and say what to do; `field_path` (e.g. `.minCu`) makes
    the apiserver report the error at that child field; `reason` is one of Kubernetes'
    `FieldValueInvalid` (default), `FieldValueForbidden`, `FieldValueRequired`,
    `FieldValueDuplicate`.
    """
    entry = {"rule": rule, "message": message}
    if field_path is not None:
        entry["fieldPath"] = field_path
    if reason is not None:
        entry["reason"] = reason
    return entry


def validations(*rules: dict[str, str]) -> dict[str, Any]:
    """`json_schema_extra` carrying CEL rules for a field or (via `model_config`) a model."""
    return {"x-kubernetes-validations": list(rules)}


def immutable(field: str, hint: str) -> dict[str, str]:
    """A transition rule: once set, `field` keeps its value (checked on updates only)."""
    return cel(
        "self == oldSelf",
        f"{field} is immutable: {hint}",
        reason="FieldValueForbidden",
    )


class DeletionPolicy(enum.StrEnum):
    """What happens in Neon when the Kubernetes resource is deleted."""

    DELETE = "Delete"
    """Delete the Neon object (Neon keeps a deleted project recoverable for 7 days)."""
    RETAIN = "Retain"
    """Leave the Neon object alone; only the Kubernetes side goes away."""


ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(Model):
    """A Kubernetes-style condition (as `metav1.Condition`), e.g. `Ready` or `Synced`."""

    type: Annotated[str, StringConstraints(min_length=1, max_length=316)]
    """Kind of condition, CamelCase: `Ready`, `Synced`."""
    status: ConditionStatus
    """`True`, `False` or `Unknown`."""
    reason: Annotated[
        str,
        StringConstraints(
            min_length=1, max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
        ),
    ]
    """Machine-readable CamelCase reason for the last transition, e.g. `ProjectReady`."""
    message: Annotated[str, StringConstraints(max_length=32768)] = ""
    """What happened, for a person: what is wrong and what to do about it."""
    last_transition_time: Timestamp
    """When `status` last changed."""
    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """The `metadata.generation` this condition was computed from."""


CONDITIONS_SCHEMA: Final[dict[str, Any]] = {
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["type"],
}


class Status(Model):
    """Status every kind carries; kstatus reads `observedGeneration` and the `Ready` condition."""

    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """The `metadata.generation` the operator last reconciled (0: not yet seen)."""
    conditions: list[Condition] = Field(
        default_factory=list, max_length=16, json_schema_extra=CONDITIONS_SCHEMA
    )
    """Current state: `Ready` (usable), `Synced` (last reconciliation reached Neon), and
    kstatus' `Reconciling` (working towards `Ready`) and `Stalled` (needs a change to proceed)."""

    def condition(self, type_: str) -> Condition | None:
        """The condition of `type_`, if present."""
        return next((c for c in self.conditions if c.type == type_), None)


class CreatedStatus(Status):
    """Status of a kind that makes one Neon object, with the claim that keeps it to one.

    Before asking Neon to create the object, an operator instance writes both fields at the
    `resourceVersion` it read: of two instances that read the same version, only one can. A
    later instance that finds them set (and no id of the object yet) first looks in Neon for
    what the claimant may have made, and waits while another instance's claim is fresh instead
    of creating a twin."""

    creation_requested: Timestamp | None = None
    """When an operator instance claimed the creation, written before the call to Neon."""
    creation_requested_by: str | None = None
    """Which operator instance claimed it (`<host>_<uuid>`, as in the leadership Lease)."""


class SecretKeyRef(Model):
    """A key of a Secret in the referring resource's own namespace."""

    name: ObjectName
    """Name of the Secret."""
    key: Annotated[str, StringConstraints(min_length=1, max_length=253)]
    """Key inside the Secret's `data`."""


class ObjectMeta(Model):
    """The parts of `metadata` the operator reads; everything else is ignored."""

    name: str
    namespace: str | None = None
    uid: str | None = None
    generation: int | None = None
    resource_version: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    deletion_timestamp: datetime.datetime | None = None
