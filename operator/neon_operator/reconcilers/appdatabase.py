"""NeonAppDatabase: converge one Neon project and its connection Secret with the resource.

:func:`reconcile` is level-based: whatever happened before, it finds the project (by the id in
status, the id to adopt, or the uid stamped on a project a crashed run created), creates it
only when none exists, then brings Neon and the Secret to the spec::

    resolve NeonConfig → tier's org ─┐ (AccountProblem → Ready=False, retry in retryDelay)
    locate project ──────────────────┤ status.projectId │ spec.adoptProjectId │ ownership lookup
      └─ none: claim the creation (claims: one instance, at the version read), create, then
               at once write ids to status and the Secret (crash window ≈ 0)
    org ≠ tier's org → transfer;  name / history retention → PATCH project
    compute (spec over NeonConfig defaults) ≠ endpoint → PATCH endpoint, wait
    password-rotation token new → reset password, wait
    Secret ≠ rendering → write
    spec.auth / spec.dataApi → :mod:`.integrations` (Neon Auth, Data API, their Secret)
    Ready=True, Synced=True

With ``resync=True`` (a Secret repair, from the operator's watch of its Secrets) only the
Secret is checked, from Kubernetes alone. :func:`check_drift` (the drift scheduler's periodic
comparison) runs the whole reconcile for a provisioned project, which reverts out-of-band
changes in Neon too. :func:`settled` tells a resumed resource that needs neither.

Failures end in a ``Ready``/``Synced`` condition saying what to fix and a
:mod:`neon_operator.errors` exception telling the handler when to come back; Neon's transient
errors pass through as they are.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
from typing import Final

import pydantic

from neon_operator import connection, drift, errors, grants, kube, neon, ownership
from neon_operator.accounts import Account, AccountProblem
from neon_operator.models import (
    Compute,
    Consumption,
    DeletionPolicy,
    NeonAppDatabase,
    NeonAppDatabaseStatus,
)
from neon_operator.models.appdatabase import KIND
from neon_operator.neon import inputs
from neon_operator.reconcilers import claims, connection_secret, integrations, steady
from neon_operator.reconcilers.context import Context
from neon_operator.reconcilers.reporting import Report

__all__ = [
    "KIND",
    "PLURAL",
    "check_drift",
    "delete",
    "object_ref",
    "project_name",
    "reconcile",
    "settled",
    "target",
]

PLURAL: Final = "neonappdatabases"
DEFAULT_TRANSIENT_DELAY: Final = 10.0

AppReport = Report[NeonAppDatabaseStatus]


@dataclasses.dataclass
class _Project:
    """What one reconcile knows about the Neon project."""

    id: str
    org_id: str | None
    name: str
    region_id: str
    pg_version: int
    history_retention_seconds: int | None
    origin: str
    """``known`` (id in status), ``created``, ``adopted`` or ``recovered`` (after a crash)."""
    branch_id: str | None = None
    endpoint: neon.Endpoint | None = None
    consumption: Consumption | None = None
    """Current-period usage, as the project's GET reported it."""
    address: str | None = None
    """Where clients connect to the endpoint, as Neon's connection parameters say."""
    password: str | None = dataclasses.field(default=None, repr=False)
    """A password Neon just handed out (create or reset), if any."""


def object_ref(db: NeonAppDatabase) -> kube.ObjectRef:
    """The reference Secrets, status patches and Events use."""
    return kube.ObjectRef(
        kind=KIND,
        plural=PLURAL,
        name=db.metadata.name,
        namespace=db.metadata.namespace,
        uid=db.metadata.uid or "",
    )


def namespace_of(db: NeonAppDatabase) -> str:
    """The resource's namespace (every NeonAppDatabase has one)."""
    return db.metadata.namespace or "default"


def project_name(db: NeonAppDatabase) -> str:
    """The Neon project's name: ``spec.projectName`` or ``<namespace>-<name>``."""
    return db.spec.project_name or f"{db.metadata.namespace}-{db.metadata.name}"


