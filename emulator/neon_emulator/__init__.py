"""neon-emulator: a local, faithful Neon API v2 control plane.

Run it with ``neon-emulator serve`` (see :mod:`neon_emulator.cli`); the HTTP surface lives in
:mod:`neon_emulator.app`. The package shares no code with ``neon_operator`` on purpose: tests that
drive the operator against the emulator only prove something if the two were written apart.
"""

__version__ = "0.1.0"
