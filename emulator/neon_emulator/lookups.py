"""Finding things by id on behalf of a caller, with Neon's 404s.

A project in an organization the key cannot see is reported exactly like a missing one, so ids
from other organizations reveal nothing.
"""

from __future__ import annotations

from aiohttp import web

from neon_emulator import errors, records
from neon_emulator.auth import Principal
from neon_emulator.store import Store

PRINCIPAL = web.RequestKey("neon_emulator.principal", Principal)


def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL]


def user(store: Store, user_id: str) -> records.User:
    found = store.users.get(user_id)
    if found is None:
        raise errors.NotFound("user not found")
    return found


def organization(store: Store, caller: Principal, org_id: str) -> records.Organization:
    """An organization the caller acts in (403 for any other, as Neon answers)."""
    caller.require_org(org_id)
    found = store.organizations.get(org_id)
    if found is None:
        raise errors.NotFound(f"organization {org_id} not found")
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


def service_label(store: Store, branch: records.Branch) -> str:
    """The first part of a branch's Neon Auth and Data API URLs: its read-write endpoint's id
    (as Neon's ``<ep-id>.neonauth…`` / ``<ep-id>.apirest…`` hosts), else the branch id."""
    endpoint = read_write_endpoint(store, branch)
    return endpoint.id if endpoint is not None else branch.id


def branch_by_service_label(store: Store, label: str) -> records.Branch | None:
    """The live branch a Neon Auth or Data API URL names (see :func:`service_label`)."""
    endpoint = store.endpoints.get(label)
    found = store.branches.get(endpoint.branch_id if endpoint is not None else label)
    if found is None or found.deleted:
        return None
    project = store.projects.get(found.project_id)
    if project is None or project.deleted_at is not None:
        return None
    return found


def branch_neon_auth(request: web.Request, store: Store) -> records.NeonAuth:
    """The Neon Auth integration of the ``{branch_id}`` the caller names (404 when off)."""
    found_project = requested_project(request, store)
    found_branch = branch(store, found_project, request.match_info["branch_id"])
    auth = store.neon_auth.get(found_branch.id)
    if auth is None:
        raise errors.NotFound(f"Neon Auth is not enabled for branch {found_branch.id}")
    return auth


def project_neon_auth(request: web.Request, store: Store) -> records.NeonAuth:
    """Legacy project-scoped routes: the integration of the project's default branch."""
    found_project = requested_project(request, store)
    auth = store.neon_auth.get(default_branch(store, found_project).id)
    if auth is None:
        raise errors.NotFound(f"Neon Auth is not enabled for project {found_project.id}")
    return auth


def provider_integration(
    store: Store, project: records.Project, auth_provider: str
) -> records.NeonAuth:
    """Legacy body-addressed routes: the default branch's integration with ``auth_provider``."""
    auth = store.neon_auth.get(default_branch(store, project).id)
    if auth is None or auth.auth_provider != auth_provider:
        raise errors.NotFound(f"no {auth_provider!r} integration in project {project.id}")
    return auth


def requested_branch(request: web.Request, store: Store) -> records.Branch:
    """The branch named by ``{project_id}``/``{branch_id}``, as the caller may see it."""
    return branch(store, requested_project(request, store), request.match_info["branch_id"])


def requested_organization(request: web.Request, store: Store) -> records.Organization:
    """The organization named by the ``{org_id}`` path segment, as the caller may act in it."""
    return organization(store, principal(request), request.match_info["org_id"])
