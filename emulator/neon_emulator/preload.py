"""Shared preload libraries: which a project may enable, and which its computes load.

Neon lists the libraries a project's Postgres version can preload
(``GET /projects/{id}/available_preload_libraries``) and loads those named in the project's
``settings.preload_libraries.enabled_libraries`` when a compute starts (so a change takes effect
at the next start or restart). The emulator's computes are the stock PostgreSQL installed on the
machine: the libraries below are offered when the installation has their module file (the
``contrib`` ones come with Debian's ``postgresql`` package), and a name it cannot load is a 400,
not a compute that fails to start. None is loaded by default (``is_default: false``): a stock
server preloads nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from neon_emulator import errors

CATALOGUE: dict[str, str] = {
    "pg_stat_statements": "track planning and execution statistics of all SQL statements",
    "auto_explain": "log execution plans of slow statements automatically",
    "pg_prewarm": "prewarm relation data and restore the buffer cache after a restart",
    "passwordcheck": "check the strength of passwords set with CREATE/ALTER ROLE",
    "auth_delay": "pause briefly before reporting an authentication failure",
    "pg_cron": "job scheduler for PostgreSQL",
    "timescaledb": "time-series data: hypertables, continuous aggregates, compression",
    "pgaudit": "detailed session and object audit logging",
    "pg_hint_plan": "tweak execution plans with hints in SQL comments",
    "pg_partman_bgw": "background worker of pg_partman: run partition maintenance",
}
"""Libraries that only work preloaded, with Neon's one-line description of each."""


def available(loadable: Collection[str], version: str) -> list[dict[str, Any]]:
    """The spec's ``AvailablePreloadLibrary`` entries for the libraries in ``loadable``."""
    return [
        {
            "library_name": name,
            "description": description,
            "is_default": False,
            "is_experimental": False,
            "version": version,
        }
        for name, description in CATALOGUE.items()
        if name in loadable
    ]


def enabled(settings: Mapping[str, Any]) -> list[str]:
    """The library names a project's settings enable, in their order."""
    chosen = settings.get("preload_libraries") or {}
    names = chosen.get("enabled_libraries") if isinstance(chosen, Mapping) else None
    return [str(n) for n in names] if isinstance(names, list) else []


def check(
    settings: Mapping[str, Any] | None, loadable: Callable[[Collection[str]], set[str]]
) -> None:
    """400 unless every enabled library is one the computes can load (``loadable``: the data
    plane's :meth:`~neon_emulator.dataplane.DataPlane.loadable_libraries`)."""
    if settings is None or "preload_libraries" not in settings:
        return
    chosen = settings["preload_libraries"]
    if not isinstance(chosen, Mapping) or not isinstance(chosen.get("enabled_libraries", []), list):
        raise errors.BadRequest(
            "project.settings.preload_libraries: expected an object with a list enabled_libraries"
        )
    names = enabled(settings)
    unknown = [name for name in names if name not in loadable(names)]
    if unknown:
        raise errors.BadRequest(
            f"project.settings.preload_libraries.enabled_libraries: {', '.join(unknown)} cannot "
            "be preloaded here (GET /projects/{project_id}/available_preload_libraries lists "
            "what can)"
        )
