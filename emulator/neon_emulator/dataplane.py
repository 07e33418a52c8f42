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
                       root branch), ``"branch"`` (``source_branch_id`` and its point:
                       ``timestamp``, or ``lsn`` with ``exact_lsn`` when the client named it,
                       or ``lsn`` with ``pin`` when it was "now", see below; ``schema_only``;
                       ``copy`` when it preserves a branch before a restore) or
                       ``"snapshot"`` (``snapshot_id``)
``delete_branch``      a branch is gone
``restore_branch``     replace a branch's data from ``source_branch_id`` at its point (as above)
``start_compute``      an endpoint starts (data plane: accept connections; the endpoint's
                       ``branch_id`` may have changed, e.g. after a snapshot restore)
``suspend_compute``    an endpoint suspends
``delete_endpoint``    an endpoint is gone
``apply_config``       roles/databases of ``branch_id`` changed: make its Postgres match the store
``create_snapshot``    capture the branch's data under ``subject["snapshot_id"]`` at its point
``delete_snapshot``    drop a snapshot's data
``delete_project``     the project was deleted (soft: it may be recovered)
=====================  =====================================================================

"Now" is the moment the request is answered, not the moment its operation runs: a handler that
branches or snapshots without an explicit point calls :meth:`DataPlane.pin` before it answers,
reports the pinned LSN (``parent_lsn``, a snapshot's ``lsn``) and passes ``{"lsn": …, "pin": …}``
in the operation's subject; the data plane then captures exactly the transactions committed
before that LSN, however much is written meanwhile.

Connection addresses are the other half: :meth:`DataPlane.address` may replace the host and port
that connection URIs carry (by default ``<ep-id>.<region>.<platform>.<host_domain>``).
:meth:`DataPlane.loadable_libraries` says which shared preload libraries computes can load.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from neon_emulator import records
    from neon_emulator.store import Store


INTENTS = frozenset(
    {
        "create_branch",
        "delete_branch",
        "restore_branch",
        "start_compute",
        "suspend_compute",
        "delete_endpoint",
        "apply_config",
        "create_snapshot",
        "delete_snapshot",
        "delete_project",
    }
)
"""Every ``intent`` the control plane may give an operation (the table above)."""


class UnknownIntent(RuntimeError):
    """An operation carries an intent no data plane handles: a bug in the control plane."""


@dataclass(frozen=True)
class Pin:
    """A branch's data as of the moment :meth:`DataPlane.pin` returned."""

    lsn: int
    """The server's real LSN then: every transaction committed before it is included, none
    committed after."""

    token: dict[str, Any] = field(default_factory=dict)
    """What the data plane needs to capture exactly that later (JSON, kept in the operation's
    subject as ``pin``)."""


def check_intent(intent: str) -> None:
    if intent not in INTENTS:
        raise UnknownIntent(f"no data plane handles operations with intent {intent!r}")


class DataPlane(Protocol):
    async def pin(self, branch: records.Branch) -> Pin | None:
        """Fix "now" for a branch point or snapshot of ``branch`` (``None``: no real data)."""

    async def run(self, operation: records.Operation, store: Store) -> None:
        """Do the real work behind ``operation`` (dispatch on ``operation.intent``)."""

    def address(
        self, endpoint: records.Endpoint, host: str, pooled: bool
    ) -> tuple[str, int | None]:
        """Host and port that connection URIs should carry for ``endpoint``."""

    def uri_parameters(self, endpoint: records.Endpoint, pooled: bool) -> dict[str, str]:
        """Extra query parameters for ``endpoint``'s URIs (e.g. ``options=endpoint=<id>``)."""

    def loadable_libraries(self, names: Collection[str]) -> set[str]:
        """Which of ``names`` the computes can load as shared preload libraries."""

    async def start(self, store: Store) -> None:
        """Called once before the API serves (e.g. bind a proxy whose port URIs carry)."""

    async def close(self) -> None:
        """Called once on shutdown, before the store closes."""


class NoDataPlane:
    """Control plane only: operations complete by themselves, hosts are Neon-like names."""

    async def pin(self, branch: records.Branch) -> Pin | None:
        return None

    async def run(self, operation: records.Operation, store: Store) -> None:
        check_intent(operation.intent)

    def address(
        self, endpoint: records.Endpoint, host: str, pooled: bool
    ) -> tuple[str, int | None]:
        return host, None

    def uri_parameters(self, endpoint: records.Endpoint, pooled: bool) -> dict[str, str]:
        return {}

    def loadable_libraries(self, names: Collection[str]) -> set[str]:
        """No computes run, so no library fails to load: settings are stored as given."""
        return set(names)

    async def start(self, store: Store) -> None:
        return None

    async def close(self) -> None:
        return None
