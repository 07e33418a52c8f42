"""NeonAppDatabase: converge one Neon project and its connection Secret with the resource.

:func:`reconcile` is level-based: whatever happened before, it finds the project (by the id in
status, the id to adopt, or the uid stamped on a project a crashed run created), creates it
only when none exists, then brings Neon and the Secret to the spec (the reconcile idiom of
CONTRIBUTING.md: observe → create │ update → publish)::

    resolve NeonConfig → tier's org, compute (spec over NeonConfig defaults: endpoints.wanted)
    _observe   project in status.projectId │ spec.adoptProjectId (reads only): its default
               branch and that branch's read_write compute
    _recover   none: claim the creation (claims: one instance, at the version read); a project
               an earlier claim made (uid annotation, a crash) → take it over
    _create    still none: create, at once write ids to status and the Secret (crash window ≈ 0)
    update     found: compute missing → create it; ids to status. Then org ≠ tier's org →
               transfer; name / history retention → PATCH project; compute ≠ endpoint → PATCH
               endpoint, wait; password-rotation token new → reset password, wait
    _publish   Secret ≠ rendering → write; spec.auth / spec.dataApi → :mod:`.integrations`
               (Neon Auth, Data API, their Secret); Ready=True, Synced=True

With ``resync=True`` (a Secret repair, from the operator's watch of its Secrets) only the
Secret is checked, from Kubernetes alone. :func:`check_drift` (the drift scheduler's periodic
comparison) runs the whole reconcile for a provisioned project, which reverts out-of-band
changes in Neon too. :func:`settled` tells a resumed resource that needs neither.

Failures end in a ``Ready``/``Synced`` condition saying what to fix and a
:mod:`neon_operator.errors` exception telling the handler when to come back
(:class:`~.outcomes.Outcomes`); Neon's transient errors pass through as they are.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
from collections.abc import Sequence
from typing import Final

from neon_operator import connection, drift, errors, grants, neon, ownership
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
from neon_operator.reconcilers import (
    claims,
    connection_secret,
    endpoints,
    integrations,
    passwords,
    steady,
)
from neon_operator.reconcilers.context import Context
from neon_operator.reconcilers.outcomes import Outcomes
from neon_operator.reconcilers.references import PLURALS, namespace_of, object_ref
from neon_operator.reconcilers.reporting import Report

__all__ = [
    "KIND",
    "PLURAL",
    "check_drift",
    "delete",
    "project_name",
    "reconcile",
    "settled",
    "target",
]

PLURAL: Final = PLURALS[KIND]
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
    branch_replaced: bool = False
    """A restore replaced the default branch in status (Neon moved the compute to ``branch_id``)."""


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
    async with Outcomes(ctx, report, db.spec.config_ref.name):
        if resync and db.status.project_id is None:
            return  # creating belongs to the change handlers; drift checks to the scheduler
        # Every pass checks the grant (a cached lookup), so a revoked one shows at a repair too.
        account = await ctx.accounts.get(db.spec.config_ref.name, namespace=namespace_of(db))
        if resync and not grants.revoked(db.status):
            await _resync_secret(ctx, db, report, account.client)
        else:
            await _converge(ctx, db, report, account)


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


# -- the whole thing: observe → create │ update → publish ---------------------------------


async def _converge(ctx: Context, db: NeonAppDatabase, report: AppReport, account: Account) -> None:
    org_id = account.org_for(db.spec.tier)
    compute = endpoints.wanted(db.spec.compute, account)
    client = account.client
    # The tier's organization first; a tier changed since an earlier create left it elsewhere.
    orgs = [org_id, *account.config.spec.organizations.values()]
    project = await _observe(ctx, db, client) or await _recover(ctx, db, report, client, orgs)
    created = False
    if project is None:
        where = f"tier {db.spec.tier!r} of NeonConfig {account.name!r}"
        async with account.capacity.creating(  # a full organization: wait without asking Neon
            org_id, where=where, recheck=ctx.settings.retry_delay
        ):
            project, operations = await _create(ctx, db, report, account, org_id, compute)
            # Neon shows the role's new password only now: into the Secret before anything waits.
            await _publish_secret(ctx, db, report, client, project, project.password)
            await client.wait_for_operations(operations)
            created = True
    assert project is not None
    if not created:
        await _ensure_endpoint(client, project, compute)
        await _record_found(db, report, client, project)
    report.update(last_sync_time=ctx.clock())

    _check_pinned(db, project)
    await _transfer(account, db, report, project, org_id)
    await _update_project(client, db, report, project)
    assert project.endpoint is not None
    project.endpoint = await endpoints.update_limits(
        client, report, project.id, project.endpoint, compute
    )
    password = await _rotate_password(ctx, client, db, report, project)

    await _publish(ctx, db, report, client, project, password)


# -- observe: the project as Neon has it (reads only) -------------------------------------


async def _observe(ctx: Context, db: NeonAppDatabase, client: neon.NeonClient) -> _Project | None:
    """The project this resource owns: the one in status, or the one to adopt (once Neon's
    annotations allow it); ``None`` when it has none yet."""
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
        return None
    await _observe_branch(client, db, project)
    return project


async def _observe_branch(client: neon.NeonClient, db: NeonAppDatabase, project: _Project) -> None:
    """Fill in ``project``'s default branch and that branch's read_write compute (``None``: it
    has none), following a restore that replaced the default branch."""
    if project.branch_id is None:
        branches = await client.list_branches(project.id)
        default = next((b for b in branches if b.default), None)
        if default is None:
            raise errors.AwaitChange(
                "NoDefaultBranch", f"project {project.id} has no default branch"
            )
        project.branch_id = default.id
    computes = await client.list_endpoints(project.id)
    moved = next((e for e in computes if e.id == db.status.endpoint_id), None)
    if moved is not None and moved.branch_id != project.branch_id:
        # A snapshot restore replaced the default branch; Neon moved its compute to the new one.
        project.branch_id = moved.branch_id
        project.branch_replaced = True
    project.endpoint = next(
        (e for e in computes if e.branch_id == project.branch_id and e.type == "read_write"),
        None,
    )


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


# -- create: claim, recover after a crash, or create --------------------------------------


async def _recover(
    ctx: Context,
    db: NeonAppDatabase,
    report: AppReport,
    client: neon.NeonClient,
    org_ids: Sequence[str],
) -> _Project | None:
    """Claim the creation (:mod:`.claims`); the project an earlier claim made (its uid
    annotation: a crash between Neon's answer and the status write) is taken over."""
    recovered = await claims.claim(
        ctx,
        report,
        made="projectId",
        find=lambda: ownership.find_created(  # an earlier create may have reached Neon
            client,
            name=project_name(db),
            org_ids=org_ids,
            key=ctx.settings.owner_annotation,
            uid=db.metadata.uid or "",
        ),
    )
    if recovered is None:
        return None
    project = _project(await client.get_project(recovered.id), "recovered")
    await _observe_branch(client, db, project)
    return project


async def _create(
    ctx: Context,
    db: NeonAppDatabase,
    report: AppReport,
    account: Account,
    org_id: str,
    compute: Compute,
) -> tuple[_Project, list[neon.Operation]]:
    """Create the project (claimed: a restart looks for it first) and write its ids to status
    at once; the operations still running."""
    client = account.client
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
        default_endpoint_settings=inputs.EndpointSettings(**endpoints.limits(compute)),
    )
    created = await client.create_project(request)
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
    await report.created(
        "ProjectCreated",
        f"created Neon project {project.id}",
        provisioning=f"Neon is provisioning project {project.id}",
    )
    return project, created.operations


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
        source="project",
    )


