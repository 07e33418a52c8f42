"""NeonConfig: how the operator reaches Neon (cluster-scoped; tenants name it, never see the key).

One NeonConfig holds the API base URL, a reference to the Secret with the API key, the map from
tier (`free`, `paid`, …) to the Neon organization that hosts that tier's projects, defaults
for new projects, and the client's request budget. Resources pick one with `configRef` (default
`default`). Whether a tier named by a NeonAppDatabase exists in the map cannot be decided per
object at admission; the operator reports an unknown tier as `Ready=False`.

A NeonConfig is a credential, so it serves only the namespaces it is granted to:
`allowedNamespaces` (names or globs) and/or `namespaceSelector` (labels of the Namespace). A
NeonConfig with neither serves no namespace. :mod:`neon_operator.grants` holds the rule.
"""

from __future__ import annotations

import enum
import urllib.parse
from typing import Annotated, Final, Self

import pydantic
from pydantic import Field, StringConstraints, field_validator

from neon_operator.models.common import (
    LabelValue,
    Model,
    NamespaceName,
    ObjectMeta,
    ObjectName,
    PgVersion,
    RegionId,
    Status,
    TierName,
    cel,
    validations,
)
from neon_operator.models.compute import Compute

KIND: Final = "NeonConfig"

NEON_API_URL: Final = "https://console.neon.tech/api/v2"
DEFAULT_REGION: Final = "aws-us-east-2"
DEFAULT_PG_VERSION: Final = 17

API_URL_MESSAGE: Final = "apiUrl must be an http or https URL such as " + NEON_API_URL
ORG_ID_PATTERN: Final = r"^org-[a-z0-9-]+$"

OrgId = Annotated[str, StringConstraints(pattern=ORG_ID_PATTERN, max_length=64)]

NAMESPACE_PATTERN: Final = r"^[a-z0-9*?]([-a-z0-9*?]*[a-z0-9*?])?$"
"""A namespace name, or a glob of one: `*` matches any run of characters, `?` one character."""
NamespacePattern = Annotated[
    str, StringConstraints(pattern=NAMESPACE_PATTERN, min_length=1, max_length=63)
]
LabelKey = Annotated[str, StringConstraints(min_length=1, max_length=317)]

VALUES_MESSAGE: Final = (
    "values must list at least one value for operators In and NotIn, and be empty for Exists "
    "and DoesNotExist"
)


class ApiKeySecretRef(Model):
    """Where the Neon API key lives: a key of a Secret that only the operator can read."""

    namespace: NamespaceName
    """Namespace of the Secret (usually the operator's own)."""
    name: ObjectName
    """Name of the Secret."""
    key: Annotated[str, StringConstraints(min_length=1, max_length=253)] = "apiKey"
    """Key inside the Secret holding the API key (`napi_…`)."""


class ConfigDefaults(Model):
    """Settings for new projects whose resource leaves them unset."""

    region_id: RegionId = DEFAULT_REGION
    """Neon region of new projects, `<platform>-<region>` (e.g. `aws-eu-central-1`)."""
    pg_version: PgVersion = DEFAULT_PG_VERSION
    """Postgres major version of new projects, 14..18."""
    compute: Compute = Compute()
    """Compute settings of new projects and branches; unset fields use Neon's own defaults."""


class RateLimit(Model):
    """The operator's request budget against Neon's API, shared by every resource of this key."""

    requests_per_minute: Annotated[int, Field(ge=1, le=100000)] = 700
    """Sustained requests per minute (Neon allows 700 per API key)."""
    burst_per_second: Annotated[int, Field(ge=1, le=10000)] = 40
    """Requests allowed in one second's burst (Neon allows 40 per route)."""


class SelectorOperator(enum.StrEnum):
    """How a label selector requirement compares a Namespace's label with its values."""

    IN = "In"
    """The label is present and its value is one of `values`."""
    NOT_IN = "NotIn"
    """The label is absent, or its value is none of `values`."""
    EXISTS = "Exists"
    """The label is present (any value)."""
    DOES_NOT_EXIST = "DoesNotExist"
    """The label is absent."""


class LabelSelectorRequirement(Model):
    """One requirement on a Namespace's labels, as in Kubernetes' label selectors."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=validations(
            cel(
                "self.operator in ['In', 'NotIn'] ? has(self.values) && size(self.values) > 0"
                " : !has(self.values) || size(self.values) == 0",
                VALUES_MESSAGE,
                field_path=".values",
            )
        )
    )

    key: LabelKey
    """The label's key, e.g. `neon.operator.dev/tenant`."""
    operator: SelectorOperator
    """`In`, `NotIn`, `Exists` or `DoesNotExist`."""
    values: list[LabelValue] = Field(default_factory=list, max_length=64)
    """The values `In` and `NotIn` compare with; empty for `Exists` and `DoesNotExist`."""

    @pydantic.model_validator(mode="after")
    def _values_fit_operator(self) -> Self:
        wants_values = self.operator in (SelectorOperator.IN, SelectorOperator.NOT_IN)
        if wants_values != bool(self.values):
            raise ValueError(VALUES_MESSAGE)
        return self


class NamespaceSelector(Model):
    """A label selector on Namespaces; every part must match (an empty selector matches every
    namespace)."""

    match_labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, max_length=64)
    """Labels the Namespace must carry with exactly these values."""
    match_expressions: list[LabelSelectorRequirement] = Field(default_factory=list, max_length=16)
    """Further requirements on the Namespace's labels."""


class NeonConfigSpec(Model):
    """How to reach Neon and where each tier's projects live."""

    api_url: Annotated[str, StringConstraints(min_length=1, max_length=2048)] = Field(
        NEON_API_URL,
        json_schema_extra=validations(
            cel(
                "isURL(self) && url(self).getScheme() in ['http', 'https']"
                " && url(self).getHostname() != ''",
                API_URL_MESSAGE,
            )
        ),
    )
    """Base URL of Neon's API v2, including `/api/v2` (point it at an emulator in tests)."""
    api_key_secret_ref: ApiKeySecretRef
    """The Secret key holding the Neon API key (an organization or personal key)."""
    organizations: dict[TierName, OrgId] = Field(min_length=1, max_length=64)
    """Tier → Neon organization id, e.g. `{free: org-…, paid: org-…}`; a project lives in
    its tier's organization and moves when the tier changes."""
    defaults: ConfigDefaults = ConfigDefaults()
    """Defaults for resources that leave region, Postgres version or compute unset."""
    rate_limit: RateLimit = RateLimit()
    """Client-side request budget against Neon's API."""
    allowed_namespaces: list[NamespacePattern] | None = Field(None, max_length=64)
    """Namespaces whose resources may use this NeonConfig: names or globs (`team-a`,
    `apps-*`, `*` for all). A namespace is granted if it matches an entry here or the
    `namespaceSelector`; with neither field set, no namespace is."""
    namespace_selector: NamespaceSelector | None = None
    """Namespaces (by their labels) whose resources may use this NeonConfig, e.g.
    `{matchLabels: {neon.operator.dev/config: paid}}`; `{}` selects every namespace."""

    @field_validator("api_url")
    @classmethod
    def _is_http_url(cls, value: str) -> str:
        url = urllib.parse.urlsplit(value)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(API_URL_MESSAGE)
        return value


class NeonConfigStatus(Status):
    """Whether the key works: `Ready` is False (with the reason) when it is missing or refused."""


class NeonConfig(Model):
    """A whole NeonConfig object, as the apiserver returns it."""

    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: NeonConfigSpec
    status: NeonConfigStatus = NeonConfigStatus()
