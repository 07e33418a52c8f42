"""Building blocks shared by the routes that create things.

Project creation, branch creation and snapshot restore all make branches with roles and
databases; several routes make endpoints. These functions create the records (after the caller
validated the request) and never schedule operations themselves -- the route decides which
operations a mutation returns.
"""

from __future__ import annotations

from typing import Any

from neon_emulator import clock, compute, errors, ids, lookups, records, views
from neon_emulator.context import Context
from neon_emulator.dataplane import Pin

DEFAULT_ENDPOINT_SETTINGS: dict[str, Any] = {
    "autoscaling_limit_min_cu": 0.25,
    "autoscaling_limit_max_cu": 0.25,
    "suspend_timeout_seconds": 0,
}

DEFAULT_PROJECT_SETTINGS: dict[str, Any] = {
    "allowed_ips": {"ips": [], "protected_branches_only": False},
    "enable_logical_replication": False,
    "maintenance_window": {"weekdays": [5], "start_time": "07:00", "end_time": "08:00"},
    "block_public_connections": False,
    "block_vpc_connections": False,
    "hipaa": False,
}

RESERVED_ROLES = frozenset(
    {"postgres", "cloud_admin", "neon_superuser", "neon_service", "pg_monitor", "public"}
)


def resolve_limits(
    min_cu: float | None,
    max_cu: float | None,
    suspend: int | None,
    defaults: dict[str, Any],
    prefix: str = "",
) -> tuple[float, float, int]:
    """Fill unset compute limits from ``defaults`` and check Neon's rules on the result."""
    default_min = float(defaults.get("autoscaling_limit_min_cu", 0.25))
    default_max = float(defaults.get("autoscaling_limit_max_cu", default_min))
    if min_cu is None and max_cu is None:
        min_cu, max_cu = default_min, max(default_max, default_min)
    elif min_cu is None:
        assert max_cu is not None
        min_cu = min(default_min, max_cu)
    elif max_cu is None:
        max_cu = max(default_max, min_cu)
    if suspend is None:
        suspend = int(defaults.get("suspend_timeout_seconds", 0))
    compute.check_limits(min_cu, max_cu, prefix)
    compute.check_suspend_timeout(suspend, prefix)
    return min_cu, max_cu, suspend


def ensure_branch_name_free(ctx: Context, project_id: str, name: str) -> None:
    for existing in lookups.live_branches(ctx.store, project_id):
        if existing.name == name:
            raise errors.Conflict(f"branch with name {name!r} already exists")


def add_branch(
    ctx: Context,
    project: records.Project,
    *,
    name: str | None,
    parent: records.Branch | None,
    parent_lsn: int | None = None,
    parent_timestamp: str | None = None,
    default: bool = False,
    protected: bool = False,
    init_source: str | None = None,
    expires_at: str | None = None,
    annotations: dict[str, str] | None = None,
    copy_from: records.Branch | None = None,
) -> records.Branch:
    """Create a branch of ``parent`` (``None``: a root branch), with the roles and databases of
    ``copy_from`` (default: the parent)."""
    stamp = clock.now_iso()
    branch_id = ids.unique(
        lambda: ids.branch_id(project.region_id), lambda c: c in ctx.store.branches
    )
    head = parent_lsn if parent_lsn is not None else (parent.head_lsn if parent else 0x1DE2850)
    linked = parent is not None and init_source != "schema-only"
    branch = records.Branch(
        id=branch_id,
        project_id=project.id,
        name=name or branch_id,
        parent_id=parent.id if linked and parent else None,
        parent_lsn=ids.format_lsn(head) if linked else None,
        parent_timestamp=(parent_timestamp or stamp) if linked else None,
        state_changed_at=stamp,
        default=default,
        protected=protected,
        created_at=stamp,
        updated_at=stamp,
        expires_at=expires_at,
        init_source=init_source,
        head_lsn=head + 0x100,
        annotations=dict(annotations or {}),
    )
    ctx.store.branches.put(branch)
    source = copy_from or parent
    if source is not None:
        copy_branch_contents(ctx, source, branch)
    return branch


