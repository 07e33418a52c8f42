"""NeonBranch: converge one Neon branch, its compute and its connection Secret with the resource.

::

    NeonAppDatabase (same namespace) or parent NeonBranch missing / not Ready
      └─ Ready=False ParentNotFound / ParentNotReady, retry in retryDelay (waiting, not failed)
    own the resource by the NeonAppDatabase (garbage collected with it)
    _observe   branch id in status ─→ GET branch (follow a NeonRestore's replacement)
    _recover   none: claim the creation (claims: one operator instance, at the version read);
               a branch an earlier claim made (annotated with this resource's uid) → take it over
    _create    a branch of that name made by anyone else → Ready=False BranchNameTaken
               parentTimestamp outside the history window → Ready=False OutsideHistoryWindow
               else create branch + compute in one call, annotated
               ``neon.operator.dev/uid: <metadata.uid>``; ids to status at once
    update     name ≠ spec → rename; compute wanted ≠ endpoint → create / PATCH endpoint, wait
    _publish   Secret ≠ rendering → write (user and database of the app's default branch);
               spec.auth / spec.dataApi → :mod:`.integrations` (the branch's own Neon Auth and
               Data API); Ready=True

The Neon branch name is ``spec.branchName`` or ``metadata.name``: unique among the app's
NeonBranches because NeonBranches of one namespace have unique names. A restarted operator finds
a branch it created but never recorded by the uid annotation (Neon's branch annotations), as
projects are found: never a same-named branch someone else made.

Deletion (``deletionPolicy: Delete``) deletes the Neon branch; Neon's ``NotFound`` (the project
is already gone with its NeonAppDatabase) counts as done. Neon refuses to delete a branch that
has children: the resource then waits (``BranchHasChildren``) until those are deleted.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any, Final

from neon_operator import drift, errors, grants, neon
from neon_operator.models import (
    Compute,
    ComputeType,
    DeletionPolicy,
    NeonAppDatabase,
    NeonBranch,
    NeonBranchStatus,
)
from neon_operator.models import appdatabase as appdatabase_model
from neon_operator.models.branch import KIND
from neon_operator.neon import inputs
from neon_operator.reconcilers import (
    claims,
    connection_secret,
    dependents,
    endpoints,
    integrations,
    passwords,
    references,
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
    "reconcile",
    "settled",
    "target",
]

PLURAL: Final = PLURALS[KIND]
WINDOW_HINTS: Final = ("window", "future", "precedes", "ahead of", "retention", "history")
"""Words of Neon's 400 messages about a point in time it cannot branch from."""

BranchReport = Report[NeonBranchStatus]


def branch_name(br: NeonBranch) -> str:
    """The Neon branch's name: ``spec.branchName`` or ``metadata.name``."""
    return br.spec.branch_name or br.metadata.name


@dataclasses.dataclass
class _Found:
    """The branch as this reconcile knows it."""

    branch: neon.Branch
    endpoint: neon.Endpoint | None = None
    address: str | None = None
    """Where clients connect to ``endpoint``, when a create response said so."""
    password: str | None = dataclasses.field(default=None, repr=False)
    replaced: str | None = None
    """The branch id in status that a NeonRestore replaced by ``branch``."""


async def reconcile(ctx: Context, body: dict[str, Any], *, resync: bool = False) -> None:
    """Converge the NeonBranch ``body`` (see the module docstring)."""
    br = NeonBranch.model_validate(body)
    report: BranchReport = Report(ctx, object_ref(br), br.metadata.generation, br.status)
    if await report.paused(br.metadata.annotations):
        return
    if (
        resync
        and not grants.revoked(br.status)
        and (br.status.branch_id is None or _restored_to(br) is None)
    ):
        if br.status.branch_id is not None:
            await _resync_secret(ctx, br, report)
        return
    async with Outcomes(ctx, report, references.config_name(br.status)) as guard:
        app = await dependents.owning_app(ctx, guard, body, br.spec.app_database_ref.name)
        await _converge(ctx, br, app, report)


async def check_drift(ctx: Context, body: dict[str, Any]) -> None:
    """Compare a created branch and its compute with Neon and put back what changed there."""
    if NeonBranch.model_validate(body).status.branch_id is not None:
        await reconcile(ctx, body)


