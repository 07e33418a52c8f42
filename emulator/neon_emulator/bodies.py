"""Request bodies, typed, and how a bad one is reported.

Neon decodes bodies strictly and answers 400 with a message that names the field::

    invalid request: decode application/json: invalid: project (field required)

:func:`parse` produces the same shape, with a dotted path to the offending field
(``invalid: project.pg_version (value 13 is less than minimum 14)``). Unknown fields are ignored.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from neon_emulator import errors

M = TypeVar("M", bound=BaseModel)

ComputeUnit = Annotated[float, Field(ge=0.25)]
SuspendTimeout = Annotated[int, Field(ge=-1, le=604_800)]
PgVersion = Annotated[int, Field(ge=14, le=18)]
Name = Annotated[str, Field(min_length=1, max_length=256)]
Id = Annotated[str, Field(pattern=r"^[a-z0-9-]{1,60}$")]
Email = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^@\s]+@[^@\s]+$")]
EndpointType = Literal["read_write", "read_only"]


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class DefaultEndpointSettings(Body):
    pg_settings: dict[str, str] | None = None
    pgbouncer_settings: dict[str, str] | None = None
    autoscaling_limit_min_cu: ComputeUnit | None = None
    autoscaling_limit_max_cu: ComputeUnit | None = None
    suspend_timeout_seconds: SuspendTimeout | None = None


class EndpointSettings(Body):
    pg_settings: dict[str, str] | None = None
    pgbouncer_settings: dict[str, str] | None = None
    preload_libraries: dict[str, Any] | None = None


class ProjectBranchSpec(Body):
    name: Name | None = None
    role_name: Annotated[str, Field(min_length=1, max_length=63)] | None = None
    database_name: Annotated[str, Field(min_length=1, max_length=63)] | None = None
    annotations: dict[str, str] | None = None


class ProjectSpec(Body):
    name: Name | None = None
    region_id: str | None = None
    pg_version: PgVersion | None = None
    org_id: Id | None = None
    provisioner: str | None = None
    branch: ProjectBranchSpec | None = None
    default_endpoint_settings: DefaultEndpointSettings | None = None
    settings: dict[str, Any] | None = None
    history_retention_seconds: Annotated[int, Field(ge=0, le=2_592_000)] | None = None
    store_passwords: bool | None = None
    autoscaling_limit_min_cu: ComputeUnit | None = None
    autoscaling_limit_max_cu: ComputeUnit | None = None


class ProjectCreate(Body):
    project: ProjectSpec


class ProjectPatch(Body):
    name: Name | None = None
    settings: dict[str, Any] | None = None
    default_endpoint_settings: DefaultEndpointSettings | None = None
    history_retention_seconds: Annotated[int, Field(ge=0, le=2_592_000)] | None = None


class ProjectUpdate(Body):
    project: ProjectPatch


class BranchSpec(Body):
    parent_id: Id | None = None
    name: Name | None = None
    parent_lsn: str | None = None
    parent_timestamp: str | None = None
    protected: bool | None = None
    archived: bool | None = None
    init_source: Literal["parent-data", "schema-only"] | None = None
    expires_at: str | None = None


class BranchEndpointSpec(Body):
    type: EndpointType
    autoscaling_limit_min_cu: ComputeUnit | None = None
    autoscaling_limit_max_cu: ComputeUnit | None = None
    suspend_timeout_seconds: SuspendTimeout | None = None
    provisioner: str | None = None
    settings: EndpointSettings | None = None


class BranchCreate(Body):
    branch: BranchSpec | None = None
    endpoints: list[BranchEndpointSpec] | None = None
    annotation_value: dict[str, str] | None = None


class BranchPatch(Body):
    name: Name | None = None
    protected: bool | None = None
    expires_at: str | None = None


class BranchUpdate(Body):
    branch: BranchPatch


class BranchRestore(Body):
    source_branch_id: Id
    source_lsn: str | None = None
    source_timestamp: str | None = None
    preserve_under_name: Name | None = None


class EndpointSpec(Body):
    branch_id: Id
    type: EndpointType
    region_id: str | None = None
    name: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    autoscaling_limit_min_cu: ComputeUnit | None = None
    autoscaling_limit_max_cu: ComputeUnit | None = None
    suspend_timeout_seconds: SuspendTimeout | None = None
    provisioner: str | None = None
    settings: EndpointSettings | None = None
    disabled: bool | None = None
    passwordless_access: bool | None = None
    pooler_enabled: bool | None = None
    pooler_mode: Literal["transaction"] | None = None


class EndpointCreate(Body):
    endpoint: EndpointSpec


class EndpointPatch(Body):
    branch_id: Id | None = None
    name: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    autoscaling_limit_min_cu: ComputeUnit | None = None
    autoscaling_limit_max_cu: ComputeUnit | None = None
    suspend_timeout_seconds: SuspendTimeout | None = None
    provisioner: str | None = None
    settings: EndpointSettings | None = None
    disabled: bool | None = None
    passwordless_access: bool | None = None
    pooler_enabled: bool | None = None
    pooler_mode: Literal["transaction"] | None = None


class EndpointUpdate(Body):
    endpoint: EndpointPatch


class RoleSpec(Body):
    name: Annotated[str, Field(min_length=1)]
    no_login: bool | None = None


class RoleCreate(Body):
    role: RoleSpec


class DatabaseSpec(Body):
    name: Annotated[str, Field(min_length=1, max_length=63)]
    owner_name: Annotated[str, Field(min_length=1)]


class DatabaseCreate(Body):
    database: DatabaseSpec


class DatabasePatch(Body):
    name: Annotated[str, Field(min_length=1, max_length=63)] | None = None
    owner_name: Annotated[str, Field(min_length=1)] | None = None


class DatabaseUpdate(Body):
    database: DatabasePatch


class SnapshotCreate(Body):
    """Snapshot parameters; the spec puts them in the query, Neon's docs in a JSON body."""

    lsn: str | None = None
    timestamp: str | None = None
    name: str | None = None
    expires_at: str | None = None