def rotation_token(ctx: Context, db: NeonAppDatabase) -> str | None:
    """The password-rotation token: ``spec.passwordRotation`` and/or the annotation."""
    parts = [
        db.spec.password_rotation,
        db.metadata.annotations.get(ctx.settings.password_rotation_annotation),
    ]
    present = [part for part in parts if part]
    return "/".join(present) if present else None


async def reconcile(ctx: Context, body: dict[str, object], *, resync: bool = False) -> None:
    """Converge the NeonAppDatabase ``body`` (see the module docstring); with ``resync`` only
    its Secret."""
    db = NeonAppDatabase.model_validate(body)
    report: AppReport = Report(ctx, object_ref(db), db.metadata.generation, db.status)
    if await report.paused(db.metadata.annotations):
        return
    async with _outcomes(ctx, db, report):
        if resync and db.status.project_id is None:
            return  # creating belongs to the change handlers; drift checks to the scheduler
        # Every pass checks the grant (a cached lookup), so a revoked one shows at a repair too.
        await ctx.accounts.get(db.spec.config_ref.name, namespace=namespace_of(db))
        if resync and not grants.revoked(db.status):
            await _resync_secret(ctx, db, report)
        else:
            await _converge(ctx, db, report)


async def check_drift(ctx: Context, body: dict[str, object]) -> None:
    """Compare a provisioned project with Neon and put back what changed there; creating
    belongs to the change handlers."""
    if NeonAppDatabase.model_validate(body).status.project_id is not None:
        await reconcile(ctx, body)


def settled(ctx: Context, body: dict[str, object]) -> bool:
    """Whether ``body`` was fully reconciled as it is (see :mod:`.steady`): nothing to ask
    Neon on resume."""
    db = NeonAppDatabase.model_validate(body)
    status = db.status
    complete = None not in (
        status.project_id,
        status.default_branch_id,
        status.endpoint_id,
        status.host,
        status.secret_name,
    )
    return (
        complete
        and status.secret_name == db.spec.connection_secret.secret_name(db.metadata.name)
        and rotation_token(ctx, db) == status.password_rotation
        and db.metadata.deletion_timestamp is None
        and not ctx.settings.is_paused(db.metadata.annotations)
        and steady.observed(status, db.metadata.generation)
    )


def target(body: dict[str, object]) -> drift.Target:
    """What the drift scheduler keeps about ``body``: its NeonConfig, Secret and what a check
    costs (Neon Auth and the Data API add :func:`integrations.drift_calls`)."""
    db = NeonAppDatabase.model_validate(body)
    return steady.target(
        object_ref(db),
        lane=db.spec.config_ref.name,
        secret=db.spec.connection_secret.secret_name(db.metadata.name),
        calls=drift.CHECK_CALLS + integrations.drift_calls(db.spec.auth, db.spec.data_api),
    )