def settled(ctx: Context, body: dict[str, Any]) -> bool:
    """Whether ``body`` was fully reconciled as it is (see :mod:`.steady`): nothing to ask Neon
    on resume."""
    br = NeonBranch.model_validate(body)
    status = br.status
    computed = br.spec.compute.type == ComputeType.NONE or (
        None not in (status.endpoint_id, status.host)
        and status.secret_name == br.spec.connection_secret.secret_name(br.metadata.name)
    )
    return (
        status.branch_id is not None
        and computed
        and _restored_to(br) is None
        and br.metadata.deletion_timestamp is None
        and not ctx.settings.is_paused(br.metadata.annotations)
        and steady.observed(status, br.metadata.generation)
    )


def target(body: dict[str, Any]) -> drift.Target:
    """What the drift scheduler keeps about ``body``: its NeonConfig, Secret and what a check
    costs (Neon Auth and the Data API add :func:`integrations.drift_calls`)."""
    br = NeonBranch.model_validate(body)
    has_secret = br.spec.compute.type != ComputeType.NONE
    return steady.target(
        object_ref(br),
        lane=references.config_name(br.status),
        secret=br.spec.connection_secret.secret_name(br.metadata.name) if has_secret else None,
        calls=drift.CHECK_CALLS + integrations.drift_calls(br.spec.auth, br.spec.data_api),
    )


def _restored_to(br: NeonBranch) -> str | None:
    """The branch id a NeonRestore announced, if it is not yet the one in status."""
    announced = br.metadata.annotations.get(dependents.RESTORED_ANNOTATION)
    return announced if announced and announced != br.status.branch_id else None


async def _parent_branch_id(
    ctx: Context, br: NeonBranch, app: NeonAppDatabase, report: BranchReport
) -> str:
    ref = br.spec.parent_branch_ref
    if ref is None:
        assert app.status.default_branch_id is not None
        return app.status.default_branch_id

    async def same_project(parent: NeonBranch) -> None:
        if parent.spec.app_database_ref.name != br.spec.app_database_ref.name:
            raise errors.AwaitChange(
                "ParentMismatch",
                f"parent NeonBranch {ref.name!r} belongs to NeonAppDatabase "
                f"{parent.spec.app_database_ref.name!r}, not {br.spec.app_database_ref.name!r}: "
                "a branch and its parent must live in the same project",
            )

    parent = await references.read_ready(
        ctx,
        report,
        references.reference(KIND, ref.name, namespace_of(br)),
        parse=NeonBranch.model_validate,
        label="parent NeonBranch",
        made=lambda parent: parent.status.branch_id,
        check=same_project,
    )
    assert parent.status.branch_id is not None
    return parent.status.branch_id


async def _converge(
    ctx: Context, br: NeonBranch, app: NeonAppDatabase, report: BranchReport
) -> None:
    """observe → create │ update → publish (see CONTRIBUTING.md, "The reconcile idiom")."""
    account = await ctx.accounts.get(app.spec.config_ref.name, namespace=namespace_of(br))
    client = account.client
    compute = endpoints.wanted(br.spec.compute, account)
    project_id = app.status.project_id
    assert project_id is not None
    report.update(project_id=project_id, config_name=account.name)
    await report.flush()  # a deletion after a crash looks for the branch in this project
    found = await _observe(client, br, project_id)
    if found is None:
        parent_id = await _parent_branch_id(ctx, br, app, report)
        found = await _recover(ctx, client, br, report, project_id) or await _create(
            ctx, client, br, report, project_id, parent_id, compute
        )
    elif found.replaced is not None:
        await report.event(
            "Normal",
            "BranchRestored",
            f"a restore replaced branch {found.replaced} by {found.branch.id}; same compute "
            "and Secret",
        )
    _record_branch(report, found.branch)
    await _rename(client, br, report, project_id, found.branch)

    kind = br.spec.compute.type
    if kind == ComputeType.NONE and (br.spec.auth or br.spec.data_api):
        raise errors.AwaitChange(
            "ComputeRequired",
            "spec.auth and spec.dataApi need the branch's read_write compute: set "
            "compute.type to ReadWrite or remove them",
        )
    if kind == ComputeType.NONE:
        report.update(endpoint_id=None, host=None)
        await report.succeeded(
            "BranchReady", f"Neon branch {found.branch.id} is ready (no compute)"
        )
        return
    endpoint = await _ensure_endpoint(client, report, project_id, found, kind, compute)
    await _publish(ctx, br, app, report, client, project_id, found, endpoint)


