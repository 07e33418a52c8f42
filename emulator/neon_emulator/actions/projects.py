"""Project creation: the project, its default branch, role, database and read-write endpoint,
and the two operations Neon returns (``create_timeline``, ``start_compute``)."""

from __future__ import annotations

from dataclasses import dataclass

from neon_emulator import bodies, clock, errors, ids, preload, provisioning, records, regions
from neon_emulator.auth import Principal
from neon_emulator.context import Context
from neon_emulator.operations import Step


@dataclass(frozen=True)
class CreatedProject:
    project: records.Project
    branch: records.Branch
    role: records.Role
    database: records.Database
    endpoint: records.Endpoint
    operations: list[records.Operation]


def create(ctx: Context, caller: Principal, spec: bodies.ProjectSpec) -> CreatedProject:
    if caller.key.project_id is not None:
        raise errors.Forbidden("project-scoped API keys cannot create projects")
    org_id = caller.resolve_org(spec.org_id)
    org = ctx.store.organizations.get(org_id)
    if org is None:
        raise errors.NotFound(f"organization {org_id} not found")
    region_id = spec.region_id or ctx.settings.default_region
    if region_id not in regions.REGIONS:
        raise errors.BadRequest(f"project.region_id: unsupported region {region_id!r}")

    preload.check(spec.settings, ctx.dataplane.loadable_libraries)
    given = spec.default_endpoint_settings or bodies.DefaultEndpointSettings()
    min_cu, max_cu, suspend = provisioning.resolve_limits(
        given.autoscaling_limit_min_cu or spec.autoscaling_limit_min_cu,
        given.autoscaling_limit_max_cu or spec.autoscaling_limit_max_cu,
        given.suspend_timeout_seconds,
        provisioning.DEFAULT_ENDPOINT_SETTINGS,
        "project.default_endpoint_settings.",
    )
    endpoint_defaults = {
        **provisioning.DEFAULT_ENDPOINT_SETTINGS,
        **given.model_dump(exclude_none=True),
        "autoscaling_limit_min_cu": min_cu,
        "autoscaling_limit_max_cu": max_cu,
        "suspend_timeout_seconds": suspend,
    }
    branch_spec = spec.branch or bodies.ProjectBranchSpec()
    database_name = branch_spec.database_name or "neondb"
    role_name = branch_spec.role_name or f"{database_name}_owner"
    provisioning.check_role_name(role_name, "project.branch.role_name")

    active = [p for p in ctx.store.projects if p.org_id == org_id and p.deleted_at is None]
    if len(active) >= org.projects_limit:
        raise errors.Unprocessable(
            f"organization projects limit of {org.projects_limit} exceeded, got {len(active)}",
            code="PROJECTS_LIMIT_EXCEEDED",
        )

    stamp = clock.now_iso()
    project_id = ids.unique(ids.project_id, lambda c: c in ctx.store.projects)
    project = ctx.store.projects.put(
        records.Project(
            id=project_id,
            seq=ctx.store.next_value("project_seq"),
            name=spec.name or project_id,
            org_id=org_id,
            region_id=region_id,
            pg_version=spec.pg_version or 17,
            provisioner=spec.provisioner or "k8s-neonvm",
            store_passwords=True if spec.store_passwords is None else spec.store_passwords,
            history_retention_seconds=(
                86_400 if spec.history_retention_seconds is None else spec.history_retention_seconds
            ),
            default_endpoint_settings=endpoint_defaults,
            settings={**provisioning.DEFAULT_PROJECT_SETTINGS, **(spec.settings or {})},
            created_at=stamp,
            updated_at=stamp,
        )
    )
    branch = provisioning.add_branch(
        ctx,
        project,
        name=branch_spec.name or "main",
        parent=None,
        default=True,
        annotations=branch_spec.annotations,
    )
    role = provisioning.add_role(ctx, branch, role_name)
    database = provisioning.add_database(ctx, branch, database_name, role_name)
    endpoint = provisioning.add_endpoint(
        ctx,
        project,
        branch,
        type="read_write",
        min_cu=min_cu,
        max_cu=max_cu,
        suspend=suspend,
    )
    ops = ctx.runner.submit(
        project.id,
        [
            Step("create_timeline", "create_branch", branch.id, subject={"source": "none"}),
            Step("start_compute", "start_compute", branch_id=branch.id, endpoint_id=endpoint.id),
        ],
    )
    return CreatedProject(project, branch, role, database, endpoint, ops)
