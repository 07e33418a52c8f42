"""A role's password from Neon, for the connection Secrets.

* :func:`reveal` — what Neon stores (``None`` where the project keeps no passwords).
* :func:`reset` — a new password (rotation, or the only way to get one Neon does not store).
* :func:`reveal_or_reset` — the Secret needs one either way.
"""

from __future__ import annotations

from neon_operator import neon

__all__ = ["reset", "reveal", "reveal_or_reset"]


async def reveal(client: neon.NeonClient, project_id: str, branch_id: str, role: str) -> str | None:
    """``role``'s password on ``branch_id``; ``None`` when Neon stores none (403)."""
    try:
        return (await client.reveal_role_password(project_id, branch_id, role)).get_secret_value()
    except neon.ForbiddenError:
        return None


async def reset(client: neon.NeonClient, project_id: str, branch_id: str, role: str) -> str | None:
    """Give ``role`` a new password, wait for it, return it (``None``: Neon did not say it)."""
    result = await client.reset_role_password(project_id, branch_id, role)
    await client.wait_for_operations(result.operations)
    return result.role.password.get_secret_value() if result.role.password else None


async def reveal_or_reset(
    client: neon.NeonClient, project_id: str, branch_id: str, role: str
) -> str:
    """``role``'s password: revealed, or reset where Neon stores none (``store_passwords``)."""
    password = await reveal(client, project_id, branch_id, role)
    if password is None:
        password = await reset(client, project_id, branch_id, role)
    if password is None:
        raise neon.PermanentError(f"Neon reset role {role!r}'s password without returning it")
    return password
