"""Request bodies the client sends, as pydantic models.

Each model is the *inside* of Neon's wrapper (``{"project": {...}}``); the client adds the
wrapper. Unset fields (``None``) are left out of the JSON so Neon applies its own defaults;
``0`` and ``False`` are sent as given (``suspend_timeout_seconds=0`` means "Neon's default").
Validation here is deliberately thin: Neon is the judge, and its 400/422 message reaches the
user through :class:`~neon_operator.neon.errors.InvalidRequestError`.
"""

from __future__ import annotations

import datetime
from typing import Any, Literal

import pydantic

__all__ = [
    "BranchCreate",
    "DataApiCreate",
    "DataApiSettings",
    "EndpointCreate",
    "EndpointSettings",
    "EndpointSpec",
    "EndpointUpdate",
    "OAuthProviderChange",
    "ProjectBranchSpec",
    "ProjectCreate",
    "ProjectUpdate",
    "RequestModel",
]

EndpointType = Literal["read_write", "read_only"]


class RequestModel(pydantic.BaseModel):
    """Base of request bodies: frozen, unknown keyword arguments rejected (a typo is a bug)."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    def to_json(self) -> dict[str, Any]:
        """The JSON body without unset fields."""
        return self.model_dump(mode="json", exclude_none=True)


class EndpointSettings(RequestModel):
    """Compute defaults of a project (``default_endpoint_settings``)."""

    autoscaling_limit_min_cu: float | None = None
    autoscaling_limit_max_cu: float | None = None
    suspend_timeout_seconds: int | None = None
    """-1 never suspends, 0 is Neon's default (300 s), else 60..604800."""
    pg_settings: dict[str, str] | None = None


class ProjectBranchSpec(RequestModel):
    """The default branch a new project starts with."""

    name: str | None = None
    role_name: str | None = None
    database_name: str | None = None
    annotations: dict[str, str] | None = None
    """String pairs (at most 50) Neon keeps on the branch; listed by ``list_branches``."""


class ProjectCreate(RequestModel):
    """``POST /projects``."""

    name: str | None = None
    region_id: str | None = None
    pg_version: int | None = None
    org_id: str | None = None
    branch: ProjectBranchSpec | None = None
    default_endpoint_settings: EndpointSettings | None = None
    settings: dict[str, Any] | None = None
    history_retention_seconds: int | None = None
    store_passwords: bool | None = None


class ProjectUpdate(RequestModel):
    """``PATCH /projects/{project_id}``."""

    name: str | None = None
    default_endpoint_settings: EndpointSettings | None = None
    settings: dict[str, Any] | None = None
    history_retention_seconds: int | None = None


class BranchCreate(RequestModel):
    """``POST /projects/{p}/branches`` ``branch`` part; at most one of ``parent_lsn`` /
    ``parent_timestamp`` (point-in-time branching)."""

    name: str | None = None
    parent_id: str | None = None
    parent_lsn: str | None = None
    parent_timestamp: datetime.datetime | None = None
    protected: bool | None = None
    init_source: Literal["parent-data", "schema-only"] | None = None


class EndpointSpec(RequestModel):
    """A compute to create together with a branch."""

    type: EndpointType = "read_write"
    autoscaling_limit_min_cu: float | None = None
    autoscaling_limit_max_cu: float | None = None
    suspend_timeout_seconds: int | None = None


class EndpointCreate(EndpointSpec):
    """``POST /projects/{p}/endpoints``."""

    branch_id: str
    name: str | None = None


class EndpointUpdate(RequestModel):
    """``PATCH /projects/{p}/endpoints/{e}``; changing min/max CU restarts the compute."""

    autoscaling_limit_min_cu: float | None = None
    autoscaling_limit_max_cu: float | None = None
    suspend_timeout_seconds: int | None = None
    disabled: bool | None = None
    name: str | None = None


class OAuthProviderChange(RequestModel):
    """Body of adding (with ``id``) or updating an OAuth provider; no client id and secret
    means Neon's shared keys."""

    id: str | None = None
    client_id: str | None = None
    client_secret: str | None = pydantic.Field(default=None, repr=False)
    microsoft_tenant_id: str | None = None


class DataApiSettings(RequestModel):
    """The Data API settings the operator manages (others keep Neon's values)."""

    db_anon_role: str | None = None
    db_schemas: list[str] | None = None
    server_cors_allowed_origins: str | None = None


class DataApiCreate(RequestModel):
    """Body of creating a database's Data API."""

    auth_provider: Literal["neon_auth", "external"] | None = None
    jwks_url: str | None = None
    jwt_audience: str | None = None
    add_default_grants: bool | None = None
    settings: DataApiSettings | None = None