async def _rename(
    client: neon.NeonClient,
    br: NeonBranch,
    report: BranchReport,
    project_id: str,
    branch: neon.Branch,
) -> None:
    if branch.name == branch_name(br):
        return
    result = await client.rename_branch(project_id, branch.id, branch_name(br))
    await client.wait_for_operations(result.operations)
    report.update(branch_name=result.branch.name)
    await report.event("Normal", "BranchRenamed", f"branch {branch.id} renamed")


async def _publish(
    ctx: Context,
    br: NeonBranch,
    app: NeonAppDatabase,
    report: BranchReport,
    client: neon.NeonClient,
    project_id: str,
    found: _Found,
    endpoint: neon.Endpoint,
) -> None:
    """The compute's address and the Secret, the integrations, ``Ready=True``."""
    branch = found.branch
    known = br.status.host if br.status.endpoint_id == endpoint.id else None
    address = await connection_secret.address(
        client,
        project_id,
        endpoint,
        role=app.spec.branch.role_name,
        database=app.spec.branch.database_name,
        known=found.address or known,
    )
    report.update(endpoint_id=endpoint.id, host=address)
    desired = _desired_secret(br, app, endpoint, address)
    current = await ctx.kube.read_secret(desired.namespace, desired.name)
    password = (
        found.password
        or connection_secret.known_password(current)
        or await passwords.reveal_or_reset(client, project_id, branch.id, app.spec.branch.role_name)
    )
    await connection_secret.write(ctx, report, desired, password, current)
    await integrations.converge(
        ctx,
        report,
        client,
        integrations.Target(
            project_id=project_id,
            branch_id=branch.id,
            database=app.spec.branch.database_name,
            owner=report.ref,
            key_prefix=br.spec.connection_secret.key_prefix,
        ),
        auth=br.spec.auth,
        data_api=br.spec.data_api,
    )
    await report.succeeded(
        "BranchReady",
        f"Neon branch {branch.id} is ready; connection strings are in Secret {desired.name}",
    )


def _record_branch(report: BranchReport, branch: neon.Branch) -> None:
    report.update(
        branch_id=branch.id,
        branch_name=branch.name,
        parent_branch_id=branch.parent_id,
        parent_lsn=branch.parent_lsn,
        parent_timestamp=branch.parent_timestamp,
    )


async def _observe(client: neon.NeonClient, br: NeonBranch, project_id: str) -> _Found | None:
    """The branch in status, or the one a NeonRestore replaced it with; ``None`` when status
    names none yet. Reads only."""
    branch_id = br.status.branch_id
    if branch_id is None:
        return None
    announced = _restored_to(br)
    if announced is not None:
        with_restore = await client.get_branch(project_id, announced)
        if with_restore.restored_as == branch_id:
            return _Found(with_restore, replaced=branch_id)
    try:
        return _Found(await client.get_branch(project_id, branch_id))
    except neon.NotFound:
        raise errors.AwaitChange(
            "BranchNotFound",
            f"Neon branch {branch_id} no longer exists (deleted outside the operator?); delete "
            "and recreate this NeonBranch to get a new one",
        ) from None


async def _check_window(
    ctx: Context, client: neon.NeonClient, br: NeonBranch, project_id: str
) -> None:
    """Refuse a ``parentTimestamp`` Neon cannot branch from, before asking Neon to."""
    moment = br.spec.parent_timestamp
    if moment is None:
        return
    now = ctx.clock()
    if moment > now:
        raise errors.AwaitChange(
            "OutsideHistoryWindow",
            f"spec.parentTimestamp {moment.isoformat()} is in the future; pick a time in the past",
        )
    retention = (await client.get_project(project_id)).history_retention_seconds
    if retention is not None and moment < now - datetime.timedelta(seconds=retention):
        oldest = (now - datetime.timedelta(seconds=retention)).isoformat()
        raise errors.AwaitChange(
            "OutsideHistoryWindow",
            f"spec.parentTimestamp {moment.isoformat()} is outside the project's history window "
            f"(history retention {retention}s: nothing before {oldest}); pick a later time or "
            "raise spec.historyRetentionSeconds of the NeonAppDatabase (it only helps for "
            "changes made after raising it)",
        )


