"""Say what a long build is doing while it does it, so a newcomer knows it is alive.

The first ``make demo`` / ``make test`` builds Kubernetes, etcd and the operator image for
minutes. Each long step prints one line when it starts, a heartbeat with the elapsed time every
``interval`` seconds while it runs, and one line when it ends::

    [neon-operator] building kube-apiserver, kube-controller-manager (go build) ...
    [neon-operator] building kube-apiserver, kube-controller-manager (go build): 1m30s so far
    [neon-operator] built kube-apiserver, kube-controller-manager in 7m12s

Lines go to standard error (pytest shows them too: see ``tests/conftest.py``). Nothing is
printed when everything is cached.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Final

__all__ = ["Reporter", "elapsed", "step"]

PREFIX: Final = "[neon-operator]"

Reporter = Callable[[str], None]
"""Where progress lines go (a line without its newline)."""


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def elapsed(seconds: float) -> str:
    """``42s``, ``3m05s``: short enough for a heartbeat line."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    return f"{whole // 60}m{whole % 60:02d}s"


@contextlib.contextmanager
def step(
    doing: str,
    done: str,
    *,
    report: Reporter | None = None,
    interval: float = 30.0,
    detail: Callable[[], str] | None = None,
) -> Iterator[None]:
    """Announce ``doing``, beat every ``interval`` seconds, then say ``done`` with the time.

    ``doing`` reads "building etcd v3.6.16 (go build)"; ``done`` reads "built etcd v3.6.16".
    ``detail``, if given, says where the step is now; each heartbeat ends with it.
    """
    out = report or _stderr
    started = time.monotonic()
    finished = threading.Event()

    def beat() -> None:
        while not finished.wait(interval):
            where = ""
            if detail is not None:
                with contextlib.suppress(Exception):
                    where = detail()
            suffix = f" ({where})" if where else ""
            out(f"{PREFIX} {doing}: {elapsed(time.monotonic() - started)} so far{suffix}")

    out(f"{PREFIX} {doing} ...")
    heartbeat = threading.Thread(target=beat, name="progress", daemon=True)
    heartbeat.start()
    try:
        yield
    except BaseException:
        finished.set()
        out(f"{PREFIX} failed after {elapsed(time.monotonic() - started)}: {doing}")
        raise
    finally:
        finished.set()
        heartbeat.join()
    out(f"{PREFIX} {done} in {elapsed(time.monotonic() - started)}")