def _kept(current: Consumption | None, found: Consumption) -> Consumption:
    """What a drift check records: the project's counters, unless the consumption poller
    (:mod:`neon_operator.handlers.consumption`) wrote history there; the drift check then adds
    only the data transfer the history lacks, so the two sources never take turns."""
    if current is None or current.source != "history":
        return found
    return current.model_copy(update={"data_transfer_bytes": found.data_transfer_bytes})


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


# -- update: bring the project and its compute to the spec --------------------------------


async def _ensure_endpoint(client: neon.NeonClient, project: _Project, compute: Compute) -> None:
    """Give the default branch a read_write compute when it has none."""
    if project.endpoint is not None:
        return
    assert project.branch_id is not None
    created = await client.create_endpoint(
        project.id,
        inputs.EndpointCreate(branch_id=project.branch_id, **endpoints.limits(compute)),
    )
    await client.wait_for_operations(created.operations)
    project.endpoint = created.endpoint


async def _record_found(
    db: NeonAppDatabase, report: AppReport, client: neon.NeonClient, project: _Project
) -> None:
    """Write a found project's ids and address to status; say what changed hands."""
    assert project.endpoint is not None
    known = db.status.host if db.status.endpoint_id == project.endpoint.id else None
    project.address = await connection_secret.address(
        client,
        project.id,
        project.endpoint,
        role=db.spec.branch.role_name,
        database=db.spec.branch.database_name,
        known=known,
    )
    if project.branch_replaced:
        await report.event(
            "Normal", "DefaultBranchReplaced", f"default branch is now {project.branch_id}"
        )
    if project.origin != "known":
        verb = {"adopted": "ProjectAdopted", "recovered": "ProjectRecovered"}[project.origin]
        await report.event("Normal", verb, f"took over Neon project {project.id}")
    _record_ids(report, project)
    await report.flush()


def _record_ids(report: AppReport, project: _Project) -> None:
    endpoint = project.endpoint
    if project.consumption is not None:
        report.update(consumption=_kept(report.status.consumption, project.consumption))
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


