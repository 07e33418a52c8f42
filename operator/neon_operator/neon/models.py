"""Pydantic models of the Neon API v2 JSON the operator reads.

Field names follow Neon's snake_case wire format. Models are frozen and ignore unknown fields, so
a newer Neon (or the emulator) adding keys never breaks parsing; fields the contract marks
required and the operator relies on are required here, the rest default to ``None``.

Secrets (role passwords, connection URIs) are :class:`pydantic.SecretStr`: their ``repr`` and
``str`` print ``**********``, so a model logged by accident leaks nothing. Call
``.get_secret_value()`` where the value is really needed (rendering a Kubernetes Secret).
"""

from __future__ import annotations

import datetime
from typing import Any, Final

import pydantic
from pydantic import SecretStr

__all__ = [
    "FAILED_STATUSES",
    "SUCCEEDED_STATUSES",
    "Branch",
    "BranchPage",
    "BranchResult",
    "ConnectionDetails",
    "ConnectionParameters",
    "ConsumptionPeriod",
    "ConsumptionTimeframe",
    "CreatedBranch",
    "CreatedProject",
    "DataApi",
    "Database",
    "DefaultEndpointSettings",
    "EmailAndPassword",
    "Endpoint",
    "EndpointResult",
    "NeonAuth",
    "NeonAuthCreated",
    "NeonModel",
    "OAuthProvider",
    "Operation",
    "Project",
    "ProjectConsumption",
    "ProjectListItem",
    "ProjectPage",
    "ProjectResult",
    "RestoredSnapshot",
    "Role",
    "RoleResult",
    "Snapshot",
    "SnapshotResult",
]

SUCCEEDED_STATUSES: Final = frozenset({"finished", "skipped"})
"""Operation statuses after which the resource is usable."""
FAILED_STATUSES: Final = frozenset({"failed", "error", "cancelled"})
"""Operation statuses that end a wait with :class:`~neon_operator.neon.errors.OperationFailed`.

Any other status (``scheduling``, ``running``, ``cancelling``, or one Neon adds later) means
"keep polling".
"""

Timestamp = datetime.datetime


class NeonModel(pydantic.BaseModel):
    """Base of every Neon response model: frozen, tolerant of unknown fields."""

    model_config = pydantic.ConfigDict(frozen=True, extra="ignore")


class Operation(NeonModel):
    """A control-plane job started by a mutation (``create_timeline``, ``start_compute`` …)."""

    id: str
    project_id: str
    branch_id: str | None = None
    endpoint_id: str | None = None
    action: str
    status: str
    error: str | None = None
    failures_count: int = 0
    retry_at: Timestamp | None = None
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    total_duration_ms: int | None = None

    @property
    def succeeded(self) -> bool:
        """Finished or skipped: nothing left to wait for."""
        return self.status in SUCCEEDED_STATUSES

    @property
    def failed(self) -> bool:
        """Failed, errored or cancelled: waiting longer will not make it succeed."""
        return self.status in FAILED_STATUSES


class DefaultEndpointSettings(NeonModel):
    """Compute settings new endpoints of a project start with."""

    autoscaling_limit_min_cu: float | None = None
    autoscaling_limit_max_cu: float | None = None
    suspend_timeout_seconds: int | None = None
    pg_settings: dict[str, str] | None = None


class _ProjectBase(NeonModel):
    id: str
    name: str
    region_id: str
    pg_version: int
    proxy_host: str
    platform_id: str | None = None
    org_id: str | None = None
    owner_id: str | None = None
    store_passwords: bool | None = None
    history_retention_seconds: int | None = None
    default_endpoint_settings: DefaultEndpointSettings | None = None
    settings: dict[str, Any] | None = None
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    compute_last_active_at: Timestamp | None = None
    synthetic_storage_size: int | None = None


class Project(_ProjectBase):
    """``GET /projects/{id}``: a project with its current-period consumption."""

    active_time_seconds: int = 0
    compute_time_seconds: int = 0
    written_data_bytes: int = 0
    data_transfer_bytes: int = 0
    data_storage_bytes_hour: int = 0
    consumption_period_start: Timestamp | None = None
    consumption_period_end: Timestamp | None = None


class ProjectListItem(_ProjectBase):
    """One project of ``GET /projects``."""

    active_time: int = 0
    org_name: str | None = None
    deleted_at: Timestamp | None = None
    recoverable_until: Timestamp | None = None


class Branch(NeonModel):
    """A branch: a copy-on-write timeline of the project's data."""

    id: str
    project_id: str
    name: str
    parent_id: str | None = None
    parent_lsn: str | None = None
    parent_timestamp: Timestamp | None = None
    current_state: str
    pending_state: str | None = None
    default: bool = False
    protected: bool = False
    logical_size: int | None = None
    init_source: str | None = None
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    expires_at: Timestamp | None = None
    restore_status: str | None = None
    restored_from: str | None = None
    restored_as: str | None = None
    annotations: dict[str, str] = {}
    """The branch's annotation values. Neon lists them beside the branches (keyed by branch id)
    rather than inside them; the client copies each branch's values here."""


