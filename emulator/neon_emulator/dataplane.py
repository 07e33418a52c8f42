"""The seam where the data plane plugs in: :mod:`neon_emulator.postgres` (real PostgreSQL, the
default) or :class:`NoDataPlane` (``--no-postgres``: the control plane alone).

The control plane stays the source of truth: a data plane makes the world match it. Each hook is
called while an operation is ``running`` -- the operation finishes only after the hook returns,
and fails with the hook's message if it raises -- so clients that wait for operations (as Neon
asks them to) also wait for the data plane's real work. Hooks read whatever they need from the
:class:`~neon_emulator.store.Store` they receive.

``intent`` values the control plane emits (``operation.subject`` carries the details):

=====================  =====================================================================
``create_branch``      a branch appeared; ``subject["source"]`` is ``"none"`` (a project's
                       root branch), ``"branch"`` (``source_branch_id``, ``lsn`` --
                       ``exact_lsn`` when the client named it, else the head the API knew --,
                       ``timestamp``, ``schema_only``; ``copy`` when it preserves a branch
                       before a restore) or ``"snapshot"`` (``snapshot_id``)
``delete_branch``      a branch is gone
``restore_branch``     replace a branch's data from ``source_branch_id`` at ``lsn``
                       (``exact_lsn`` as above) / ``timestamp``
``start_compute``      an endpoint starts (data plane: accept connections; the endpoint's
                       ``branch_id`` may have changed, e.g. after a snapshot restore)
``suspend_compute``    an endpoint suspends
``delete_endpoint``    an endpoint is gone
``apply_config``       roles/databases of ``branch_id`` changed: make its Postgres match the store
``create_snapshot``    capture the branch's data under ``subject["snapshot_id"]`` at ``lsn``
``delete_snapshot``    drop a snapshot's data
``delete_project``     the project was deleted (soft: it may be recovered)
=====================  =====================================================================

Connection addresses are the other half: :meth:`DataPlane.address` may replace the host and port
that connection URIs carry (by default ``<ep-id>.<region>.<platform>.<host_domain>``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from neon_emulator import records
    from neon_emulator.store import Store


class DataPlane(Protocol):
    async def run(self, operation: records.Operation, store: Store) -> None:
        """Do the real work behind ``operation`` (dispatch on ``operation.intent``)."""

    def address(
        self, endpoint: records.Endpoint, host: str, pooled: bool
    ) -> tuple[str, int | None]:
        """Host and port that connection URIs should carry for ``endpoint``."""

    def uri_parameters(self, endpoint: records.Endpoint, pooled: bool) -> dict[str, str]:
        """Extra query parameters for ``endpoint``'s URIs (e.g. ``options=endpoint=<id>``)."""

    async def start(self, store: Store) -> None:
        """Called once before the API serves (e.g. bind a proxy whose port URIs carry)."""

    async def close(self) -> None:
        """Called once on shutdown, before the store closes."""


class NoDataPlane:
    """Control plane only: operations complete by themselves, hosts are Neon-like names."""

    async def run(self, operation: records.Operation, store: Store) -> None:
        return None

    def address(
        self, endpoint: records.Endpoint, host: str, pooled: bool
    ) -> tuple[str, int | None]:
        return host, None

    def uri_parameters(self, endpoint: records.Endpoint, pooled: bool) -> dict[str, str]:
        return {}

    async def start(self, store: Store) -> None:
        return None

    async def close(self) -> None:
        return None