async def _transfer(
    account: Account, db: NeonAppDatabase, report: AppReport, project: _Project, org_id: str
) -> None:
    """Move the project to the organization of ``spec.tier`` when it is elsewhere."""
    if project.org_id != org_id:
        await account.transfers.transfer(project.org_id or "", org_id, project.id)
        account.capacity.room(project.org_id or "")  # a waiter of that tier may go now
        await report.event(
            "Normal", "ProjectTransferred", f"project {project.id} moved to tier {db.spec.tier}"
        )
        project.org_id = org_id
    report.update(org_id=org_id, tier=db.spec.tier)


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


async def _rotate_password(
    ctx: Context,
    client: neon.NeonClient,
    db: NeonAppDatabase,
    report: AppReport,
    project: _Project,
) -> str | None:
    """Reset the role's password when the rotation token is new; the password Neon handed out
    (at creation or reset), if any."""
    token = rotation_token(ctx, db)
    if project.origin == "created":
        report.update(password_rotation=token)
        return project.password
    if token is None or token == report.status.password_rotation:
        return project.password
    assert project.branch_id is not None
    role = db.spec.branch.role_name
    password = await passwords.reset(client, project.id, project.branch_id, role)
    report.update(password_rotation=token)
    await report.event("Normal", "PasswordRotated", f"new password for role {role}")
    return password


# -- publish: the Secrets and the status --------------------------------------------------


async def _publish(
    ctx: Context,
    db: NeonAppDatabase,
    report: AppReport,
    client: neon.NeonClient,
    project: _Project,
    password: str | None,
) -> None:
    assert project.branch_id is not None
    name = await _publish_secret(ctx, db, report, client, project, password)
    await _drop_renamed_secret(ctx, db, name)
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
    await report.succeeded(
        "ProjectReady",
        f"Neon project {project.id} is ready; connection strings are in Secret {name}",
    )


async def _publish_secret(
    ctx: Context,
    db: NeonAppDatabase,
    report: AppReport,
    client: neon.NeonClient,
    project: _Project,
    password: str | None,
) -> str:
    """Write the connection Secret (``password``, else the one it holds, else Neon's); its
    name."""
    assert project.endpoint is not None
    assert project.address is not None
    return await _write_secret(
        ctx,
        db,
        report,
        client,
        project.id,
        host=project.address,
        endpoint_id=project.endpoint.id,
        password=password,
    )


async def _resync_secret(
    ctx: Context, db: NeonAppDatabase, report: AppReport, client: neon.NeonClient
) -> None:
    """The Secret alone, from Kubernetes (Neon only when it must be rebuilt)."""
    status = db.status
    if status.project_id is None or status.host is None or status.endpoint_id is None:
        return  # nothing provisioned yet: the change handlers own this resource
    await _write_secret(
        ctx,
        db,
        report,
        client,
        status.project_id,
        host=status.host,
        endpoint_id=status.endpoint_id,
        password=None,
    )


async def _write_secret(
    ctx: Context,
    db: NeonAppDatabase,
    report: AppReport,
    client: neon.NeonClient,
    project_id: str,
    *,
    host: str,
    endpoint_id: str,
    password: str | None,
) -> str:
    desired = connection_secret.desired(
        db.spec.connection_secret,
        owner=object_ref(db),
        host=host,
        endpoint_id=endpoint_id,
        user=db.spec.branch.role_name,
        database=db.spec.branch.database_name,
    )
    current = await ctx.kube.read_secret(desired.namespace, desired.name)
    if password is None:
        password = connection_secret.known_password(current)
    if password is None:
        branch_id = report.status.default_branch_id
        if branch_id is None:
            raise errors.RetryLater("Provisioning", "default branch unknown yet", delay=5.0)
        password = await passwords.reveal_or_reset(
            client, project_id, branch_id, db.spec.branch.role_name
        )
    await connection_secret.write(ctx, report, desired, password, current)
    return desired.name


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
        raise await report.waiting(problem.reason, message) from None
    async with Outcomes(ctx, report, db.spec.config_ref.name):
        client = account.client
        organizations = account.config.spec.organizations
        tier_org = organizations.get(db.spec.tier)

        async def made_here() -> neon.ProjectListItem | None:
            if db.spec.adopt_project_id is not None:
                return None  # an adopted project is only deleted once it is in status
            return await ownership.find_created(
                client,
                name=project_name(db),
                # The tier may have changed since the create: every tier's organization.
                org_ids=[*([tier_org] if tier_org else []), *organizations.values()],
                key=ctx.settings.owner_annotation,
                uid=db.metadata.uid or "",
            )

        project_id = await claims.created_id(project_id, db.status, made_here)
        if project_id is None:
            return
        with contextlib.suppress(neon.NotFound):
            await client.delete_project(project_id)
        account.capacity.room(db.status.org_id or tier_org or "")  # a waiter may go now
        await report.event("Normal", "ProjectDeleted", f"deleted Neon project {project_id}")