class SnapshotPatch(Body):
    name: str | None = None


class SnapshotUpdate(Body):
    snapshot: SnapshotPatch


class SnapshotRestore(Body):
    name: str | None = None
    target_branch_id: str | None = None
    finalize_restore: bool = False


class FinalizeRestore(Body):
    name: str | None = None


class ProjectTransfer(Body):
    destination_org_id: Id
    project_ids: Annotated[list[Id], Field(min_length=1, max_length=400)]


class ApiKeyCreate(Body):
    key_name: Annotated[str, Field(min_length=1, max_length=64)]
    project_id: Id | None = None


MemberRole = Literal["admin", "member"]


class MemberUpdate(Body):
    role: MemberRole


class InvitationCreate(Body):
    email: Email
    role: MemberRole


class InvitationsCreate(Body):
    invitations: list[InvitationCreate]


class TransferRequestCreate(Body):
    ttl_seconds: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None


class TransferRequestAccept(Body):
    org_id: Id | None = None


class PermissionGrant(Body):
    email: Email


class JwksAdd(Body):
    jwks_url: Annotated[str, Field(min_length=1)]
    provider_name: Annotated[str, Field(min_length=1)]
    branch_id: Id | None = None
    jwt_audience: str | None = None
    role_names: Annotated[list[str], Field(max_length=10)] | None = None
    skip_role_creation: bool = False


class VpcEndpointAssignment(Body):
    label: str


class SpendingLimitUpdate(Body):
    spending_limit_cents: Annotated[int, Field(ge=1)]


class BackupScheduleItem(Body):
    frequency: Literal["hourly", "daily", "weekly", "monthly", "yearly"]
    hour: Annotated[int, Field(ge=0, le=23)] | None = None
    day: Annotated[int, Field(ge=1, le=31)] | None = None
    month: Annotated[int, Field(ge=1, le=12)] | None = None
    retention_seconds: Annotated[int, Field(ge=3600)] | None = None


class BackupSchedule(Body):
    schedule: list[BackupScheduleItem]


AuthProvider = Literal["mock", "stack", "better_auth"]
OAuthProviderId = Literal["google", "github", "microsoft", "vercel"]


class NeonAuthEnable(Body):
    auth_provider: AuthProvider
    database_name: str | None = None


class NeonAuthLegacyCreate(Body):
    auth_provider: AuthProvider
    project_id: Id
    branch_id: Id
    database_name: str | None = None
    role_name: str | None = None


class NeonAuthKeys(Body):
    project_id: Id
    auth_provider: AuthProvider


class NeonAuthDisable(Body):
    delete_data: bool = False


class OAuthProviderAdd(Body):
    id: OAuthProviderId
    client_id: str | None = None
    client_secret: str | None = None
    microsoft_tenant_id: str | None = None


class OAuthProviderUpdate(Body):
    client_id: str | None = None
    client_secret: str | None = None
    microsoft_tenant_id: str | None = None


class DomainAdd(Body):
    domain: Annotated[str, Field(min_length=1)]
    auth_provider: AuthProvider | None = None


class DomainRef(Body):
    domain: Annotated[str, Field(min_length=1)]


class DomainsDelete(Body):
    domains: list[DomainRef]
    auth_provider: AuthProvider | None = None


UserName = Annotated[str, Field(min_length=1, max_length=255)]


class AuthUserCreate(Body):
    email: Email
    name: UserName | None = None


class LegacyAuthUserCreate(Body):
    project_id: Id
    auth_provider: AuthProvider
    email: Email
    name: UserName | None = None


class AuthUserRoles(Body):
    roles: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]


class TransferOwnership(Body):
    project_id: Id
    auth_provider: AuthProvider


VerificationMethod = Literal["link", "otp"]


