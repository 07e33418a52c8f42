"""A branch's data on disk: its seed, its cluster, its WAL archive, and what was applied to it.

Layout under ``<state dir>/postgres/``::

    template/                      initdb result every root branch starts from
    projects/<project>/branches/<branch>/
        branch.json                when the cluster was materialized, LSNs, applied roles/dbs
        seed/ + seed.json          immutable starting point (absent: the template)
        data/                      the cluster (absent until first needed: laziness)
        archive/                   WAL archived by the cluster since it was materialized
        postgres.log
    projects/<project>/snapshots/<snapshot>/  seed/ + seed.json, like a branch's

A branch never connected to has neither ``data/`` nor processes; creating 10,000 projects
creates 10,000 directories at most (none, in fact: directories appear when data must be kept).

Capturing "the data of this branch at that moment" as a new seed is :mod:`.capture`'s job.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neon_emulator import clock
from neon_emulator.postgres import catalogs, clusters
from neon_emulator.postgres.clusters import Cluster, Server


@dataclass
class SeedInfo:
    lsn: str | None = None
    """LSN the seed's data is consistent with (``None``: the template)."""

    applied: catalogs.Applied = field(default_factory=catalogs.Applied)

    def to_json(self) -> dict[str, Any]:
        return {"lsn": self.lsn, "applied": self.applied.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SeedInfo:
        return cls(lsn=data.get("lsn"), applied=catalogs.Applied.from_json(data.get("applied", {})))


@dataclass
class BranchMeta:
    materialized_at: str | None = None
    """Wall-clock time (RFC 3339, microseconds) the cluster was first started."""

    start_lsn: str | None = None
    """LSN right after the first start: history before it is the seed itself."""

    last_lsn: str | None = None
    applied: catalogs.Applied = field(default_factory=catalogs.Applied)
    written_bytes: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "materialized_at": self.materialized_at,
            "start_lsn": self.start_lsn,
            "last_lsn": self.last_lsn,
            "applied": self.applied.to_json(),
            "written_bytes": self.written_bytes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BranchMeta:
        return cls(
            materialized_at=data.get("materialized_at"),
            start_lsn=data.get("start_lsn"),
            last_lsn=data.get("last_lsn"),
            applied=catalogs.Applied.from_json(data.get("applied", {})),
            written_bytes=int(data.get("written_bytes", 0)),
        )


def _write_json(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=1))
    os.replace(temporary, path)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class SeedDir:
    """``<dir>/seed`` + ``<dir>/seed.json``; no ``seed/`` means "the template"."""

    def __init__(self, directory: Path, template: Path) -> None:
        self.directory = directory
        self.template = template

    @property
    def own(self) -> Path:
        return self.directory / "seed"

    @property
    def path(self) -> Path:
        return self.own if self.own.exists() else self.template

    @property
    def info(self) -> SeedInfo:
        return SeedInfo.from_json(_read_json(self.directory / "seed.json"))

    def write_info(self, info: SeedInfo) -> None:
        _write_json(self.directory / "seed.json", info.to_json())


class BranchFiles:
    def __init__(self, root: Path, project_id: str, branch_id: str) -> None:
        self.directory = root / "projects" / project_id / "branches" / branch_id
        self.seed = SeedDir(self.directory, root / "template")

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def archive(self) -> Path:
        return self.directory / "archive"

    @property
    def log(self) -> Path:
        return self.directory / "postgres.log"

    @property
    def materialized(self) -> bool:
        return (self.data / "PG_VERSION").exists()

    def meta(self) -> BranchMeta:
        return BranchMeta.from_json(_read_json(self.directory / "branch.json"))

    def save(self, meta: BranchMeta) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        _write_json(self.directory / "branch.json", meta.to_json())

    def cluster(self, server: Server) -> Cluster:
        return Cluster(server, self.data, archive=self.archive, log=self.log)


def snapshot_seed(root: Path, project_id: str, snapshot_id: str) -> SeedDir:
    return SeedDir(root / "projects" / project_id / "snapshots" / snapshot_id, root / "template")


async def materialize(server: Server, files: BranchFiles) -> BranchMeta:
    """Copy the seed into ``data/`` (a fresh cluster with an empty archive)."""
    server.mkdir(files.directory)
    clusters.remove_tree(files.data)
    clusters.remove_tree(files.archive)
    await server.copy(files.seed.path, files.data)
    for leftover in ("postmaster.pid", "postmaster.opts", "recovery.signal", "standby.signal"):
        (files.data / leftover).unlink(missing_ok=True)
    server.mkdir(files.archive)
    meta = BranchMeta(
        materialized_at=clock.now().isoformat(),
        applied=files.seed.info.applied.inherited(),
    )
    files.save(meta)
    return meta


async def adopt_seed(server: Server, source: SeedDir, target: SeedDir) -> None:
    """Make ``target`` the same seed as ``source`` (hard links: seeds are never written)."""
    server.mkdir(target.directory)
    clusters.remove_tree(target.own)
    if source.own.exists():
        await server.copy(source.own, target.own, link=True)
    target.write_info(source.info)


def replace_seed(server: Server, files: BranchFiles, staged: SeedDir) -> None:
    """Throw away the branch's cluster and archive; ``staged`` becomes its seed."""
    clusters.remove_tree(files.data)
    clusters.remove_tree(files.archive)
    clusters.remove_tree(files.seed.own)
    server.mkdir(files.directory)
    if staged.own.exists():
        os.replace(staged.own, files.seed.own)
    else:
        (files.directory / "seed.json").unlink(missing_ok=True)
    files.seed.write_info(staged.info)
    with contextlib.suppress(OSError):
        shutil.rmtree(staged.directory)
    (files.directory / "branch.json").unlink(missing_ok=True)


def tree_size(path: Path) -> int:
    total = 0
    for root, _, names in os.walk(path):
        for name in names:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total