class Endpoint(NeonModel):
    """A compute serving one branch; ``host`` starts with the endpoint id."""

    id: str
    project_id: str
    branch_id: str
    host: str
    type: str
    current_state: str
    pending_state: str | None = None
    region_id: str | None = None
    name: str | None = None
    autoscaling_limit_min_cu: float
    autoscaling_limit_max_cu: float
    suspend_timeout_seconds: int = 0
    disabled: bool = False
    settings: dict[str, Any] | None = None
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    last_active: Timestamp | None = None
    started_at: Timestamp | None = None
    suspended_at: Timestamp | None = None

    @property
    def pooler_host(self) -> str:
        """The PgBouncer host: the endpoint id label gains ``-pooler`` (as neonctl derives it)."""
        return self.host.replace(self.id, f"{self.id}-pooler", 1)


class Role(NeonModel):
    """A Postgres role; ``password`` is present only in create / reset responses."""

    branch_id: str
    name: str
    password: SecretStr | None = None
    protected: bool = False
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None


class Database(NeonModel):
    """A Postgres database of a branch."""

    id: int
    branch_id: str
    name: str
    owner_name: str
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None


class ConnectionParameters(NeonModel):
    """The parts of a connection URI, as create responses return them."""

    database: str
    role: str
    host: str
    pooler_host: str
    password: SecretStr


class ConnectionDetails(NeonModel):
    """One ``connection_uris`` entry of a create response (unpooled URI + its parts)."""

    connection_uri: SecretStr
    connection_parameters: ConnectionParameters


class Snapshot(NeonModel):
    """A point-in-time checkpoint of a root branch."""

    id: str
    name: str
    lsn: str | None = None
    timestamp: Timestamp | None = None
    source_branch_id: str | None = None
    created_at: Timestamp | None = None
    expires_at: Timestamp | None = None
    manual: bool | None = None
    full_size: int | None = None
    diff_size: int | None = None


class CreatedProject(NeonModel):
    """``POST /projects``: everything needed to connect without another call."""

    project: Project
    branch: Branch
    endpoints: list[Endpoint]
    roles: list[Role]
    databases: list[Database]
    connection_uris: list[ConnectionDetails]
    operations: list[Operation]


class CreatedBranch(NeonModel):
    """``POST /projects/{p}/branches``; ``connection_uris`` is absent when ambiguous."""

    branch: Branch
    endpoints: list[Endpoint] = []
    roles: list[Role] = []
    databases: list[Database] = []
    connection_uris: list[ConnectionDetails] = []
    operations: list[Operation] = []


class ProjectResult(NeonModel):
    """A project mutation's outcome."""

    project: Project
    operations: list[Operation] = []


class BranchResult(NeonModel):
    """A branch mutation's outcome."""

    branch: Branch
    operations: list[Operation] = []


class EndpointResult(NeonModel):
    """An endpoint mutation's outcome."""

    endpoint: Endpoint
    operations: list[Operation] = []


class RoleResult(NeonModel):
    """A role mutation's outcome (``reset_password`` carries the new password)."""

    role: Role
    operations: list[Operation] = []


class SnapshotResult(NeonModel):
    """``POST …/snapshot``."""

    snapshot: Snapshot
    operations: list[Operation] = []


class RestoredSnapshot(NeonModel):
    """``POST …/snapshots/{id}/restore``: the branch holding the snapshot's data."""

    branch: Branch
    endpoints: list[Endpoint] = []
    operations: list[Operation] = []


class ProjectPage(NeonModel):
    """One page of ``GET /projects``; ``cursor`` continues after it (absent at the end)."""

    projects: list[ProjectListItem]
    cursor: str | None = None


class ConsumptionTimeframe(NeonModel):
    """One timeframe of ``GET /consumption_history/projects`` (the v1 metrics; 0 when not asked)."""

    timeframe_start: Timestamp
    timeframe_end: Timestamp
    active_time_seconds: int = 0
    compute_time_seconds: int = 0
    written_data_bytes: int = 0
    synthetic_storage_size_bytes: int = 0


class ConsumptionPeriod(NeonModel):
    """One billing period of a project's consumption history, its timeframes oldest first."""

    period_id: str
    period_plan: str
    period_start: Timestamp
    period_end: Timestamp | None = None
    consumption: list[ConsumptionTimeframe] = []


class ProjectConsumption(NeonModel):
    """The consumption history of one project."""

    project_id: str
    periods: list[ConsumptionPeriod] = []


class BranchPage(NeonModel):
    """One page of ``GET /projects/{p}/branches``; ``next`` is Neon's opaque continuation."""

    branches: list[Branch]
    next: str | None = None


# -- Neon Auth and the Data API (a branch's integrations) ---------------------------------


class NeonAuthCreated(NeonModel):
    """``POST …/auth``: the only response that carries the SDK keys."""

    auth_provider: str
    auth_provider_project_id: str
    pub_client_key: SecretStr
    secret_server_key: SecretStr
    jwks_url: str
    base_url: str | None = None
    """The auth server (Better Auth integrations only)."""


class NeonAuth(NeonModel):
    """``GET …/auth``: the integration without its keys."""

    auth_provider: str
    auth_provider_project_id: str | None = None
    branch_id: str | None = None
    db_name: str | None = None
    jwks_url: str | None = None
    base_url: str | None = None


class OAuthProvider(NeonModel):
    """An OAuth provider of Neon Auth: ``shared`` (Neon's keys) or ``standard`` (yours)."""

    id: str
    type: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    """Neon may echo the secret; kept secret here."""


class EmailAndPassword(NeonModel):
    """Email-and-password sign-in settings (only ``enabled`` is read)."""

    enabled: bool = True


class DataApi(NeonModel):
    """``GET …/data-api/{database}``."""

    url: str
    status: str | None = None
    settings: dict[str, Any] = pydantic.Field(default_factory=dict)