class _outcomes:
    """Turns what went wrong into conditions and a :mod:`neon_operator.errors` exception."""

    def __init__(self, ctx: Context, db: NeonAppDatabase, report: AppReport) -> None:
        self.ctx, self.db, self.report = ctx, db, report

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        if error is None or not isinstance(error, Exception):
            return
        report, delay = self.report, self.ctx.settings.retry_delay
        if isinstance(error, errors.ReconcileError):
            stalled = isinstance(error, errors.AwaitChange)
            await self._fail(error.reason, error.message, stalled=stalled)
            return
        if isinstance(error, AccountProblem):
            await self._fail(error.reason, error.message)
            raise errors.RetryLater(error.reason, error.message, delay=delay) from None
        if isinstance(error, neon.TransientError):
            message = f"Neon is not answering right now, will retry: {error}"
            if report.status.condition("Ready") is None:
                report.ready("False", "Provisioning", message)
            report.synced("False", "NeonUnavailable", message)
            await report.flush()
            return  # the handler retries after Retry-After (or a default delay)
        if isinstance(error, neon.InvalidRequestError):
            message = f"Neon rejected the request: {error.message}; fix the spec"
            await self._fail("NeonRejected", message, stalled=True)
            raise errors.AwaitChange("NeonRejected", message) from None
        if isinstance(error, neon.AuthenticationError):
            await self.ctx.accounts.forget(self.db.spec.config_ref.name)
            message = (
                f"Neon rejected the API key of NeonConfig {self.db.spec.config_ref.name!r}: "
                "put a valid key into its Secret"
            )
            await self._fail("ApiKeyRejected", message)
            raise errors.RetryLater("ApiKeyRejected", message, delay=delay) from None
        if isinstance(error, neon.PermanentError):
            reason = "NeonNotFound" if isinstance(error, neon.NotFound) else "NeonError"
            message = f"Neon: {error}"
            await self._fail(reason, message)
            raise errors.RetryLater(reason, message, delay=delay) from None

    async def _fail(self, reason: str, message: str, *, stalled: bool = False) -> None:
        self.report.ready("False", reason, message, stalled=stalled)
        self.report.synced("False", reason, message)
        self.report.update(last_sync_time=self.ctx.clock())
        await self.report.flush()


# -- the Secret alone (periodic resync) ---------------------------------------------------


async def _resync_secret(ctx: Context, db: NeonAppDatabase, report: AppReport) -> None:
    status = db.status
    if status.project_id is None or status.host is None or status.endpoint_id is None:
        return  # nothing provisioned yet: the change handlers own this resource
    desired = _desired_secret(db, host=status.host, endpoint_id=status.endpoint_id)
    current = await ctx.kube.read_secret(desired.namespace, desired.name)
    password = connection_secret.known_password(current)
    if password is None:
        account = await ctx.accounts.get(db.spec.config_ref.name, namespace=namespace_of(db))
        password = await _reveal_password(account.client, db, status.project_id, status)
    await connection_secret.write(ctx, report, desired, password, current)


# -- the whole thing ----------------------------------------------------------------------


async def _converge(ctx: Context, db: NeonAppDatabase, report: AppReport) -> None:
    account = await ctx.accounts.get(db.spec.config_ref.name, namespace=namespace_of(db))
    org_id = account.org_for(db.spec.tier)
    try:
        compute = db.spec.compute.with_defaults(account.config.spec.defaults.compute)
    except pydantic.ValidationError as error:
        problem = "; ".join(str(e["msg"]) for e in error.errors(include_url=False))
        message = (
            f"spec.compute combined with NeonConfig {account.name!r} defaults.compute is "
            f"invalid: {problem}"
        )
        raise errors.AwaitChange("InvalidSpec", message) from None
    client = account.client
    project = await _locate(ctx, db, report, account, org_id, compute)
    report.update(last_sync_time=ctx.clock())
    _check_pinned(db, project)

    if project.org_id != org_id:
        await account.transfers.transfer(project.org_id or "", org_id, project.id)
        await report.event(
            "Normal", "ProjectTransferred", f"project {project.id} moved to tier {db.spec.tier}"
        )
        project.org_id = org_id
    report.update(org_id=org_id, tier=db.spec.tier)

    await _update_project(client, db, report, project)
    await _update_compute(client, db, report, project, compute)

    assert project.endpoint is not None
    assert project.branch_id is not None
    assert project.address is not None
    status = report.status
    token = rotation_token(ctx, db)
    desired = _desired_secret(db, host=project.address, endpoint_id=project.endpoint.id)
    current = await ctx.kube.read_secret(desired.namespace, desired.name)
    password = project.password
    if project.origin == "created":
        report.update(password_rotation=token)
    elif token is not None and token != status.password_rotation:
        result = await client.reset_role_password(
            project.id, project.branch_id, db.spec.branch.role_name
        )
        await client.wait_for_operations(result.operations)
        password = result.role.password.get_secret_value() if result.role.password else None
        report.update(password_rotation=token)
        await report.event("Normal", "PasswordRotated", f"new password for role {result.role.name}")
    if password is None:
        password = connection_secret.known_password(current) or await _reveal_password(
            client, db, project.id, report.status
        )
    await connection_secret.write(ctx, report, desired, password, current)
    await _drop_renamed_secret(ctx, db, desired.name)
    await integrations.converge(
        ctx,
        report,
        client,
        integrations.Target(
            project_id=project.id,
            branch_id=project.branch_id,
            database=db.spec.branch.database_name,
            owner=object_ref(db),
            key_prefix=db.spec.connection_secret.key_prefix,
        ),
        auth=db.spec.auth,
        data_api=db.spec.data_api,
    )

    report.ready(
        "True",
        "ProjectReady",
        f"Neon project {project.id} is ready; connection strings are in Secret {desired.name}",
    )
    report.synced("True", "ReconcileSucceeded", "")
    await report.flush()


