"""Where the PostgreSQL server binaries are, and which operating-system user runs them.

The emulator uses the server installed on the machine (``initdb``, ``postgres``,
``pg_basebackup`` from Debian's ``postgresql`` package, Homebrew, or any directory on ``PATH``)
rather than a pip-installed server: distributions keep those patched, CI installs them with one
``apt-get``, and the same binaries serve every version of this package. The newest version found
wins; ``NEON_EMULATOR_PG_BINDIR`` overrides the search.

PostgreSQL refuses to run as root. When the emulator runs as root (containers, CI), clusters are
owned and run by an unprivileged account: ``postgres`` when it exists (Debian's package creates
it), else one the emulator creates (``neon-emulator``), else ``nobody``. Otherwise clusters run as
the current user.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import stat
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_PROGRAMS = ("initdb", "postgres", "pg_basebackup", "pg_controldata")
_MODULES = (".so", ".dylib")


class MissingBinaries(RuntimeError):
    """No PostgreSQL server installation could be found."""


@dataclass(frozen=True)
class Binaries:
    bindir: Path
    version: int
    """Major version, e.g. 15."""

    def path(self, program: str) -> str:
        return str(self.bindir / program)

    def require(self, *programs: str) -> None:
        """Raise :class:`MissingBinaries` unless every program is in :attr:`bindir`."""
        missing = [program for program in programs if not (self.bindir / program).exists()]
        if missing:
            raise MissingBinaries(
                f"{', '.join(missing)} not found in {self.bindir} (install the PostgreSQL client "
                "programs of the same version)"
            )

    def loadable(self, libraries: Iterable[str]) -> set[str]:
        """Which of ``libraries`` the server can load (a module file in its library
        directory: ``lib/`` beside ``bin/``, or ``lib/postgresql/``)."""
        directories = (self.bindir.parent / "lib", self.bindir.parent / "lib" / "postgresql")
        return {
            name
            for name in libraries
            if any((d / f"{name}{suffix}").is_file() for d in directories for suffix in _MODULES)
        }


def _candidates() -> list[Path]:
    override = os.environ.get("NEON_EMULATOR_PG_BINDIR")
    if override:
        return [Path(override)]
    found: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path:
        found.append(Path(os.path.realpath(on_path)).parent)
    for pattern in (
        "/usr/lib/postgresql/*/bin",
        "/usr/pgsql-*/bin",
        "/opt/homebrew/opt/postgresql@*/bin",
        "/usr/local/opt/postgresql@*/bin",
    ):
        found.extend(Path(p) for p in glob.glob(pattern))
    return found


def _version(bindir: Path) -> int | None:
    try:
        out = subprocess.run(
            [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(match.group(1)) if match else None


def find() -> Binaries:
    """The newest complete server installation (raises :class:`MissingBinaries`)."""
    best: Binaries | None = None
    for bindir in _candidates():
        if not all((bindir / p).exists() for p in _PROGRAMS):
            continue
        version = _version(bindir)
        if version is not None and (best is None or version > best.version):
            best = Binaries(bindir, version)
    if best is None:
        raise MissingBinaries(
            "PostgreSQL server binaries (initdb, postgres, pg_basebackup) not found; install "
            "them (Debian: apt-get install postgresql) or set NEON_EMULATOR_PG_BINDIR, "
            "or run the emulator with --no-postgres"
        )
    return best


@dataclass(frozen=True)
class ServerUser:
    """The account clusters belong to; ``None`` ids mean "the current user"."""

    name: str
    uid: int | None = None
    gid: int | None = None

    @property
    def switches(self) -> bool:
        return self.uid is not None

    def chown(self, path: Path) -> None:
        if self.uid is not None and self.gid is not None:
            os.chown(path, self.uid, self.gid)

    def chown_tree(self, path: Path) -> None:
        if self.uid is None or self.gid is None:
            return
        os.chown(path, self.uid, self.gid)
        for root, dirs, files in os.walk(path):
            for name in (*dirs, *files):
                os.lchown(os.path.join(root, name), self.uid, self.gid)

    def make_reachable(self, path: Path) -> None:
        """Let the account traverse every ancestor of ``path`` (adds ``o+x`` where missing:
        traversal only, nothing becomes listable or readable)."""
        if self.uid is None:
            return
        for ancestor in [path, *path.parents]:
            mode = ancestor.stat().st_mode
            if not mode & stat.S_IXOTH and ancestor.stat().st_uid != self.uid:
                os.chmod(ancestor, stat.S_IMODE(mode) | stat.S_IXOTH)


def server_user() -> ServerUser:
    if os.geteuid() != 0:
        return ServerUser(pwd.getpwuid(os.geteuid()).pw_name)
    for name in ("postgres", "neon-emulator"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return ServerUser(name, entry.pw_uid, entry.pw_gid)
    useradd = shutil.which("useradd")
    if useradd:
        subprocess.run(
            [
                useradd,
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                "neon-emulator",
            ],
            capture_output=True,
            check=False,
        )
        try:
            entry = pwd.getpwnam("neon-emulator")
            return ServerUser("neon-emulator", entry.pw_uid, entry.pw_gid)
        except KeyError:
            pass
    entry = pwd.getpwnam("nobody")
    return ServerUser("nobody", entry.pw_uid, entry.pw_gid)
