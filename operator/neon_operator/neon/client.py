"""``NeonClient``: the typed, async Neon API v2 calls the operator makes.

Each method is one request (list helpers page through several); mutations return the new state
together with Neon's ``operations``, which the caller hands to
:meth:`NeonClient.wait_for_operations` before reporting Ready or issuing a conflicting call.
The client does not wait on its own: the reconciler decides what is worth waiting for.

Construct one client per API key (per NeonConfig) and keep it; even separate clients of the same
key share one rate limiter through :data:`~neon_operator.neon.ratelimit.shared_limiters`.
The key is sent as a Bearer token and appears nowhere else: not in ``repr``, logs or errors.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Final

import httpx
from pydantic import Field, SecretStr

from neon_operator.neon import inputs, models, operations
from neon_operator.neon.calls import CallLog
from neon_operator.neon.models import NeonModel
from neon_operator.neon.ratelimit import LimiterRegistry, RateLimits, shared_limiters
from neon_operator.neon.retries import RetryPolicy
from neon_operator.neon.session import Session, parse

__all__ = ["CONSUMPTION_BATCH", "DEFAULT_BASE_URL", "TRANSFER_BATCH", "NeonClient"]

DEFAULT_BASE_URL: Final = "https://console.neon.tech/api/v2"
TRANSFER_BATCH: Final = 400
"""Most project ids Neon accepts in one transfer call."""
CONSUMPTION_BATCH: Final = 100
"""Most project ids (and projects per page) Neon accepts in one consumption history call."""
CONSUMPTION_METRICS: Final = (
    "active_time_seconds",
    "compute_time_seconds",
    "written_data_bytes",
    "synthetic_storage_size_bytes",
)

_P = "/projects/{project_id}"
_B = _P + "/branches/{branch_id}"
_E = _P + "/endpoints/{endpoint_id}"
_R = _B + "/roles/{role_name}"
_S = _P + "/snapshots/{snapshot_id}"
_AUTH = _B + "/auth"
_DATA_API = _B + "/data-api/{database_name}"


class _ProjectEnvelope(NeonModel):
    project: models.Project


class _ConsumptionPage(NeonModel):
    projects: list[models.ProjectConsumption]


class _ProjectsPage(NeonModel):
    projects: list[models.ProjectListItem]
    pagination: dict[str, Any] | None = None


class _BranchEnvelope(NeonModel):
    branch: models.Branch


class _Annotation(NeonModel):
    value: dict[str, str] = Field(default_factory=dict)


class _BranchesPage(NeonModel):
    branches: list[models.Branch]
    annotations: dict[str, _Annotation] = Field(default_factory=dict)
    pagination: dict[str, Any] | None = None


class _EndpointEnvelope(NeonModel):
    endpoint: models.Endpoint


class _Endpoints(NeonModel):
    endpoints: list[models.Endpoint]


class _RoleEnvelope(NeonModel):
    role: models.Role


class _Roles(NeonModel):
    roles: list[models.Role]


class _Databases(NeonModel):
    databases: list[models.Database]


class _Snapshots(NeonModel):
    snapshots: list[models.Snapshot]


class _Operations(NeonModel):
    operations: list[models.Operation]


class _AuthSettings(NeonModel):
    """``GET …/auth/plugins``: the parts of the configuration the operator manages."""

    oauth_providers: list[models.OAuthProvider] = Field(default_factory=list)
    email_and_password: models.EmailAndPassword = models.EmailAndPassword()
    allow_localhost: bool = False


class _Domain(NeonModel):
    domain: str


class _Domains(NeonModel):
    domains: list[_Domain] = Field(default_factory=list)


class _DataApiCreated(NeonModel):
    url: str


class _Uri(NeonModel):
    uri: SecretStr


class _Password(NeonModel):
    password: SecretStr


def _wrap(key: str, body: inputs.RequestModel | None) -> dict[str, Any]:
    return {key: body.to_json() if body is not None else {}}


class NeonClient:
    """Async client of the Neon API v2 for one API key."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        limits: RateLimits | None = None,
        retry: RetryPolicy | None = None,
        poll: operations.PollPolicy | None = None,
        timeout: float = 30.0,
        limiters: LimiterRegistry = shared_limiters,
        calls: CallLog | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        write_guard: Callable[[str], None] | None = None,
    ) -> None:
        """``limits`` is the key's budget (NeonConfig); ``calls`` collects every request
        (a fresh :class:`CallLog` by default); ``write_guard`` is called with ``"METHOD
        route"`` right before every request that may change something (all but ``GET``) and
        raises to stop it (the operator's leadership fence); ``transport`` and ``sleep`` exist
        for tests."""
        if not api_key:
            raise ValueError("an API key is required")
        self.base_url = base_url.rstrip("/")
        self.poll = poll or operations.PollPolicy()
        self.calls = calls if calls is not None else CallLog()
        self.limiter = limiters.get(self.base_url, api_key, limits or RateLimits())
        self._sleep = sleep
        http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/json",
                "User-Agent": "neon-operator",
            },
            timeout=timeout,
            transport=transport,
        )
        self._session = Session(
            http,
            limiter=self.limiter,
            retry=retry or RetryPolicy(),
            calls=self.calls,
            sleep=sleep,
            write_guard=write_guard,
        )

    def __repr__(self) -> str:
        return f"NeonClient(base_url={self.base_url!r}, key={self.limiter.name!r})"

    async def __aenter__(self) -> NeonClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (the shared limiter lives on)."""
        await self._session.http.aclose()

    # -- projects -------------------------------------------------------------------------

    async def create_project(self, project: inputs.ProjectCreate) -> models.CreatedProject:
        """Create a project; the response already holds its roles' passwords and URIs."""
        return await self._session.request_model(
            models.CreatedProject, "POST", "/projects", json=_wrap("project", project)
        )

    async def get_project(self, project_id: str) -> models.Project:
        """One project, with current-period consumption."""
        envelope = await self._session.request_model(
            _ProjectEnvelope, "GET", _P, {"project_id": project_id}
        )
        return envelope.project

    async def list_projects_page(
        self,
        *,
        search: str | None = None,
        org_id: str | None = None,
        cursor: str | None = None,
        limit: int = 400,
    ) -> models.ProjectPage:
        """One page of projects; ``search`` matches part of a name or id."""
        page = await self._session.request_model(
            _ProjectsPage,
            "GET",
            "/projects",
            params={"search": search, "org_id": org_id, "cursor": cursor, "limit": limit},
        )
        next_cursor = (page.pagination or {}).get("cursor")
        if not page.projects or len(page.projects) < limit:
            next_cursor = None  # a short page is the last one: save the extra call
        return models.ProjectPage(
            projects=page.projects, cursor=next_cursor if isinstance(next_cursor, str) else None
        )

    async def iter_projects(
        self, *, search: str | None = None, org_id: str | None = None, page_size: int = 400
    ) -> AsyncIterator[models.ProjectListItem]:
        """Every matching project, page by page (Neon's ``cursor`` = last id of a page)."""
        cursor: str | None = None
        while True:
            page = await self.list_projects_page(
                search=search, org_id=org_id, cursor=cursor, limit=page_size
            )
            for project in page.projects:
                yield project
            if page.cursor is None:
                return
            cursor = page.cursor

    async def list_projects(
        self, *, search: str | None = None, org_id: str | None = None, page_size: int = 400
    ) -> list[models.ProjectListItem]:
        """All matching projects (see :meth:`iter_projects`)."""
        pages = self.iter_projects(search=search, org_id=org_id, page_size=page_size)
        return [project async for project in pages]

    async def update_project(
        self, project_id: str, update: inputs.ProjectUpdate
    ) -> models.ProjectResult:
        """Change name, settings, ``default_endpoint_settings`` or history retention."""
        return await self._session.request_model(
            models.ProjectResult,
            "PATCH",
            _P,
            {"project_id": project_id},
            json=_wrap("project", update),
        )

    async def delete_project(self, project_id: str) -> models.Project:
        """Delete a project (recoverable for 7 days); :class:`NotFound` if it is gone."""
        envelope = await self._session.request_model(
            _ProjectEnvelope, "DELETE", _P, {"project_id": project_id}
        )
        return envelope.project

    async def transfer_projects(
        self, source_org_id: str, destination_org_id: str, project_ids: Iterable[str]
    ) -> int:
        """Move projects between organizations, ≤ :data:`TRANSFER_BATCH` per call.

        Returns the number of calls made. A failing batch raises; earlier batches stay moved
        (transfer is idempotent for the caller: re-sending moved ids is the reconciler's call).
        """
        ids = list(dict.fromkeys(project_ids))
        calls = 0
        for start in range(0, len(ids), TRANSFER_BATCH):
            await self._session.request(
                "POST",
                "/organizations/{org_id}/projects/transfer",
                {"org_id": source_org_id},
                json={
                    "destination_org_id": destination_org_id,
                    "project_ids": ids[start : start + TRANSFER_BATCH],
                },
            )
            calls += 1
        return calls

    # -- branches -------------------------------------------------------------------------

    async def consumption_history(
        self,
        project_ids: Sequence[str],
        *,
        start: datetime.datetime,
        end: datetime.datetime,
        granularity: str = "monthly",
        org_id: str | None = None,
    ) -> list[models.ProjectConsumption]:
        """The consumption history of up to :data:`CONSUMPTION_BATCH` projects in one call
        (``GET /consumption_history/projects``: Scale, Business and Enterprise plans; 403 on
        others). ``start`` and ``end`` are rounded down to ``granularity`` by Neon.

        Ids that are not the caller's (or not in ``org_id``) are simply absent from the answer.
        """
        ids = list(dict.fromkeys(project_ids))
        if not ids or len(ids) > CONSUMPTION_BATCH:
            raise ValueError(f"between 1 and {CONSUMPTION_BATCH} project ids per call")
        page = await self._session.request_model(
            _ConsumptionPage,
            "GET",
            "/consumption_history/projects",
            params={
                "project_ids": ",".join(ids),
                "limit": len(ids),
                "from": _rfc3339(start),
                "to": _rfc3339(end),
                "granularity": granularity,
                "org_id": org_id,
                "metrics": ",".join(CONSUMPTION_METRICS),
            },
        )
        return page.projects

    async def iter_branches(
        self, project_id: str, *, search: str | None = None, page_size: int | None = None
    ) -> AsyncIterator[models.Branch]:
        """Every branch of a project (Neon's opaque ``pagination.next``)."""
        cursor: str | None = None
        while True:
            page = await self._session.request_model(
                _BranchesPage,
                "GET",
                _P + "/branches",
                {"project_id": project_id},
                params={"search": search, "cursor": cursor, "limit": page_size},
            )
            for branch in page.branches:
                annotation = page.annotations.get(branch.id)
                yield (
                    branch.model_copy(update={"annotations": annotation.value})
                    if annotation
                    else branch
                )
            cursor = (page.pagination or {}).get("next")
            short = page_size is not None and len(page.branches) < page_size
            if not page.branches or short or not isinstance(cursor, str) or not cursor:
                return

    async def list_branches(
        self, project_id: str, *, search: str | None = None, page_size: int | None = None
    ) -> list[models.Branch]:
        """All branches of a project (see :meth:`iter_branches`)."""
        return [b async for b in self.iter_branches(project_id, search=search, page_size=page_size)]

    async def get_branch(self, project_id: str, branch_id: str) -> models.Branch:
        """One branch."""
        envelope = await self._session.request_model(
            _BranchEnvelope, "GET", _B, {"project_id": project_id, "branch_id": branch_id}
        )
        return envelope.branch

    async def create_branch(
        self,
        project_id: str,
        branch: inputs.BranchCreate | None = None,
        endpoints: Sequence[inputs.EndpointSpec] = (),
        annotations: Mapping[str, str] | None = None,
    ) -> models.CreatedBranch:
        """Create a branch (of the default branch unless ``branch.parent_id``), optionally at
        ``parent_lsn`` / ``parent_timestamp``, with the computes in ``endpoints`` and Neon's
        branch ``annotations`` (``annotation_value``; listed back with the branches)."""
        body: dict[str, Any] = _wrap("branch", branch)
        if endpoints:
            body["endpoints"] = [endpoint.to_json() for endpoint in endpoints]
        if annotations:
            body["annotation_value"] = dict(annotations)
        return await self._session.request_model(
            models.CreatedBranch, "POST", _P + "/branches", {"project_id": project_id}, json=body
        )

    async def update_branch(
        self,
        project_id: str,
        branch_id: str,
        *,
        name: str | None = None,
        protected: bool | None = None,
    ) -> models.BranchResult:
        """Rename a branch and/or change its protection."""
        patch = {k: v for k, v in {"name": name, "protected": protected}.items() if v is not None}
        return await self._session.request_model(
            models.BranchResult,
            "PATCH",
            _B,
            {"project_id": project_id, "branch_id": branch_id},
            json={"branch": patch},
        )

    async def rename_branch(
        self, project_id: str, branch_id: str, name: str
    ) -> models.BranchResult:
        """Give a branch a new name."""
        return await self.update_branch(project_id, branch_id, name=name)

    async def delete_branch(self, project_id: str, branch_id: str) -> models.BranchResult | None:
        """Delete a branch; ``None`` when Neon says it was already gone (204)."""
        body = await self._session.request(
            "DELETE", _B, {"project_id": project_id, "branch_id": branch_id}
        )
        if body is None:
            return None
        return parse(models.BranchResult, body, method="DELETE", route=_B)

    async def restore_branch(
        self,
        project_id: str,
        branch_id: str,
        *,
        source_branch_id: str,
        source_lsn: str | None = None,
        source_timestamp: datetime.datetime | None = None,
        preserve_under_name: str | None = None,
    ) -> models.BranchResult:
        """Restore ``branch_id`` to ``source_branch_id``'s state (at an LSN or time)."""
        body: dict[str, Any] = {"source_branch_id": source_branch_id}
        if source_lsn is not None:
            body["source_lsn"] = source_lsn
        if source_timestamp is not None:
            body["source_timestamp"] = _rfc3339(source_timestamp)
        if preserve_under_name is not None:
            body["preserve_under_name"] = preserve_under_name
        return await self._session.request_model(
            models.BranchResult,
            "POST",
            _B + "/restore",
            {"project_id": project_id, "branch_id": branch_id},
            json=body,
        )

    # -- endpoints ------------------------------------------------------------------------

    async def list_endpoints(
        self, project_id: str, *, branch_id: str | None = None
    ) -> list[models.Endpoint]:
        """The computes of a project (or of one branch)."""
        if branch_id is None:
            route, path = _P + "/endpoints", {"project_id": project_id}
        else:
            route, path = _B + "/endpoints", {"project_id": project_id, "branch_id": branch_id}
        return (await self._session.request_model(_Endpoints, "GET", route, path)).endpoints

    async def get_endpoint(self, project_id: str, endpoint_id: str) -> models.Endpoint:
        """One compute."""
        envelope = await self._session.request_model(
            _EndpointEnvelope, "GET", _E, {"project_id": project_id, "endpoint_id": endpoint_id}
        )
        return envelope.endpoint

    async def create_endpoint(
        self, project_id: str, endpoint: inputs.EndpointCreate
    ) -> models.EndpointResult:
        """Add a compute to a branch (one read_write per branch)."""
        return await self._session.request_model(
            models.EndpointResult,
            "POST",
            _P + "/endpoints",
            {"project_id": project_id},
            json=_wrap("endpoint", endpoint),
        )

    async def update_endpoint(
        self, project_id: str, endpoint_id: str, update: inputs.EndpointUpdate
    ) -> models.EndpointResult:
        """Change a compute's autoscaling, suspend timeout, name or ``disabled``."""
        return await self._session.request_model(
            models.EndpointResult,
            "PATCH",
            _E,
            {"project_id": project_id, "endpoint_id": endpoint_id},
            json=_wrap("endpoint", update),
        )

    async def delete_endpoint(
        self, project_id: str, endpoint_id: str
    ) -> models.EndpointResult | None:
        """Delete a compute (its connections drop); ``None`` when it was already gone (204)."""
        path = {"project_id": project_id, "endpoint_id": endpoint_id}
        body = await self._session.request("DELETE", _E, path)
        if body is None:
            return None
        return parse(models.EndpointResult, body, method="DELETE", route=_E)

    async def start_endpoint(self, project_id: str, endpoint_id: str) -> models.EndpointResult:
        """Wake a suspended compute."""
        return await self._endpoint_action(project_id, endpoint_id, "start")

    async def suspend_endpoint(self, project_id: str, endpoint_id: str) -> models.EndpointResult:
        """Suspend a compute now (423 while it is changing state)."""
        return await self._endpoint_action(project_id, endpoint_id, "suspend")

    async def _endpoint_action(
        self, project_id: str, endpoint_id: str, action: str
    ) -> models.EndpointResult:
        return await self._session.request_model(
            models.EndpointResult,
            "POST",
            f"{_E}/{action}",
            {"project_id": project_id, "endpoint_id": endpoint_id},
        )

    # -- roles, databases, connection URIs -------------------------------------------------

    async def list_roles(self, project_id: str, branch_id: str) -> list[models.Role]:
        """The roles of a branch (without passwords)."""
        route = _B + "/roles"
        path = {"project_id": project_id, "branch_id": branch_id}
        return (await self._session.request_model(_Roles, "GET", route, path)).roles

    async def get_role(self, project_id: str, branch_id: str, role_name: str) -> models.Role:
        """One role (without its password)."""
        path = {"project_id": project_id, "branch_id": branch_id, "role_name": role_name}
        return (await self._session.request_model(_RoleEnvelope, "GET", _R, path)).role

    async def reset_role_password(
        self, project_id: str, branch_id: str, role_name: str
    ) -> models.RoleResult:
        """New password for a role (the old one works until the operations finish)."""
        path = {"project_id": project_id, "branch_id": branch_id, "role_name": role_name}
        return await self._session.request_model(
            models.RoleResult, "POST", _R + "/reset_password", path
        )

    async def reveal_role_password(
        self, project_id: str, branch_id: str, role_name: str
    ) -> SecretStr:
        """A role's stored password (:class:`ForbiddenError` when the project stores none)."""
        path = {"project_id": project_id, "branch_id": branch_id, "role_name": role_name}
        body = await self._session.request_model(_Password, "GET", _R + "/reveal_password", path)
        return body.password

    async def list_databases(self, project_id: str, branch_id: str) -> list[models.Database]:
        """The databases of a branch."""
        route = _B + "/databases"
        path = {"project_id": project_id, "branch_id": branch_id}
        return (await self._session.request_model(_Databases, "GET", route, path)).databases

    async def connection_uri(
        self,
        project_id: str,
        *,
        database_name: str,
        role_name: str,
        pooled: bool,
        branch_id: str | None = None,
        endpoint_id: str | None = None,
    ) -> SecretStr:
        """A connection URI, through the pooler (``pooled=True``) or direct."""
        body = await self._session.request_model(
            _Uri,
            "GET",
            _P + "/connection_uri",
            {"project_id": project_id},
            params={
                "database_name": database_name,
                "role_name": role_name,
                "branch_id": branch_id,
                "endpoint_id": endpoint_id,
                "pooled": pooled,
            },
        )
        return body.uri

    # -- operations -----------------------------------------------------------------------

    async def get_operation(self, project_id: str, operation_id: str) -> models.Operation:
        """The current state of one operation."""
        return await operations.get_operation(self._session, project_id, operation_id)

    async def wait_for_operations(
        self,
        ops: Iterable[models.Operation],
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - ends in a typed OperationTimeout
    ) -> list[models.Operation]:
        """Wait until ``ops`` succeed; see :func:`operations.wait_for_operations`."""
        return await operations.wait_for_operations(
            self._session, ops, timeout=timeout, poll=self.poll, sleep=self._sleep
        )

    # -- snapshots ------------------------------------------------------------------------

    async def create_snapshot(
        self,
        project_id: str,
        branch_id: str,
        *,
        name: str | None = None,
        lsn: str | None = None,
        timestamp: datetime.datetime | None = None,
        expires_at: datetime.datetime | None = None,
    ) -> models.SnapshotResult:
        """Snapshot a root branch, now or at ``lsn`` / ``timestamp``."""
        return await self._session.request_model(
            models.SnapshotResult,
            "POST",
            _B + "/snapshot",
            {"project_id": project_id, "branch_id": branch_id},
            params={
                "name": name,
                "lsn": lsn,
                "timestamp": _rfc3339(timestamp) if timestamp else None,
                "expires_at": _rfc3339(expires_at) if expires_at else None,
            },
        )

    async def list_snapshots(self, project_id: str) -> list[models.Snapshot]:
        """All snapshots of a project."""
        route, path = _P + "/snapshots", {"project_id": project_id}
        return (await self._session.request_model(_Snapshots, "GET", route, path)).snapshots

    async def delete_snapshot(self, project_id: str, snapshot_id: str) -> list[models.Operation]:
        """Delete a snapshot; returns the operations doing it."""
        path = {"project_id": project_id, "snapshot_id": snapshot_id}
        return (await self._session.request_model(_Operations, "DELETE", _S, path)).operations

    async def restore_snapshot(
        self,
        project_id: str,
        snapshot_id: str,
        *,
        name: str | None = None,
        target_branch_id: str | None = None,
        finalize_restore: bool = False,
    ) -> models.RestoredSnapshot:
        """Restore a snapshot into a new branch; with ``finalize_restore`` it replaces
        ``target_branch_id`` at once (connection strings preserved). Pass the target
        explicitly when restoring repeatedly."""
        body: dict[str, Any] = {"finalize_restore": finalize_restore}
        if name is not None:
            body["name"] = name
        if target_branch_id is not None:
            body["target_branch_id"] = target_branch_id
        return await self._session.request_model(
            models.RestoredSnapshot,
            "POST",
            _S + "/restore",
            {"project_id": project_id, "snapshot_id": snapshot_id},
            json=body,
        )

    async def finalize_restore(
        self, project_id: str, branch_id: str, *, name: str | None = None
    ) -> list[models.Operation]:
        """Make a restored branch take its target's place; ``name`` renames the old one."""
        body = {"name": name} if name is not None else {}
        path = {"project_id": project_id, "branch_id": branch_id}
        result = await self._session.request_model(
            _Operations, "POST", _B + "/finalize_restore", path, json=body
        )
        return result.operations

    # -- Neon Auth ------------------------------------------------------------------------

    async def enable_neon_auth(
        self, project_id: str, branch_id: str, *, database_name: str | None = None
    ) -> models.NeonAuthCreated:
        """Enable Neon Auth (Better Auth) on a branch; the response is the only one that
        carries the SDK keys (:class:`Conflict` when it is already enabled)."""
        body: dict[str, Any] = {"auth_provider": "better_auth"}
        if database_name is not None:
            body["database_name"] = database_name
        path = {"project_id": project_id, "branch_id": branch_id}
        return await self._session.request_model(
            models.NeonAuthCreated, "POST", _AUTH, path, json=body
        )

    async def get_neon_auth(self, project_id: str, branch_id: str) -> models.NeonAuth:
        """A branch's Neon Auth integration (:class:`NotFound` when it is not enabled)."""
        path = {"project_id": project_id, "branch_id": branch_id}
        return await self._session.request_model(models.NeonAuth, "GET", _AUTH, path)

    async def disable_neon_auth(
        self, project_id: str, branch_id: str, *, delete_data: bool = True
    ) -> None:
        """Disable Neon Auth on a branch (``delete_data`` drops its users and sessions)."""
        path = {"project_id": project_id, "branch_id": branch_id}
        await self._session.request("DELETE", _AUTH, path, json={"delete_data": delete_data})

    async def get_neon_auth_settings(
        self, project_id: str, branch_id: str
    ) -> tuple[list[models.OAuthProvider], bool, bool]:
        """OAuth providers, email-and-password on/off and ``allow_localhost``, in one call."""
        path = {"project_id": project_id, "branch_id": branch_id}
        found = await self._session.request_model(_AuthSettings, "GET", _AUTH + "/plugins", path)
        return found.oauth_providers, found.email_and_password.enabled, found.allow_localhost

    async def add_oauth_provider(
        self, project_id: str, branch_id: str, provider: inputs.OAuthProviderChange
    ) -> None:
        """Add an OAuth provider (shared keys unless ``client_id``/``client_secret``)."""
        path = {"project_id": project_id, "branch_id": branch_id}
        await self._session.request(
            "POST", _AUTH + "/oauth_providers", path, json=provider.to_json()
        )

    async def update_oauth_provider(
        self, project_id: str, branch_id: str, provider_id: str, change: inputs.OAuthProviderChange
    ) -> None:
        """Change an OAuth provider's client id/secret in place."""
        path = {"project_id": project_id, "branch_id": branch_id, "provider_id": provider_id}
        await self._session.request(
            "PATCH", _AUTH + "/oauth_providers/{provider_id}", path, json=change.to_json()
        )

    async def delete_oauth_provider(
        self, project_id: str, branch_id: str, provider_id: str
    ) -> None:
        """Remove an OAuth provider."""
        path = {"project_id": project_id, "branch_id": branch_id, "provider_id": provider_id}
        await self._session.request("DELETE", _AUTH + "/oauth_providers/{provider_id}", path)

    async def list_trusted_domains(self, project_id: str, branch_id: str) -> list[str]:
        """The origins sign-in may redirect to."""
        path = {"project_id": project_id, "branch_id": branch_id}
        found = await self._session.request_model(_Domains, "GET", _AUTH + "/domains", path)
        return [entry.domain for entry in found.domains]

    async def add_trusted_domain(self, project_id: str, branch_id: str, domain: str) -> None:
        """Trust one more origin."""
        path = {"project_id": project_id, "branch_id": branch_id}
        body = {"domain": domain, "auth_provider": "better_auth"}
        await self._session.request("POST", _AUTH + "/domains", path, json=body)

    async def delete_trusted_domains(
        self, project_id: str, branch_id: str, domains: Iterable[str]
    ) -> None:
        """Stop trusting ``domains``."""
        path = {"project_id": project_id, "branch_id": branch_id}
        body = {"domains": [{"domain": d} for d in domains], "auth_provider": "better_auth"}
        await self._session.request("DELETE", _AUTH + "/domains", path, json=body)

    async def set_email_and_password(self, project_id: str, branch_id: str, enabled: bool) -> None:
        """Turn sign-in with email and password on or off."""
        path = {"project_id": project_id, "branch_id": branch_id}
        await self._session.request(
            "PATCH", _AUTH + "/email_and_password", path, json={"enabled": enabled}
        )

    async def set_allow_localhost(self, project_id: str, branch_id: str, allow: bool) -> None:
        """Accept (or refuse) ``localhost`` callback URLs."""
        path = {"project_id": project_id, "branch_id": branch_id}
        await self._session.request(
            "PATCH", _AUTH + "/allow_localhost", path, json={"allow_localhost": allow}
        )

    # -- Data API -------------------------------------------------------------------------

    async def create_data_api(
        self, project_id: str, branch_id: str, database_name: str, spec: inputs.DataApiCreate
    ) -> str:
        """Serve a database over the Data API; returns its URL."""
        path = {"project_id": project_id, "branch_id": branch_id, "database_name": database_name}
        created = await self._session.request_model(
            _DataApiCreated, "POST", _DATA_API, path, json=spec.to_json()
        )
        return created.url

    async def get_data_api(
        self, project_id: str, branch_id: str, database_name: str
    ) -> models.DataApi:
        """A database's Data API (:class:`NotFound` when it has none)."""
        path = {"project_id": project_id, "branch_id": branch_id, "database_name": database_name}
        return await self._session.request_model(models.DataApi, "GET", _DATA_API, path)

    async def update_data_api(
        self,
        project_id: str,
        branch_id: str,
        database_name: str,
        settings: inputs.DataApiSettings,
    ) -> None:
        """Change a Data API's settings (those left ``None`` keep their value)."""
        path = {"project_id": project_id, "branch_id": branch_id, "database_name": database_name}
        await self._session.request("PATCH", _DATA_API, path, json={"settings": settings.to_json()})

    async def delete_data_api(self, project_id: str, branch_id: str, database_name: str) -> None:
        """Stop serving a database over the Data API."""
        path = {"project_id": project_id, "branch_id": branch_id, "database_name": database_name}
        await self._session.request("DELETE", _DATA_API, path)


def _rfc3339(when: datetime.datetime) -> str:
    """Neon's timestamp format: UTC, second precision, ``Z``."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