async def _locate(
    ctx: Context,
    db: NeonAppDatabase,
    report: AppReport,
    account: Account,
    org_id: str,
    compute: Compute,
) -> _Project:
    """Find the project this resource owns, adopting or creating it when needed."""
    client = account.client
    status = db.status
    if status.project_id is not None:
        project = _project(await client.get_project(status.project_id), "known")
        project.branch_id = status.default_branch_id
    elif db.spec.adopt_project_id is not None:
        try:
            found = await client.get_project(db.spec.adopt_project_id)
        except neon.NotFound:
            raise errors.AwaitChange(
                "AdoptedProjectNotFound",
                f"spec.adoptProjectId {db.spec.adopt_project_id!r} is not a project this "
                f"NeonConfig's API key can see; check the id (it cannot be changed: recreate "
                "the NeonAppDatabase with the right one)",
            ) from None
        project = _project(found, "adopted")
        project.branch_id = await _adoptable_default_branch(ctx, db, client, found.id)
    else:
        recovered = await claims.claim(
            ctx,
            report,
            made="projectId",
            find=lambda: ownership.find_created(  # an earlier create may have reached Neon
                client,
                name=project_name(db),
                org_id=org_id,
                key=ctx.settings.owner_annotation,
                uid=db.metadata.uid or "",
            ),
        )
        if recovered is None:
            return await _create(ctx, db, report, client, org_id, compute)
        project = _project(await client.get_project(recovered.id), "recovered")
    if project.branch_id is None:
        branches = await client.list_branches(project.id)
        default = next((b for b in branches if b.default), None)
        if default is None:
            raise errors.AwaitChange(
                "NoDefaultBranch", f"project {project.id} has no default branch"
            )
        project.branch_id = default.id
    endpoints = await client.list_endpoints(project.id)
    moved = next((e for e in endpoints if e.id == db.status.endpoint_id), None)
    if moved is not None and moved.branch_id != project.branch_id:
        # A snapshot restore replaced the default branch; Neon moved its compute to the new one.
        await report.event(
            "Normal", "DefaultBranchReplaced", f"default branch is now {moved.branch_id}"
        )
        project.branch_id = moved.branch_id
    project.endpoint = next(
        (e for e in endpoints if e.branch_id == project.branch_id and e.type == "read_write"),
        None,
    )
    if project.endpoint is None:
        created = await client.create_endpoint(
            project.id,
            inputs.EndpointCreate(branch_id=project.branch_id, **_endpoint_limits(compute)),
        )
        await client.wait_for_operations(created.operations)
        project.endpoint = created.endpoint
    known = db.status.host if db.status.endpoint_id == project.endpoint.id else None
    project.address = await connection_secret.address(
        client,
        project.id,
        project.endpoint,
        role=db.spec.branch.role_name,
        database=db.spec.branch.database_name,
        known=known,
    )
    if project.origin != "known":
        verb = {"adopted": "ProjectAdopted", "recovered": "ProjectRecovered"}[project.origin]
        await report.event("Normal", verb, f"took over Neon project {project.id}")
    _record_ids(report, project)
    await report.flush()
    return project


