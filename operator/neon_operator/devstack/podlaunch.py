"""The in-namespace half of :mod:`neon_operator.devstack.pods`: what runc does before ``exec``.

Run as root by ``unshare --mount --pid --uts --ipc --fork`` with the path of a ``launch.json``
that :func:`pods.start` wrote. It mounts the container's root filesystem and volumes, enters it
with ``chroot``, drops privileges and replaces itself with the container's process, which thus
becomes PID 1 of its PID namespace. It imports nothing of ours: it must not depend on what the
rootfs or the venv holds.
"""

from __future__ import annotations

import ctypes
import json
import os
import pathlib
import socket
import subprocess
import sys
from typing import Any

_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")


def main(spec_path: str) -> None:
    spec: dict[str, Any] = json.loads(pathlib.Path(spec_path).read_text())
    root = pathlib.Path(spec["newroot"])
    root.mkdir(parents=True, exist_ok=True)
    _mount("--bind", spec["rootfs"], str(root))
    _mount("-t", "proc", "proc", str(_inside(root, "/proc", directory=True)))
    dev = _inside(root, "/dev", directory=True)
    _mount("-t", "tmpfs", "-o", "mode=755,nosuid", "tmpfs", str(dev))
    for name in _DEVICES:
        (dev / name).touch()
        _mount("--bind", f"/dev/{name}", str(dev / name))
    (dev / "shm").mkdir()
    _mount("-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "shm", str(dev / "shm"))
    for link, pointee in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ):
        (dev / link).symlink_to(pointee)
    for mount in spec["mounts"]:
        source = pathlib.Path(mount["source"])
        target = _inside(root, mount["target"], directory=source.is_dir())
        _mount("--bind", str(source), str(target))
        if mount["readonly"]:
            _mount("-o", "remount,bind,ro", str(target))
    if spec["readonly_root"]:
        _mount("-o", "remount,bind,ro", str(root))

    libc = ctypes.CDLL(None, use_errno=True)
    last_capability = int(pathlib.Path("/proc/sys/kernel/cap_last_cap").read_text())
    socket.sethostname(spec["hostname"])
    os.chroot(root)
    os.chdir(spec["cwd"])
    if spec["drop_all_capabilities"]:
        for capability in range(last_capability + 1):
            if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), f"prctl(PR_CAPBSET_DROP, {capability})")
    if spec["no_new_privs"] and libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    os.setgroups(spec["groups"])
    os.setgid(spec["gid"])
    os.setuid(spec["uid"])  # a non-zero uid also clears the permitted and effective sets
    env: dict[str, str] = spec["env"]
    argv: list[str] = spec["argv"]
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as error:
        print(f"exec {argv[0]!r}: {error}", file=sys.stderr)
        raise SystemExit(127) from None


def _inside(root: pathlib.Path, path: str, *, directory: bool) -> pathlib.Path:
    """``path`` resolved inside ``root`` as the container sees it (absolute symlinks such as
    ``/var/run -> /run`` stay inside), created if missing, as runc's securejoin does."""
    current = root
    parts = [part for part in path.split("/") if part not in ("", ".")]
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            current = current.parent if current != root else root
            continue
        candidate = current / part
        if candidate.is_symlink():
            hops += 1
            if hops > 40:
                raise OSError(f"too many symlinks under {root} resolving {path}")
            target = os.readlink(candidate)
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            if target.startswith("/"):
                current = root
            continue
        current = candidate
    if directory:
        current.mkdir(parents=True, exist_ok=True)
    elif not current.exists():
        current.parent.mkdir(parents=True, exist_ok=True)
        current.touch()
    return current


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


if __name__ == "__main__":
    main(sys.argv[1])
