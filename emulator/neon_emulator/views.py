"""Records rendered as Neon's JSON shapes (``Project``, ``Branch``, ``Endpoint``, …).

Field names, required keys and value formats follow the official OpenAPI file; optional keys with
no value are left out rather than sent as ``null`` (Neon does the same).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from neon_emulator import clock, lookups, records
from neon_emulator.context import Context

LOGICAL_SIZE_BYTES = 30 * 1024 * 1024
"""Logical size reported for every branch: an empty Neon database is about 30 MiB."""

_BRANCH_SIZE_LIMIT_MIB = {"free_v2": 512, "free_v3": 512}
RECOVERY_WINDOW = timedelta(days=7)
"""Deleted projects stay recoverable this long."""


def _compact(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def _period(moment: datetime) -> tuple[str, str]:
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return clock.iso(start), clock.iso(end)


def active_seconds(endpoint: records.Endpoint, now: datetime) -> float:
    total = endpoint.active_seconds
    if endpoint.current_state == "active" and endpoint.started_at:
        total += max((now - clock.parse(endpoint.started_at)).total_seconds(), 0.0)
    return total


def compute_usage(endpoints: list[records.Endpoint], now: datetime) -> tuple[float, float]:
    """(active seconds, compute seconds) of ``endpoints``: compute time is CU-seconds at the
    minimum size (the emulator does not autoscale)."""
    active = 0.0
    compute = 0.0
    for endpoint in endpoints:
        seconds = active_seconds(endpoint, now)
        active += seconds
        compute += seconds * endpoint.autoscaling_limit_min_cu
    return active, compute


def usage(ctx: Context, project_id: str) -> dict[str, int]:
    """Current-period consumption of a project: its computes' active time and the WAL its
    branches wrote (deleted branches included: what they wrote was written)."""
    active, compute = compute_usage(ctx.store.endpoints.in_project(project_id), datetime.now(UTC))
    every_branch = ctx.store.branches.in_project(project_id)
    written = sum(b.written_data_bytes for b in every_branch)
    storage = LOGICAL_SIZE_BYTES * sum(1 for b in every_branch if not b.deleted)
    return {
        "active_time_seconds": int(active),
        "compute_time_seconds": int(compute),
        "written_data_bytes": written,
        "data_transfer_bytes": 0,
        "data_storage_bytes_hour": storage,
        "synthetic_storage_size": storage,
    }


def _project_common(ctx: Context, project: records.Project) -> dict[str, Any]:
    org = ctx.store.organizations.get(project.org_id)
    limit_mib = _BRANCH_SIZE_LIMIT_MIB.get(org.plan if org else "", 204_800)
    platform, _, _ = project.region_id.partition("-")
    return {
        "id": project.id,
        "platform_id": platform,
        "region_id": project.region_id,
        "name": project.name,
        "provisioner": project.provisioner,
        "default_endpoint_settings": project.default_endpoint_settings,
        "settings": project.settings,
        "pg_version": project.pg_version,
        "proxy_host": ctx.addresses.proxy_host(project.region_id),
        "branch_logical_size_limit": limit_mib,
        "branch_logical_size_limit_bytes": limit_mib * 1024 * 1024,
        "store_passwords": project.store_passwords,
        "creation_source": project.creation_source,
        "history_retention_seconds": project.history_retention_seconds,
        "created_at": project.created_at,
        "updated_at": project.updated_at,
        "owner_id": project.org_id,
        "org_id": project.org_id,
        "compute_last_active_at": project.compute_last_active_at,
    }


def project(ctx: Context, project: records.Project, *, detailed: bool = True) -> dict[str, Any]:
    """``Project``; ``detailed`` adds ``owner`` and real consumption periods (GET only)."""
    used = usage(ctx, project.id)
    body = _project_common(ctx, project)
    body.update(
        {
            "data_storage_bytes_hour": used["data_storage_bytes_hour"],
            "data_transfer_bytes": used["data_transfer_bytes"],
            "written_data_bytes": used["written_data_bytes"],
            "compute_time_seconds": used["compute_time_seconds"],
            "active_time_seconds": used["active_time_seconds"],
            "cpu_used_sec": used["compute_time_seconds"],
            "synthetic_storage_size": used["synthetic_storage_size"],
            "consumption_period_start": clock.ZERO_TIME,
            "consumption_period_end": clock.ZERO_TIME,
        }
    )
    if detailed:
        start, end = _period(clock.now())
        body["consumption_period_start"] = start
        body["consumption_period_end"] = end
        org = ctx.store.organizations.get(project.org_id)
        user = next(iter(ctx.store.users), None)
        body["owner"] = {
            "email": user.email if user else "emulator@example.com",
            "name": org.name if org else "",
            "branches_limit": 5000,
            "subscription_type": org.plan if org else "UNKNOWN",
        }
    return _compact(body)


def project_item(ctx: Context, project: records.Project) -> dict[str, Any]:
    """``ProjectListItem``."""
    used = usage(ctx, project.id)
    body = _project_common(ctx, project)
    org = ctx.store.organizations.get(project.org_id)
    body.update(
        {
            "active_time": used["active_time_seconds"],
            "cpu_used_sec": used["compute_time_seconds"],
            "synthetic_storage_size": used["synthetic_storage_size"],
            "org_name": org.name if org else None,
            "deleted_at": project.deleted_at,
        }
    )
    if project.deleted_at is not None:
        deleted = clock.parse(project.deleted_at)
        body["recoverable_until"] = clock.iso(deleted + RECOVERY_WINDOW)
    return _compact(body)


def branch(ctx: Context, branch: records.Branch) -> dict[str, Any]:
    """``Branch``; its consumption is that of the computes now on it and the WAL it wrote."""
    endpoints = lookups.branch_endpoints(ctx.store, branch)
    active, compute = compute_usage(endpoints, datetime.now(UTC))
    return _compact(
        {
            "id": branch.id,
            "project_id": branch.project_id,
            "parent_id": branch.parent_id,
            "parent_lsn": branch.parent_lsn,
            "parent_timestamp": branch.parent_timestamp,
            "name": branch.name,
            "current_state": branch.current_state,
            "pending_state": branch.pending_state,
            "state_changed_at": branch.state_changed_at,
            "logical_size": LOGICAL_SIZE_BYTES,
            "creation_source": "console",
            "primary": branch.default,
            "default": branch.default,
            "protected": branch.protected,
            "cpu_used_sec": int(compute),
            "compute_time_seconds": int(compute),
            "active_time_seconds": int(active),
            "written_data_bytes": branch.written_data_bytes,
            "data_transfer_bytes": 0,
            "created_at": branch.created_at,
            "updated_at": branch.updated_at,
            "expires_at": branch.expires_at,
            "last_reset_at": branch.last_reset_at,
            "created_by": {"name": "emulator", "image": ""},
            "init_source": branch.init_source or "parent-data",
            "restore_status": branch.restore_status,
            "restored_from": branch.restored_from,
            "restored_as": branch.restored_as,
            "recovery": _recovery(branch),
        }
    )


def _recovery(branch: records.Branch) -> dict[str, Any] | None:
    """``BranchRecoveryInfo`` of a deleted branch that can still be recovered."""
    if not branch.deleted or branch.deleted_at is None:
        return None
    deleted = clock.parse(branch.deleted_at)
    return {
        "deleted_at": branch.deleted_at,
        "recoverable_until": clock.iso(deleted + RECOVERY_WINDOW),
        "deletion_method": "user",
    }


def annotation(branch: records.Branch) -> dict[str, Any]:
    return {
        "object": {"type": "console/branch", "id": branch.id},
        "value": dict(branch.annotations),
        "created_at": branch.created_at,
        "updated_at": branch.updated_at,
    }


def endpoint(ctx: Context, endpoint: records.Endpoint) -> dict[str, Any]:
    return _compact(
        {
            "host": ctx.addresses.host(endpoint),
            "id": endpoint.id,
            "name": endpoint.name,
            "project_id": endpoint.project_id,
            "branch_id": endpoint.branch_id,
            "autoscaling_limit_min_cu": endpoint.autoscaling_limit_min_cu,
            "autoscaling_limit_max_cu": endpoint.autoscaling_limit_max_cu,
            "region_id": endpoint.region_id,
            "type": endpoint.type,
            "current_state": endpoint.current_state,
            "pending_state": endpoint.pending_state,
            "settings": endpoint.settings,
            "pooler_enabled": endpoint.pooler_enabled,
            "pooler_mode": "transaction",
            "disabled": endpoint.disabled,
            "passwordless_access": False,
            "last_active": endpoint.last_active,
            "creation_source": "console",
            "created_at": endpoint.created_at,
            "updated_at": endpoint.updated_at,
            "started_at": endpoint.started_at,
            "suspended_at": endpoint.suspended_at,
            "proxy_host": ctx.addresses.proxy_host(endpoint.region_id),
            "suspend_timeout_seconds": endpoint.suspend_timeout_seconds,
            "provisioner": endpoint.provisioner,
        }
    )


def role(role: records.Role, *, with_password: bool = False) -> dict[str, Any]:
    return _compact(
        {
            "branch_id": role.branch_id,
            "name": role.name,
            "password": role.password if with_password else None,
            "protected": role.protected,
            "authentication_method": "no_login" if role.no_login else "password",
            "created_at": role.created_at,
            "updated_at": role.updated_at,
        }
    )


def database(database: records.Database) -> dict[str, Any]:
    return {
        "id": database.id,
        "branch_id": database.branch_id,
        "name": database.name,
        "owner_name": database.owner_name,
        "created_at": database.created_at,
        "updated_at": database.updated_at,
    }


def operation(op: records.Operation) -> dict[str, Any]:
    return _compact(
        {
            "id": op.id,
            "project_id": op.project_id,
            "branch_id": op.branch_id,
            "endpoint_id": op.endpoint_id,
            "action": op.action,
            "status": op.status,
            "error": op.error,
            "failures_count": op.failures_count,
            "created_at": op.created_at,
            "updated_at": op.updated_at,
            "total_duration_ms": op.total_duration_ms,
        }
    )


def operations(ops: list[records.Operation]) -> list[dict[str, Any]]:
    return [operation(op) for op in ops]


def snapshot(snapshot: records.Snapshot) -> dict[str, Any]:
    return _compact(
        {
            "id": snapshot.id,
            "name": snapshot.name,
            "lsn": snapshot.lsn,
            "timestamp": snapshot.timestamp,
            "source_branch_id": snapshot.source_branch_id,
            "created_at": snapshot.created_at,
            "expires_at": snapshot.expires_at,
            "manual": snapshot.manual,
            "full_size": snapshot.full_size,
        }
    )


def organization(org: records.Organization) -> dict[str, Any]:
    return {
        "id": org.id,
        "name": org.name,
        "handle": org.handle,
        "plan": org.plan,
        "created_at": org.created_at,
        "updated_at": org.updated_at,
        "managed_by": "console",
        "allow_hipaa_projects": False,
        "require_mfa": False,
    }


def connection(
    ctx: Context,
    endpoint: records.Endpoint,
    role: records.Role,
    database: records.Database,
) -> dict[str, Any]:
    """``ConnectionDetails`` for one endpoint, role and database."""
    password = role.password or ""
    host = ctx.addresses.address(endpoint, pooled=False)
    return {
        "connection_uri": ctx.addresses.uri(endpoint, role.name, password, database.name, False),
        "connection_parameters": {
            "database": database.name,
            "password": password,
            "role": role.name,
            "host": host,
            "pooler_host": ctx.addresses.address(endpoint, pooled=True),
        },
    }


def _scoped(body: dict[str, Any], key: records.ApiKey) -> dict[str, Any]:
    if key.project_id is not None:
        body["project_id"] = key.project_id
    return body


def api_key(ctx: Context, key: records.ApiKey) -> dict[str, Any]:
    """An item of a key listing (no secret)."""
    user = ctx.store.users.get(key.created_by)
    return _scoped(
        {
            "id": key.id,
            "name": key.name,
            "created_at": key.created_at,
            "created_by": {"id": key.created_by, "name": user.name if user else "", "image": ""},
            "last_used_at": key.last_used_at,
            "last_used_from_addr": key.last_used_from_addr,
        },
        key,
    )


def api_key_created(key: records.ApiKey) -> dict[str, Any]:
    """The create response: the only time the key's secret is shown."""
    return _scoped(
        {
            "id": key.id,
            "key": key.key,
            "name": key.name,
            "created_at": key.created_at,
            "created_by": key.created_by,
        },
        key,
    )