async def _adoptable_default_branch(
    ctx: Context, db: NeonAppDatabase, client: neon.NeonClient, project_id: str
) -> str | None:
    """The default branch of the project to adopt, once its annotations show it may be adopted
    from this namespace (:func:`neon_operator.ownership.adoption_refusal`)."""
    branches = await client.list_branches(project_id)
    default = next((b for b in branches if b.default), None)
    refusal = ownership.adoption_refusal(
        default.annotations if default is not None else {},
        key=ctx.settings.owner_annotation,
        namespace_key=ctx.settings.owner_namespace_annotation,
        namespace=namespace_of(db),
    )
    if refusal is not None:
        raise errors.AwaitChange(
            "AdoptionRefused",
            f"spec.adoptProjectId {project_id!r} is not adoptable from namespace "
            f"{namespace_of(db)!r}: {refusal}; adopt only projects made for this namespace or "
            "not by this operator (a cluster admin hands a retained project over by setting its "
            f"default branch's Neon annotation {ctx.settings.owner_namespace_annotation!r} to "
            "this namespace)",
        )
    return default.id if default is not None else None


async def _create(
    ctx: Context,
    db: NeonAppDatabase,
    report: AppReport,
    client: neon.NeonClient,
    org_id: str,
    compute: Compute,
) -> _Project:
    account = await ctx.accounts.get(db.spec.config_ref.name, namespace=namespace_of(db))
    account_defaults = account.config.spec.defaults
    branch = db.spec.branch
    request = inputs.ProjectCreate(
        name=project_name(db),
        org_id=org_id,
        region_id=db.spec.region_id or account_defaults.region_id,
        pg_version=db.spec.pg_version or account_defaults.pg_version,
        history_retention_seconds=db.spec.history_retention_seconds,
        branch=inputs.ProjectBranchSpec(
            name=branch.name,
            role_name=branch.role_name,
            database_name=branch.database_name,
            annotations=ownership.owner_annotations(
                ctx.settings.owner_annotation,
                db.metadata.uid or "",
                namespace_key=ctx.settings.owner_namespace_annotation,
                namespace=namespace_of(db),
            ),
        ),
        default_endpoint_settings=inputs.EndpointSettings(**_endpoint_limits(compute)),
    )
    created = await client.create_project(request)  # claimed: a restart looks for it first
    ctx.crash_after("create_project")
    endpoint = next((e for e in created.endpoints if e.type == "read_write"), None)
    role = next((r for r in created.roles if r.name == branch.role_name), None)
    if endpoint is None or role is None or role.password is None:
        raise errors.RetryLater(
            "UnexpectedCreateResponse",
            f"Neon created project {created.project.id} without a read_write compute or the "
            f"role {branch.role_name!r} with its password",
            delay=ctx.settings.retry_delay,
        )
    project = _project(created.project, "created")
    project.branch_id = created.branch.id
    project.endpoint = endpoint
    project.password = role.password.get_secret_value()
    project.address = await connection_secret.address(
        client,
        created.project.id,
        endpoint,
        role=branch.role_name,
        database=branch.database_name,
        known=connection_secret.address_in(
            created.connection_uris, role=branch.role_name, database=branch.database_name
        ),
    )
    _record_ids(report, project)
    report.update(org_id=org_id, tier=db.spec.tier)
    report.ready("False", "Provisioning", f"Neon is provisioning project {project.id}")
    await report.flush()  # the id is safe in status before anything else can fail
    await report.event("Normal", "ProjectCreated", f"created Neon project {project.id}")
    desired = _desired_secret(db, host=project.address, endpoint_id=endpoint.id)
    await connection_secret.write(ctx, report, desired, project.password, None)
    await client.wait_for_operations(created.operations)
    return project


