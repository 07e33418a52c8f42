"""neon-emulator's real PostgreSQL data plane.

Modules, lowest layer first: :mod:`.binaries` (server programs, the account that runs them),
:mod:`.clusters` (one cluster: template, start/stop, base backups, point-in-time recovery),
:mod:`.catalogs` (roles and databases as the API reports them), :mod:`.branches` (a branch's
files: seed, data, WAL archive), :mod:`.tls` and :mod:`.proxy` (the one-port front door), and
:mod:`.plane` (the :class:`~neon_emulator.dataplane.DataPlane` tying them to operations).
"""

from neon_emulator.postgres.plane import PlaneSettings, PostgresDataPlane

__all__ = ["PlaneSettings", "PostgresDataPlane"]
