"""Start, watch and stop the local stack's server processes.

Each process writes to its own log file in the state directory and runs in its own session, so
``neon-operator dev up`` can return while they keep running and a Ctrl-C in the terminal that
started them does not take them down. A process that dies while we wait for it to become ready
is reported with the tail of its log: "which binary failed, and why" in one message.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import os
import pathlib
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence


class StartupError(RuntimeError):
    """A local-stack component did not come up; the message names it and shows its log tail."""


@dataclasses.dataclass
class Process:
    """A server process we started, with where its output goes."""

    name: str
    pid: int
    log: pathlib.Path
    popen: subprocess.Popen[bytes] | None = None
    argv: tuple[str, ...] = ()
    """What it was started with (empty when we did not start it)."""

    def alive(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None
        return pid_alive(self.pid)

    def log_tail(self, lines: int = 25) -> str:
        try:
            with self.log.open(errors="replace") as handle:
                return "".join(collections.deque(handle, maxlen=lines))
        except FileNotFoundError:
            return "(no log written)"

    def failure(self, what: str) -> StartupError:
        return StartupError(f"{self.name} {what}; last lines of {self.log}:\n{self.log_tail()}")


def spawn(
    name: str, argv: Sequence[str], log: pathlib.Path, env: dict[str, str] | None = None
) -> Process:
    """Start ``argv`` detached from our session, with stdout and stderr going to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    return Process(name=name, pid=popen.pid, log=log, popen=popen, argv=tuple(argv))


def wait_until(
    process: Process, ready: Callable[[], bool], *, timeout: float, what: str = "ready"
) -> None:
    """Poll ``ready`` until it returns true; fail fast if the process exits meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        if not process.alive():
            raise process.failure("exited before it was " + what)
        with contextlib.suppress(Exception):
            if ready():
                return
        if time.monotonic() > deadline:
            raise process.failure(f"was not {what} after {timeout:.0f}s")
        time.sleep(0.1)


def stop(pid: int, popen: subprocess.Popen[bytes] | None = None, grace: float = 10.0) -> None:
    """Terminate a process politely, then forcefully; reap it when it is our child."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if popen is not None and popen.poll() is not None:
            return
        if popen is None and not pid_alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if popen is not None:
        popen.wait(timeout=5)


def pid_alive(pid: int) -> bool:
    """True while ``pid`` names a running (non-zombie) process."""
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
