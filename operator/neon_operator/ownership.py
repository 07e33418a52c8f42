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

The same annotations also record the namespace (``neon.operator.dev/namespace``), so that
adoption (``spec.adoptProjectId``) stays inside it: :func:`adoption_refusal` keeps a tenant who
learned another namespace's project id from taking that project over (its credentials in a
Secret, and with ``deletionPolicy: Delete``, its deletion).
"""

from __future__ import annotations

from collections.abc import Sequence

from neon_operator.neon import NeonClient, ProjectListItem

__all__ = ["adoption_refusal", "find_created", "owner_annotations"]


def owner_annotations(key: str, uid: str, *, namespace_key: str, namespace: str) -> dict[str, str]:
    """The branch annotations that mark a project as created for the object ``uid`` of
    ``namespace``."""
    return {key: uid, namespace_key: namespace}


def adoption_refusal(
    annotations: dict[str, str], *, key: str, namespace_key: str, namespace: str
) -> str | None:
    """Why a resource of ``namespace`` may not adopt a project whose default branch carries
    ``annotations``, or ``None`` if it may: a project the operator made for another namespace
    is that namespace's, even after its resource was deleted with ``Retain``. A project marked
    with a uid but no namespace (made before namespaces were recorded) is refused too: its
    namespace is unknown."""
    owner = annotations.get(namespace_key)
    if owner is not None and owner != namespace:
        return f"the operator created it for a resource of namespace {owner!r}"
    if owner is None and key in annotations:
        return "the operator created it for another resource, of a namespace it did not record"
    return None


async def find_created(
    client: NeonClient, *, name: str, org_ids: Sequence[str], key: str, uid: str
) -> ProjectListItem | None:
    """The project named exactly ``name`` created for the object ``uid``, looked for in each
    organization of ``org_ids`` in turn (the tier's first: a tier changed after the create
    leaves the project in the old tier's organization)."""
    for org_id in dict.fromkeys(org_ids):
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