class EmailAndPasswordUpdate(Body):
    enabled: bool | None = None
    email_verification_method: VerificationMethod | None = None
    require_email_verification: bool | None = None
    auto_sign_in_after_verification: bool | None = None
    send_verification_email_on_sign_up: bool | None = None
    send_verification_email_on_sign_in: bool | None = None
    disable_sign_up: bool | None = None


class EmailServer(Body):
    """``NeonAuthEmailServerConfig``: ``type`` picks ``standard`` (your SMTP server, every field
    required) or ``shared`` (Neon's sender, optional names)."""

    type: Literal["standard", "shared"]
    host: str | None = None
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    username: str | None = None
    password: str | None = None
    sender_email: str | None = None
    sender_name: str | None = None


class TestEmail(Body):
    host: str
    port: Annotated[int, Field(ge=1, le=65535)]
    username: str
    password: str
    sender_email: str
    sender_name: str
    recipient_email: Email


class AllowLocalhost(Body):
    allow_localhost: bool


class OrganizationPluginUpdate(Body):
    enabled: bool | None = None
    organization_limit: Annotated[int, Field(ge=1)] | None = None
    membership_limit: Annotated[int, Field(ge=1)] | None = None
    creator_role: Literal["admin", "owner"] | None = None
    send_invitation_email: bool | None = None


class MagicLinkPluginUpdate(Body):
    enabled: bool | None = None
    expires_in: Annotated[int, Field(ge=5, le=1440)] | None = None
    disable_sign_up: bool | None = None


class PhoneNumberPluginUpdate(Body):
    enabled: bool | None = None
    otp_expires_in: Annotated[int, Field(ge=60, le=600)] | None = None


class AuthConfigUpdate(Body):
    name: Annotated[str, Field(min_length=1, max_length=256)]


WebhookEvent = Literal[
    "user.before_create",
    "user.created",
    "send.otp",
    "send.magic_link",
    "organization.invitation.created",
    "organization.invitation.accepted",
    "phone_number.verified",
]


class WebhookConfig(Body):
    enabled: bool
    webhook_url: str | None = None
    enabled_events: list[WebhookEvent] | None = None
    timeout_seconds: Annotated[int, Field(ge=1, le=10)] | None = None


class DataApiSettings(Body):
    db_aggregates_enabled: bool | None = None
    db_anon_role: str | None = None
    db_extra_search_path: str | None = None
    db_max_rows: int | None = None
    db_schemas: list[str] | None = None
    jwt_role_claim_key: str | None = None
    jwt_cache_max_lifetime: int | None = None
    openapi_mode: str | None = None
    server_cors_allowed_origins: str | None = None
    server_timing_enabled: bool | None = None


class DataApiCreate(Body):
    auth_provider: Literal["neon_auth", "external"] | None = None
    jwks_url: str | None = None
    provider_name: str | None = None
    jwt_audience: str | None = None
    add_default_grants: bool = False
    skip_auth_schema: bool = False
    settings: DataApiSettings | None = None


class DataApiUpdate(Body):
    settings: DataApiSettings | None = None


PREFIX = "invalid request: decode application/json: "


def _describe(error: dict[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if kind == "missing":
        return "field required"
    if kind in {"greater_than_equal", "greater_than"}:
        return f"value {value!r} is less than minimum {ctx.get('ge', ctx.get('gt'))}"
    if kind in {"less_than_equal", "less_than"}:
        return f"value {value!r} is greater than maximum {ctx.get('le', ctx.get('lt'))}"
    if kind == "too_long":
        return f"too long: at most {ctx.get('max_length')} allowed"
    if kind == "too_short":
        return f"too short: at least {ctx.get('min_length')} required"
    if kind == "string_pattern_mismatch":
        return f"string {value!r} does not match pattern {ctx.get('pattern')}"
    if kind == "literal_error":
        return f"invalid value {value!r}: expected {ctx.get('expected')}"
    return str(error["msg"]).lower()


def describe(exc: ValidationError) -> str:
    """Turn pydantic's complaint into Neon's 400 message, naming the field."""
    first = exc.errors()[0]
    path = ".".join(str(part) for part in first["loc"])
    return f"{PREFIX}invalid: {path or 'body'} ({_describe(dict(first))})"


def validate(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise errors.BadRequest(describe(exc)) from None


async def read_json(request: web.Request) -> Any:
    """The decoded body, or ``None`` when there is none."""
    raw = await request.read()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.BadRequest(f"{PREFIX}{exc}") from None


async def parse(request: web.Request, model: type[M], *, optional: bool = False) -> M:
    """Decode and validate the body; an absent body counts as ``{}`` when ``optional``."""
    data = await read_json(request)
    if data is None:
        if not optional:
            raise errors.BadRequest(f"{PREFIX}empty request body")
        data = {}
    if not isinstance(data, dict):
        raise errors.BadRequest(f"{PREFIX}invalid: body (expected a JSON object)")
    return validate(model, data)