async def _recover(
    ctx: Context, client: neon.NeonClient, br: NeonBranch, report: BranchReport, project_id: str
) -> _Found | None:
    """Claim the creation (:mod:`.claims`); the branch an earlier claim made (its uid
    annotation: a crash between Neon's answer and the status write) is taken over."""
    name, uid = branch_name(br), br.metadata.uid or ""
    recovered = await claims.claim(
        ctx,
        report,
        made="branchId",
        find=lambda: created_branch(ctx, client, project_id, name, uid),
    )
    if recovered is None:
        return None
    await report.event("Normal", "BranchRecovered", f"took over Neon branch {recovered.id}")
    return _Found(recovered)


async def _create(
    ctx: Context,
    client: neon.NeonClient,
    br: NeonBranch,
    report: BranchReport,
    project_id: str,
    parent_id: str,
    compute: Compute,
) -> _Found:
    """Create the branch (and its compute) in one call, refusing a taken name or a point
    outside the history window first; ids to status at once."""
    name, uid = branch_name(br), br.metadata.uid or ""
    if any(b.name == name for b in await client.list_branches(project_id, search=name)):
        raise errors.AwaitChange(
            "BranchNameTaken",
            f"project {project_id} already has a branch named {name!r} that this NeonBranch did "
            "not create; set spec.branchName to a free name",
        )
    await _check_window(ctx, client, br, project_id)
    kind = br.spec.compute.type
    computes = (
        [inputs.EndpointSpec(type=kind.neon, **endpoints.limits(compute))]
        if kind != ComputeType.NONE
        else []
    )
    request = inputs.BranchCreate(
        name=name,
        parent_id=parent_id,
        parent_lsn=br.spec.parent_lsn,
        parent_timestamp=br.spec.parent_timestamp,
    )
    try:
        created = await client.create_branch(
            project_id, request, computes, annotations={ctx.settings.owner_annotation: uid}
        )
    except neon.InvalidRequestError as error:
        pit = br.spec.parent_timestamp is not None or br.spec.parent_lsn is not None
        if pit and any(hint in error.message.lower() for hint in WINDOW_HINTS):
            raise errors.AwaitChange(
                "OutsideHistoryWindow", f"Neon cannot branch at that point: {error.message}"
            ) from None
        raise
    ctx.crash_after("create_branch")
    endpoint = created.endpoints[0] if created.endpoints else None
    found = _Found(created.branch, endpoint)
    _record_branch(report, created.branch)
    if endpoint is not None:
        report.update(endpoint_id=endpoint.id)
    await report.created(
        "BranchCreated",
        f"created Neon branch {created.branch.id}",
        provisioning=f"Neon is provisioning branch {created.branch.id}",
    )
    if created.connection_uris:
        found.password = created.connection_uris[
            0
        ].connection_parameters.password.get_secret_value()
        found.address = created.connection_uris[0].connection_parameters.host
    await client.wait_for_operations(created.operations)
    return found


async def created_branch(
    ctx: Context, client: neon.NeonClient, project_id: str, name: str, uid: str
) -> neon.Branch | None:
    """The branch named ``name`` that the NeonBranch ``uid`` created (its uid annotation)."""
    for found in await client.list_branches(project_id, search=name):
        if found.name == name and found.annotations.get(ctx.settings.owner_annotation) == uid:
            return found
    return None


async def _ensure_endpoint(
    client: neon.NeonClient,
    report: BranchReport,
    project_id: str,
    found: _Found,
    kind: ComputeType,
    compute: Compute,
) -> neon.Endpoint:
    endpoint = found.endpoint
    if endpoint is None:
        computes = await client.list_endpoints(project_id, branch_id=found.branch.id)
        endpoint = next((e for e in computes if e.type == kind.neon), None)
    if endpoint is None:
        result = await client.create_endpoint(
            project_id,
            inputs.EndpointCreate(
                branch_id=found.branch.id,
                type=kind.neon,
                **endpoints.limits(compute),
            ),
        )
        await client.wait_for_operations(result.operations)
        await report.event("Normal", "ComputeCreated", f"created compute {result.endpoint.id}")
        return result.endpoint
    return await endpoints.update_limits(client, report, project_id, endpoint, compute)


