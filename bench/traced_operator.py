"""``neon-operator`` under tracemalloc: SIGUSR1 writes a snapshot (for ``memory_profile.py``).

The snapshot goes to ``$TRACED_OPERATOR_SNAPSHOTS-<n>``, then an empty ``….done`` file says it
is complete.
"""

from __future__ import annotations

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

from neon_operator.cli import main  # noqa: E402  (after the handler: SIGUSR1 never kills it)

# Tracing starts after the imports (what they allocate is the same at any scale, and tracing
# them with deep tracebacks takes minutes); enough frames to charge a json.loads to its caller.
tracemalloc.start(12)
sys.exit(main())