def copy_branch_contents(ctx: Context, source: records.Branch, target: records.Branch) -> None:
    copy_roles_and_databases(
        ctx,
        target,
        [views.role(r, with_password=True) for r in lookups.branch_roles(ctx.store, source)],
        [views.database(d) for d in lookups.branch_databases(ctx.store, source)],
    )


def clear_branch_contents(ctx: Context, branch: records.Branch) -> None:
    for role in lookups.branch_roles(ctx.store, branch):
        ctx.store.roles.delete(role.key)
    for database in lookups.branch_databases(ctx.store, branch):
        ctx.store.databases.delete(database.key)


def point_in_time(
    project: records.Project,
    branch: records.Branch,
    lsn_text: str | None,
    timestamp_text: str | None,
    lsn_field: str,
    timestamp_field: str,
) -> tuple[int | None, str | None]:
    """Validate an LSN or timestamp on ``branch`` against its history; (lsn, timestamp)."""
    if lsn_text and timestamp_text:
        raise errors.BadRequest(f"{lsn_field} and {timestamp_field} are mutually exclusive")
    if lsn_text:
        try:
            lsn = ids.parse_lsn(lsn_text)
        except ValueError:
            raise errors.BadRequest(f"{lsn_field}: malformed LSN {lsn_text!r}") from None
        if lsn > branch.head_lsn:
            raise errors.BadRequest(
                f"{lsn_field} {lsn_text} is ahead of the last written LSN "
                f"{ids.format_lsn(branch.head_lsn)} of branch {branch.id}"
            )
        return lsn, None
    if timestamp_text:
        try:
            moment = clock.parse(timestamp_text)
        except ValueError:
            raise errors.BadRequest(
                f"{timestamp_field}: {timestamp_text!r} is not an RFC 3339 timestamp"
            ) from None
        now = clock.now()
        if moment > now:
            raise errors.BadRequest(f"{timestamp_field} {timestamp_text} is in the future")
        window = now.timestamp() - project.history_retention_seconds
        if moment.timestamp() < window:
            raise errors.BadRequest(
                f"{timestamp_field} {timestamp_text} is outside the restore window "
                f"(history_retention_seconds is {project.history_retention_seconds})"
            )
        if moment < clock.parse(branch.created_at).replace(microsecond=0):
            raise errors.BadRequest(
                f"{timestamp_field} {timestamp_text} precedes the creation of branch {branch.id}"
            )
        return branch.head_lsn, clock.iso(moment)
    return None, None


def branch_point(
    lsn: int | None, timestamp: str | None, pin: Pin | None, head: int
) -> tuple[int, dict[str, Any]]:
    """The LSN a branch point or snapshot reports, and its operation's subject fields.

    ``lsn`` / ``timestamp`` come from :func:`point_in_time` (what the client named); without
    them the point is "now": the data plane's ``pin`` taken before answering, else (no data
    plane) the head LSN the API tracks.
    """
    if timestamp is not None:
        point = lsn if lsn is not None else head
        return point, {"lsn": ids.format_lsn(point), "timestamp": timestamp}
    if lsn is not None:
        return lsn, {"lsn": ids.format_lsn(lsn), "exact_lsn": True}
    if pin is not None:
        return pin.lsn, {"lsn": ids.format_lsn(pin.lsn), "pin": pin.token}
    return head, {"lsn": ids.format_lsn(head)}


