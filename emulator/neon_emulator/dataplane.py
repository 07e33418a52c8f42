"""The seam where a real PostgreSQL data plane plugs in (a later issue); no-op for now.

The control plane stays the source of truth: a data plane makes the world match it. Each hook is
called while an operation is ``running`` -- the operation finishes only after the hook returns,
and fails with the hook's message if it raises -- so clients that wait for operations (as Neon
asks them to) also wait for the data plane's real work. Hooks read whatever they need from the
:class:`~neon_emulator.store.Store` they receive.

``intent`` values the control plane emits (see :mod:`neon_emulator.operations`):

=====================  =====================================================================
``create_branch``      a branch appeared (``subject``: parent id, lsn/timestamp or snapshot)
``delete_branch``      a branch is gone
``start_compute``      an endpoint starts (data plane: accept connections for it)
``suspend_compute``    an endpoint suspends
``apply_config``       roles/databases of a branch changed: make the branch's Postgres match
``create_snapshot``    capture a branch's data under ``subject["snapshot_id"]``
``delete_snapshot``    drop a snapshot's data
``restore_branch``     replace a branch's data (``subject``: source branch, lsn/timestamp)
``delete_project``     the project was deleted
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


class NoDataPlane:
    """Control plane only: operations complete by themselves, hosts are Neon-like names."""

    async def run(self, operation: records.Operation, store: Store) -> None:
        return None

    def address(
        self, endpoint: records.Endpoint, host: str, pooled: bool
    ) -> tuple[str, int | None]:
        return host, None
