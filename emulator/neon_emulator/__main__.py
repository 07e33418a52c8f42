"""``python -m neon_emulator`` is the same as the ``neon-emulator`` console script."""

from neon_emulator.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