def api_key_revoked(key: records.ApiKey) -> dict[str, Any]:
    return _scoped(
        {
            "id": key.id,
            "name": key.name,
            "created_at": key.created_at,
            "created_by": key.created_by,
            "last_used_at": key.last_used_at,
            "last_used_from_addr": key.last_used_from_addr,
            "revoked": True,
        },
        key,
    )


def member(member: records.Member) -> dict[str, Any]:
    return {
        "id": member.id,
        "user_id": member.user_id,
        "org_id": member.org_id,
        "role": member.role,
        "joined_at": member.joined_at,
    }


def invitation(invitation: records.Invitation) -> dict[str, Any]:
    return {
        "id": invitation.id,
        "email": invitation.email,
        "org_id": invitation.org_id,
        "invited_by": invitation.invited_by,
        "invited_at": invitation.invited_at,
        "role": invitation.role,
    }


def permission(permission: records.Permission, revoked_at: str | None = None) -> dict[str, Any]:
    return _compact(
        {
            "id": permission.id,
            "granted_to_email": permission.email,
            "granted_at": permission.granted_at,
            "revoked_at": revoked_at,
        }
    )


def transfer_request(ticket: records.TransferRequest) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "project_id": ticket.project_id,
        "created_at": ticket.created_at,
        "expires_at": ticket.expires_at,
    }


def jwks(jwks: records.Jwks) -> dict[str, Any]:
    return _compact(
        {
            "id": jwks.id,
            "project_id": jwks.project_id,
            "branch_id": jwks.branch_id,
            "jwks_url": jwks.jwks_url,
            "provider_name": jwks.provider_name,
            "created_at": jwks.created_at,
            "updated_at": jwks.updated_at,
            "jwt_audience": jwks.jwt_audience,
            "role_names": jwks.role_names,
        }
    )


def vpc_endpoint(endpoint: records.VpcEndpoint | records.VpcRestriction) -> dict[str, Any]:
    if isinstance(endpoint, records.VpcRestriction):
        return {"vpc_endpoint_id": endpoint.vpc_endpoint_id, "label": endpoint.label}
    return {"vpc_endpoint_id": endpoint.id, "label": endpoint.label}
