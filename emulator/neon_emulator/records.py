"""What the emulator remembers: one pydantic model per kind of stored thing.

Records hold Neon's fields plus a few private ones (an organization's caps, a snapshot's copy of
roles and databases, an operation's ``intent``). Rendering into Neon's JSON shapes is
:mod:`neon_emulator.views`' job; records never leave the process as they are.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

OperationStatus = Literal[
    "scheduling", "running", "finished", "failed", "error", "cancelling", "cancelled", "skipped"
]
TERMINAL_STATUSES: frozenset[str] = frozenset({"finished", "skipped", "cancelled"})
RUNNING_STATUSES: frozenset[str] = frozenset({"scheduling", "running", "cancelling"})


class Record(BaseModel):
    model_config = ConfigDict(validate_assignment=False, extra="ignore")


class User(Record):
    id: str
    email: str
    name: str
    created_at: str


class Organization(Record):
    id: str
    name: str
    handle: str
    plan: str
    created_at: str
    updated_at: str
    member_ids: list[str] = Field(default_factory=list)
    """Legacy (state written before :class:`Member` existed): moved into members at start."""
    projects_limit: int = 30_000
    snapshots_per_project: int = 100
    spending_limit_cents: int | None = None


MemberRole = Literal["admin", "member"]
"""The roles an emulated organization offers (Neon's enum lists more for other kinds of org)."""


class Member(Record):
    id: str
    org_id: str
    user_id: str
    role: MemberRole
    joined_at: str


class Invitation(Record):
    """Pending until a user with ``email`` exists; then accepted, and a :class:`Member`."""

    id: str
    org_id: str
    email: str
    role: MemberRole
    invited_by: str
    invited_at: str
    accepted_at: str | None = None


class ApiKey(Record):
    id: int
    key: str
    name: str
    created_at: str
    created_by: str
    org_id: str | None = None
    """``None`` for a personal key: it acts for its user in every organization they belong to."""
    project_id: str | None = None
    last_used_at: str | None = None
    last_used_from_addr: str = ""
    revoked: bool = False


class Permission(Record):
    """A project shared with whoever signs in with ``email`` (Neon's project collaborators)."""

    id: str
    project_id: str
    email: str
    granted_at: str


class TransferRequest(Record):
    id: str
    project_id: str
    created_at: str
    expires_at: str


class Jwks(Record):
    id: str
    project_id: str
    branch_id: str | None = None
    jwks_url: str
    provider_name: str
    jwt_audience: str | None = None
    role_names: list[str] = Field(default_factory=list)
    created_at: str
    updated_at: str


class VpcEndpoint(Record):
    """A VPC endpoint assigned to an organization in one region (``deleted``: removed, and never
    assignable again, as on Neon)."""

    id: str
    org_id: str
    region_id: str
    label: str
    deleted: bool = False

    @property
    def key(self) -> str:
        return f"{self.org_id}/{self.region_id}/{self.id}"


class VpcRestriction(Record):
    """A project accepts connections only from these VPC endpoints (nothing enforces it here)."""

    project_id: str
    vpc_endpoint_id: str
    label: str

    @property
    def key(self) -> str:
        return f"{self.project_id}/{self.vpc_endpoint_id}"


class BackupSchedule(Record):
    project_id: str
    branch_id: str
    schedule: list[dict[str, Any]] = Field(default_factory=list)


class Project(Record):
    id: str
    seq: int
    name: str
    org_id: str
    region_id: str
    pg_version: int
    provisioner: str
    store_passwords: bool
    history_retention_seconds: int
    default_endpoint_settings: dict[str, Any]
    settings: dict[str, Any]
    created_at: str
    updated_at: str
    creation_source: str = "console"
    deleted_at: str | None = None
    integrations: list[str] = Field(default_factory=list)
    """GitHub/Vercel integrations (set through the admin API) that block a transfer (422)."""
    compute_last_active_at: str | None = None


class Branch(Record):
    id: str
    project_id: str
    name: str
    parent_id: str | None = None
    parent_lsn: str | None = None
    parent_timestamp: str | None = None
    current_state: str = "init"
    pending_state: str | None = "ready"
    state_changed_at: str
    default: bool = False
    protected: bool = False
    created_at: str
    updated_at: str
    expires_at: str | None = None
    init_source: str | None = None
    restore_status: str | None = None
    restored_from: str | None = None
    restored_as: str | None = None
    restore_target_id: str | None = None
    """For a branch restored from a snapshot without finalizing: the branch it will replace."""
    last_reset_at: str | None = None
    head_lsn: int = 0x1DE2850
    written_data_bytes: int = 0
    """WAL the branch's compute has written (the data plane measures it; 0 without one)."""
    annotations: dict[str, str] = Field(default_factory=dict)
    deleted: bool = False
    deleted_at: str | None = None
    """When a deletion that may be undone happened (``None`` with ``deleted``: permanent)."""
    deleted_endpoints: list[dict[str, Any]] = Field(default_factory=list)
    """The endpoints a deletion removed, brought back (idle) if the branch is recovered."""


class Endpoint(Record):
    id: str
    project_id: str
    branch_id: str
    name: str | None = None
    type: str
    region_id: str
    autoscaling_limit_min_cu: float
    autoscaling_limit_max_cu: float
    suspend_timeout_seconds: int
    provisioner: str
    settings: dict[str, Any] = Field(default_factory=dict)
    current_state: str = "init"
    pending_state: str | None = "active"
    disabled: bool = False
    pooler_enabled: bool = False
    created_at: str
    updated_at: str
    started_at: str | None = None
    suspended_at: str | None = None
    last_active: str | None = None
    active_seconds: float = 0.0
    """Seconds spent active before the current activation (feeds consumption fields)."""


class Role(Record):
    project_id: str
    branch_id: str
    name: str
    password: str | None = None
    protected: bool = False
    no_login: bool = False
    created_at: str
    updated_at: str

    @property
    def key(self) -> str:
        return f"{self.branch_id}/{self.name}"


class Database(Record):
    id: int
    project_id: str
    branch_id: str
    name: str
    owner_name: str
    created_at: str
    updated_at: str

    @property
    def key(self) -> str:
        return f"{self.branch_id}/{self.name}"


class Operation(Record):
    id: str
    project_id: str
    branch_id: str | None = None
    endpoint_id: str | None = None
    action: str
    status: str = "scheduling"
    error: str | None = None
    failures_count: int = 0
    created_at: str
    updated_at: str
    total_duration_ms: int = 0
    batch_id: str
    seq: int
    """Order inside the batch (operations of one mutation run one after the other)."""
    started: float = 0.0
    intent: str = ""
    """What the emulator does when the operation runs, e.g. ``start_compute``, ``create_branch``."""
    subject: dict[str, Any] = Field(default_factory=dict)


class Snapshot(Record):
    id: str
    project_id: str
    name: str
    lsn: str | None = None
    timestamp: str | None = None
    source_branch_id: str | None = None
    created_at: str
    expires_at: str | None = None
    manual: bool = True
    full_size: int = 0
    roles: list[dict[str, Any]] = Field(default_factory=list)
    databases: list[dict[str, Any]] = Field(default_factory=list)


class NeonAuth(Record):
    """A branch's Neon Auth integration: keys, URLs and the configuration the auth server
    (:mod:`neon_emulator.neonauth`) honours. Users are not here: they live in the branch
    database's ``neon_auth`` schema (or, without a data plane, in ``users``)."""

    project_id: str
    branch_id: str
    auth_provider: str
    auth_provider_project_id: str
    pub_client_key: str
    secret_server_key: str
    db_name: str
    created_at: str
    owned_by: str = "neon"
    transfer_status: str | None = None
    name: str | None = None
    """The application name used in auth emails (``PATCH …/auth/config``)."""
    signing_key: dict[str, Any] = Field(default_factory=dict)
    """The private Ed25519 JWK that signs this integration's JWTs (served public at the JWKS)."""
    cookie_secret: str = ""
    """Signs session cookies, as Better Auth's ``secret`` does."""
    oauth_providers: list[dict[str, Any]] = Field(default_factory=list)
    domains: list[dict[str, Any]] = Field(default_factory=list)
    allow_localhost: bool = True
    email_and_password: dict[str, Any] = Field(default_factory=dict)
    email_provider: dict[str, Any] = Field(default_factory=dict)
    organization: dict[str, Any] = Field(default_factory=dict)
    magic_link: dict[str, Any] = Field(default_factory=dict)
    phone_number: dict[str, Any] = Field(default_factory=dict)
    webhooks: dict[str, Any] = Field(default_factory=dict)
    users: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Users created through the API when no data plane runs (``--no-postgres``), by id."""


class DataApi(Record):
    project_id: str
    branch_id: str
    database_name: str
    status: str = "active"
    settings: dict[str, Any] = Field(default_factory=dict)
    auth_provider: str | None = None
    jwks_url: str | None = None
    provider_name: str | None = None
    jwt_audience: str | None = None
    created_at: str

    @property
    def key(self) -> str:
        return f"{self.branch_id}/{self.database_name}"
