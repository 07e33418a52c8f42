"""``neon-operator`` under tracemalloc: SIGUSR1 writes a snapshot (for ``memory_profile.py``).

The snapshot goes to ``$TRACED_OPERATOR_SNAPSHOTS-<n>``, then an empty ``….done`` file says it
is complete.
"""

from __future__ import annotations

import faulthandler
import gc
import os
import signal
import sys
import tracemalloc
from pathlib import Path
from types import FrameType

taken = 0


def snapshot(signum: int, frame: FrameType | None) -> None:
    global taken
    taken += 1
    gc.collect()
    path = f"{os.environ['TRACED_OPERATOR_SNAPSHOTS']}-{taken}"
    tracemalloc.take_snapshot().dump(path)
    Path(f"{path}.done").touch()


signal.signal(signal.SIGUSR1, snapshot)
faulthandler.register(signal.SIGUSR2)  # where it is, when a run seems stuck

from kubernetes.aio import client  # noqa: E402

from neon_operator import runner, settings  # noqa: E402, F401  (cli imports these lazily)

for api in ("CoreV1Api", "CustomObjectsApi", "CoordinationV1Api", "V1Secret", "V1ObjectMeta"):
    getattr(client, api)  # the client imports its API and model modules on first use
from neon_operator.cli import main  # noqa: E402  (after the handler: SIGUSR1 never kills it)

# Tracing starts after the imports (what they allocate is the same at any scale, and tracing
# them with deep tracebacks takes minutes); enough frames to charge a json.loads to its caller.
tracemalloc.start(12)
sys.exit(main())