def _consumption(found: neon.Project) -> Consumption:
    def moment(value: datetime.datetime | None) -> datetime.datetime | None:
        return value if value is not None and value.year > 1 else None  # Neon's "unset" is 0001

    return Consumption(
        compute_time_seconds=found.compute_time_seconds,
        active_time_seconds=found.active_time_seconds,
        written_data_bytes=found.written_data_bytes,
        data_transfer_bytes=found.data_transfer_bytes,
        synthetic_storage_size_bytes=found.synthetic_storage_size,
        period_start=moment(found.consumption_period_start),
        period_end=moment(found.consumption_period_end),
    )


def _project(found: neon.Project, origin: str) -> _Project:
    return _Project(
        id=found.id,
        org_id=found.org_id,
        name=found.name,
        region_id=found.region_id,
        pg_version=found.pg_version,
        history_retention_seconds=found.history_retention_seconds,
        origin=origin,
        consumption=_consumption(found),
    )


def _record_ids(report: AppReport, project: _Project) -> None:
    endpoint = project.endpoint
    if project.consumption is not None:
        report.update(consumption=project.consumption)
    report.update(
        project_id=project.id,
        region_id=project.region_id,
        pg_version=project.pg_version,
        default_branch_id=project.branch_id,
        endpoint_id=endpoint.id if endpoint else None,
        host=project.address if endpoint else None,
        pooler_host=(
            connection.pooler_host(project.address, endpoint.id)
            if endpoint and project.address
            else None
        ),
    )


def _check_pinned(db: NeonAppDatabase, project: _Project) -> None:
    mismatches = []
    if db.spec.region_id is not None and db.spec.region_id != project.region_id:
        mismatches.append(
            f"spec.regionId is {db.spec.region_id} but the project is in {project.region_id}"
        )
    if db.spec.pg_version is not None and db.spec.pg_version != project.pg_version:
        mismatches.append(
            f"spec.pgVersion is {db.spec.pg_version} but the project runs "
            f"Postgres {project.pg_version}"
        )
    if mismatches:
        raise errors.AwaitChange(
            "ImmutableFieldMismatch",
            "; ".join(mismatches) + ": Neon cannot change these; match the project or use a new "
            "NeonAppDatabase",
        )


async def _update_project(
    client: neon.NeonClient, db: NeonAppDatabase, report: AppReport, project: _Project
) -> None:
    changes: dict[str, object] = {}
    wanted_name = project_name(db)
    renames = project.origin != "adopted" or db.spec.project_name is not None
    if renames and project.origin != "created" and project.name != wanted_name:
        changes["name"] = wanted_name
    retention = db.spec.history_retention_seconds
    if retention is not None and retention != project.history_retention_seconds:
        changes["history_retention_seconds"] = retention
    if not changes:
        return
    result = await client.update_project(project.id, inputs.ProjectUpdate.model_validate(changes))
    await client.wait_for_operations(result.operations)
    described = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in changes.items())
    await report.event("Normal", "ProjectUpdated", f"project {project.id}: {described}")


def _endpoint_limits(compute: Compute) -> dict[str, float | int]:
    limits: dict[str, float | int | None] = {
        "autoscaling_limit_min_cu": compute.min_cu,
        "autoscaling_limit_max_cu": compute.max_cu,
        "suspend_timeout_seconds": compute.suspend_timeout_seconds,
    }
    return {k: v for k, v in limits.items() if v is not None}


async def _update_compute(
    client: neon.NeonClient,
    db: NeonAppDatabase,
    report: AppReport,
    project: _Project,
    compute: Compute,
) -> None:
    endpoint = project.endpoint
    assert endpoint is not None
    wanted = _endpoint_limits(compute)
    if all(getattr(endpoint, key) == value for key, value in wanted.items()):
        return
    result = await client.update_endpoint(
        project.id, endpoint.id, inputs.EndpointUpdate.model_validate(wanted)
    )
    await client.wait_for_operations(result.operations)
    project.endpoint = result.endpoint
    updated = result.endpoint
    suspend = {-1: "never suspends", 0: "suspends after Neon's default idle time"}.get(
        updated.suspend_timeout_seconds, f"suspends after {updated.suspend_timeout_seconds}s idle"
    )
    await report.event(
        "Normal",
        "ComputeUpdated",
        f"compute {updated.id}: {updated.autoscaling_limit_min_cu:g}-"
        f"{updated.autoscaling_limit_max_cu:g} CU, {suspend}",
    )


