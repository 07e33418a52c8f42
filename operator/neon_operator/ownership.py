"""Which Kubernetes object created a Neon project, recorded in Neon itself.

Creation must be idempotent across crashes: if the operator dies after Neon created a project
and before the project id reached the resource's status, the restarted operator must find that
project instead of creating a second one. Before every create the reconciler therefore asks
:func:`find_created`: projects of the tier's organization whose name is exactly the one it would
create (one ``GET /projects?search=`` call, usually answering nothing), and among those the one
whose default branch carries the annotation ``neon.operator.dev/uid: <metadata.uid>`` that
:func:`create_request` stamped at creation (Neon's ``project.branch.annotations``). Matching by
uid, not by name alone, keeps a same-named project of someone else, or one retained by an
earlier resource of the same name, from being taken over.
"""

from __future__ import annotations

from neon_operator.neon import NeonClient, ProjectListItem

__all__ = ["find_created", "owner_annotations"]


def owner_annotations(key: str, uid: str) -> dict[str, str]:
    """The branch annotations that mark a project as created for the object ``uid``."""
    return {key: uid}


async def find_created(
    client: NeonClient, *, name: str, org_id: str, key: str, uid: str
) -> ProjectListItem | None:
    """The project named exactly ``name`` in ``org_id`` created for the object ``uid``."""
    for project in await client.list_projects(search=name, org_id=org_id):
        if project.name != name:
            continue
        if (await _default_branch_annotations(client, project.id)).get(key) == uid:
            return project
    return None


async def _default_branch_annotations(client: NeonClient, project_id: str) -> dict[str, str]:
    for branch in await client.list_branches(project_id):
        if branch.default:
            return branch.annotations
    return {}