def copy_roles_and_databases(
    ctx: Context,
    branch: records.Branch,
    roles: list[dict[str, Any]],
    databases: list[dict[str, Any]],
) -> None:
    """Give ``branch`` the roles (same passwords) and databases of its source, as Neon does."""
    stamp = clock.now_iso()
    for role in roles:
        ctx.store.roles.put(
            records.Role(
                project_id=branch.project_id,
                branch_id=branch.id,
                name=role["name"],
                password=role.get("password"),
                protected=bool(role.get("protected", False)),
                no_login=role.get("authentication_method") == "no_login",
                created_at=stamp,
                updated_at=stamp,
            )
        )
    for database in databases:
        ctx.store.databases.put(
            records.Database(
                id=ctx.store.next_value("database_id", start=6_677_853),
                project_id=branch.project_id,
                branch_id=branch.id,
                name=database["name"],
                owner_name=database["owner_name"],
                created_at=stamp,
                updated_at=stamp,
            )
        )


def add_endpoint(
    ctx: Context,
    project: records.Project,
    branch: records.Branch,
    *,
    type: str,
    min_cu: float,
    max_cu: float,
    suspend: int,
    provisioner: str | None = None,
    settings: dict[str, Any] | None = None,
    name: str | None = None,
    disabled: bool = False,
) -> records.Endpoint:
    stamp = clock.now_iso()
    endpoint_id = ids.unique(
        lambda: ids.endpoint_id(project.region_id), lambda c: c in ctx.store.endpoints
    )
    endpoint = records.Endpoint(
        id=endpoint_id,
        project_id=project.id,
        branch_id=branch.id,
        name=name,
        type=type,
        region_id=project.region_id,
        autoscaling_limit_min_cu=min_cu,
        autoscaling_limit_max_cu=max_cu,
        suspend_timeout_seconds=suspend,
        provisioner=provisioner or project.provisioner,
        settings=settings or {},
        disabled=disabled,
        current_state="idle" if disabled else "init",
        pending_state=None if disabled else "active",
        created_at=stamp,
        updated_at=stamp,
    )
    ctx.store.endpoints.put(endpoint)
    return endpoint


def ensure_one_read_write(ctx: Context, branch: records.Branch) -> None:
    if lookups.read_write_endpoint(ctx.store, branch) is not None:
        raise errors.BadRequest(f"branch {branch.id} already has a read_write endpoint")


def check_role_name(name: str, field: str = "role.name") -> None:
    if len(name.encode()) > 63:
        raise errors.BadRequest(f"{field}: {name!r} is longer than 63 bytes")
    if name in RESERVED_ROLES or name.startswith("pg_"):
        raise errors.BadRequest(f"{field}: role name {name!r} is reserved")


def add_role(
    ctx: Context, branch: records.Branch, name: str, *, no_login: bool = False
) -> records.Role:
    stamp = clock.now_iso()
    role = records.Role(
        project_id=branch.project_id,
        branch_id=branch.id,
        name=name,
        password=None if no_login else ids.password(),
        no_login=no_login,
        created_at=stamp,
        updated_at=stamp,
    )
    ctx.store.roles.put(role)
    return role


def add_database(ctx: Context, branch: records.Branch, name: str, owner: str) -> records.Database:
    stamp = clock.now_iso()
    database = records.Database(
        id=ctx.store.next_value("database_id", start=6_677_853),
        project_id=branch.project_id,
        branch_id=branch.id,
        name=name,
        owner_name=owner,
        created_at=stamp,
        updated_at=stamp,
    )
    ctx.store.databases.put(database)
    return database


def bump_lsn(ctx: Context, branch: records.Branch) -> None:
    """Every change to a branch moves its head LSN forward, like a write would."""
    branch.head_lsn += 0x1000
    branch.updated_at = clock.now_iso()
    ctx.store.branches.put(branch)


def connection_uris(
    ctx: Context, branch: records.Branch, endpoint: records.Endpoint | None
) -> list[dict[str, Any]] | None:
    """Neon returns URIs only when the branch has one role (with a password) and one database."""
    if endpoint is None:
        return None
    roles = [r for r in lookups.branch_roles(ctx.store, branch) if r.password]
    databases = lookups.branch_databases(ctx.store, branch)
    if len(roles) != 1 or len(databases) != 1:
        return None
    return [views.connection(ctx, endpoint, roles[0], databases[0])]