def _desired_secret(
    br: NeonBranch, app: NeonAppDatabase, endpoint: neon.Endpoint, address: str
) -> connection_secret.Desired:
    return connection_secret.desired(
        br.spec.connection_secret,
        owner=object_ref(br),
        host=address,
        endpoint_id=endpoint.id,
        user=app.spec.branch.role_name,
        database=app.spec.branch.database_name,
    )


async def _resync_secret(ctx: Context, br: NeonBranch, report: BranchReport) -> None:
    """The periodic check: the Secret from Kubernetes alone (Neon only if it must be rebuilt)."""
    status = br.status
    if status.endpoint_id is None or status.host is None or status.project_id is None:
        return
    app_body = await ctx.kube.read_object(
        references.reference(
            appdatabase_model.KIND, br.spec.app_database_ref.name, namespace_of(br)
        )
    )
    if app_body is None:
        return
    app = NeonAppDatabase.model_validate(app_body)
    endpoint = neon.Endpoint.model_validate(
        {
            "id": status.endpoint_id,
            "project_id": status.project_id,
            "branch_id": status.branch_id,
            "host": status.host,
            "type": br.spec.compute.type.neon,
            "current_state": "active",
            "autoscaling_limit_min_cu": 0.25,
            "autoscaling_limit_max_cu": 0.25,
        }
    )
    desired = _desired_secret(br, app, endpoint, status.host)
    current = await ctx.kube.read_secret(desired.namespace, desired.name)
    password = connection_secret.known_password(current)
    config_name = references.config_name(status)
    async with Outcomes(ctx, report, config_name):
        # The grant is checked on every resync (a cached lookup), so a revoked one shows here.
        client = await dependents.account_client(ctx, config_name, namespace=namespace_of(br))
        if password is None:
            assert status.branch_id is not None
            password = await passwords.reveal_or_reset(
                client, status.project_id, status.branch_id, app.spec.branch.role_name
            )
    await connection_secret.write(ctx, report, desired, password, current)
    await report.flush()


# -- deletion -----------------------------------------------------------------------------


async def delete(ctx: Context, body: dict[str, Any]) -> None:
    """Delete or keep the Neon branch as ``spec.deletionPolicy`` says (the Secret goes with the
    resource through its ownerReference)."""
    br = NeonBranch.model_validate(body)
    report: BranchReport = Report(ctx, object_ref(br), br.metadata.generation, br.status)
    status = br.status
    if status.project_id is None:
        return  # never reached Neon
    if ctx.settings.is_paused(br.metadata.annotations):
        await report.event("Warning", "BranchRetained", "paused: Neon branch left as it is")
        return
    if br.spec.deletion_policy == DeletionPolicy.RETAIN:
        await report.event(
            "Normal", "BranchRetained", f"deletionPolicy Retain: branch {status.branch_id} kept"
        )
        return
    config_name = references.config_name(status)
    client = await dependents.deleting_client(
        ctx, report, config_name, f"Neon branch {status.branch_id}"
    )
    async with Outcomes(ctx, report, config_name):
        project_id = status.project_id
        try:
            branch_id = await claims.created_id(
                status.branch_id,
                status,
                lambda: created_branch(
                    ctx, client, project_id, branch_name(br), br.metadata.uid or ""
                ),
            )
            if branch_id is None:
                return
            await client.delete_branch(project_id, branch_id)
        except neon.NotFound:
            return  # the project is gone (its NeonAppDatabase deleted it): nothing left to do
        except neon.InvalidRequestError as error:
            if "child" not in error.message.lower():
                raise
            raise await report.waiting(
                "BranchHasChildren",
                f"Neon keeps branch {branch_id} while branches were made from it: delete those "
                f"NeonBranches (or Neon branches) first ({error.message})",
            ) from None
        await report.event("Normal", "BranchDeleted", f"deleted Neon branch {branch_id}")
