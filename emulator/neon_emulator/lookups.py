"""Finding things by id on behalf of a caller, with Neon's 404s.

A project in an organization the key cannot see is reported exactly like a missing one, so ids
from other organizations reveal nothing.
"""

from __future__ import annotations

from aiohttp import web

from neon_emulator import errors, records
from neon_emulator.auth import Principal
from neon_emulator.store import Store

PRINCIPAL = "neon_emulator.principal"


def principal(request: web.Request) -> Principal:
    found: Principal = request[PRINCIPAL]
    return found


def project(store: Store, caller: Principal, project_id: str) -> records.Project:
    found = store.projects.get(project_id)
    if found is None or found.deleted_at is not None or not caller.sees(found):
        raise errors.NotFound(f"project {project_id} not found")
    return found


def branch(store: Store, project: records.Project, branch_id: str) -> records.Branch:
    found = store.branches.get(branch_id)
    if found is None or found.project_id != project.id or found.deleted:
        raise errors.NotFound(f"branch {branch_id} not found")
    return found


def endpoint(store: Store, project: records.Project, endpoint_id: str) -> records.Endpoint:
    found = store.endpoints.get(endpoint_id)
    if found is None or found.project_id != project.id:
        raise errors.NotFound(f"endpoint {endpoint_id} not found")
    return found


def role(store: Store, branch: records.Branch, name: str) -> records.Role:
    found = store.roles.get(f"{branch.id}/{name}")
    if found is None:
        raise errors.NotFound(f"role {name!r} not found")
    return found


def database(store: Store, branch: records.Branch, name: str) -> records.Database:
    found = store.databases.get(f"{branch.id}/{name}")
    if found is None:
        raise errors.NotFound(f"database {name!r} not found")
    return found


def snapshot(store: Store, project: records.Project, snapshot_id: str) -> records.Snapshot:
    found = store.snapshots.get(snapshot_id)
    if found is None or found.project_id != project.id:
        raise errors.NotFound(f"snapshot {snapshot_id} not found")
    return found


def default_branch(store: Store, project: records.Project) -> records.Branch:
    for candidate in store.branches.in_project(project.id):
        if candidate.default and not candidate.deleted:
            return candidate
    raise errors.NotFound(f"project {project.id} has no default branch")


def live_branches(store: Store, project_id: str) -> list[records.Branch]:
    return [b for b in store.branches.in_project(project_id) if not b.deleted]


def branch_endpoints(store: Store, branch: records.Branch) -> list[records.Endpoint]:
    return [e for e in store.endpoints.in_project(branch.project_id) if e.branch_id == branch.id]


def read_write_endpoint(store: Store, branch: records.Branch) -> records.Endpoint | None:
    for candidate in branch_endpoints(store, branch):
        if candidate.type == "read_write":
            return candidate
    return None


def branch_roles(store: Store, branch: records.Branch) -> list[records.Role]:
    return [r for r in store.roles.in_project(branch.project_id) if r.branch_id == branch.id]


def branch_databases(store: Store, branch: records.Branch) -> list[records.Database]:
    return [d for d in store.databases.in_project(branch.project_id) if d.branch_id == branch.id]


def requested_project(request: web.Request, store: Store) -> records.Project:
    """The project named by the ``{project_id}`` path segment, as the caller may see it."""
    return project(store, principal(request), request.match_info["project_id"])
