"""neon-emulator's real PostgreSQL data plane.

Modules, lowest layer first: :mod:`.binaries` (server programs, the account that runs them),
:mod:`.clusters` (one cluster: template, start/stop, base backups, point-in-time recovery),
:mod:`.catalogs` (roles and databases as the API reports them), :mod:`.branches` (a branch's
files: seed, data, WAL archive), :mod:`.tls`, :mod:`.authentication` and :mod:`.proxy` (the
one-port front door); then one module per concern of the data plane -- :mod:`.lifecycle`
(cluster lifecycle), :mod:`.capture` (branch capture), :mod:`.snapshots` (snapshot seeds),
:mod:`.activity` (activity and suspension), :mod:`.routing` (proxy routing) -- and
:mod:`.plane`, the :class:`~neon_emulator.dataplane.DataPlane` composing them.
"""

from neon_emulator.postgres.plane import PostgresDataPlane
from neon_emulator.postgres.settings import PlaneSettings

__all__ = ["PlaneSettings", "PostgresDataPlane"]