async def _reveal_password(
    client: neon.NeonClient,
    db: NeonAppDatabase,
    project_id: str,
    status: NeonAppDatabaseStatus,
) -> str:
    """The role's password from Neon; reset when Neon stores none (``store_passwords=false``)."""
    branch_id = status.default_branch_id
    if branch_id is None:
        raise errors.RetryLater("Provisioning", "default branch unknown yet", delay=5.0)
    role = db.spec.branch.role_name
    try:
        return (await client.reveal_role_password(project_id, branch_id, role)).get_secret_value()
    except neon.ForbiddenError:
        result = await client.reset_role_password(project_id, branch_id, role)
        await client.wait_for_operations(result.operations)
        if result.role.password is None:
            raise
        return result.role.password.get_secret_value()


def _desired_secret(
    db: NeonAppDatabase, *, host: str, endpoint_id: str
) -> connection_secret.Desired:
    return connection_secret.desired(
        db.spec.connection_secret,
        owner=object_ref(db),
        host=host,
        endpoint_id=endpoint_id,
        user=db.spec.branch.role_name,
        database=db.spec.branch.database_name,
    )


async def _drop_renamed_secret(ctx: Context, db: NeonAppDatabase, name: str) -> None:
    previous = db.status.secret_name
    if previous is None or previous == name:
        return
    namespace = namespace_of(db)
    await connection_secret.delete_owned(ctx.kube, namespace, previous, db.metadata.uid or "")


# -- deletion -----------------------------------------------------------------------------


async def delete(ctx: Context, body: dict[str, object]) -> None:
    """Delete or keep the Neon project as ``spec.deletionPolicy`` says (the Secret goes with
    the resource through its ownerReference)."""
    db = NeonAppDatabase.model_validate(body)
    report: AppReport = Report(ctx, object_ref(db), db.metadata.generation, db.status)
    project_id = db.status.project_id
    if ctx.settings.is_paused(db.metadata.annotations):
        if project_id is not None:
            await report.event(
                "Warning", "ProjectRetained", f"paused: Neon project {project_id} left as it is"
            )
        return
    if db.spec.deletion_policy == DeletionPolicy.RETAIN:
        if project_id is not None:
            await report.event(
                "Normal", "ProjectRetained", f"deletionPolicy Retain: project {project_id} kept"
            )
        return
    try:  # no grant check: a revoked namespace may still clean up what it made
        account = await ctx.accounts.get(db.spec.config_ref.name, namespace=None)
    except AccountProblem as problem:
        if project_id is None:
            return  # never provisioned through a usable NeonConfig
        message = f"cannot delete Neon project {project_id}: {problem.message}"
        report.ready("False", problem.reason, message)
        await report.flush()
        raise errors.RetryLater(problem.reason, message, delay=ctx.settings.retry_delay) from None
    async with _outcomes(ctx, db, report):
        client = account.client
        if (
            project_id is None
            and db.spec.adopt_project_id is None
            and db.status.creation_requested is not None
        ):
            tier_org = account.config.spec.organizations.get(db.spec.tier)
            if tier_org is not None:
                found = await ownership.find_created(
                    client,
                    name=project_name(db),
                    org_id=tier_org,
                    key=ctx.settings.owner_annotation,
                    uid=db.metadata.uid or "",
                )
                project_id = found.id if found else None
        if project_id is None:
            return
        with contextlib.suppress(neon.NotFound):
            await client.delete_project(project_id)
        await report.event("Normal", "ProjectDeleted", f"deleted Neon project {project_id}")
