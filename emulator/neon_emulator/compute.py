"""Compute sizing and scale-to-zero rules Neon enforces beyond the OpenAPI schema.

Sizes offered: 0.25, 0.5, whole CUs 1-16, then even sizes 18-56. Autoscaling spans at most 8 CU
and tops out at 16; larger sizes are fixed (min = max). ``suspend_timeout_seconds`` is ``-1``
(never), ``0`` (default, 300 s) or 60-604800.
"""

from __future__ import annotations

from neon_emulator import errors

_SIZES = frozenset([0.25, 0.5, *range(1, 17), *range(18, 57, 2)])
MAX_AUTOSCALING_CU = 16.0
MAX_AUTOSCALING_SPREAD = 8.0


def check_size(field: str, value: float) -> None:
    if value not in _SIZES:
        raise errors.BadRequest(
            f"{field}: {value:g} is not an available compute size; "
            "use 0.25, 0.5, 1 to 16, or an even size from 18 to 56"
        )


def check_limits(min_cu: float, max_cu: float, prefix: str = "") -> None:
    """Validate an autoscaling range (both ends already resolved against current values)."""
    check_size(f"{prefix}autoscaling_limit_min_cu", min_cu)
    check_size(f"{prefix}autoscaling_limit_max_cu", max_cu)
    if max_cu < min_cu:
        raise errors.BadRequest(
            f"{prefix}autoscaling_limit_max_cu ({max_cu:g}) must be greater than or equal to "
            f"{prefix}autoscaling_limit_min_cu ({min_cu:g})"
        )
    if max_cu != min_cu and max_cu > MAX_AUTOSCALING_CU:
        raise errors.BadRequest(
            f"{prefix}autoscaling_limit_max_cu ({max_cu:g}) is out of range: autoscaling goes up "
            f"to {MAX_AUTOSCALING_CU:g} CU; larger computes have a fixed size (min = max)"
        )
    if max_cu - min_cu > MAX_AUTOSCALING_SPREAD:
        raise errors.BadRequest(
            f"{prefix}autoscaling_limit_max_cu - {prefix}autoscaling_limit_min_cu "
            f"({max_cu:g} - {min_cu:g}) must not exceed {MAX_AUTOSCALING_SPREAD:g} CU"
        )


def check_suspend_timeout(value: int, prefix: str = "") -> None:
    if value in (-1, 0) or 60 <= value <= 604_800:
        return
    raise errors.BadRequest(
        f"{prefix}suspend_timeout_seconds ({value}) is out of range: use -1 (never suspend), "
        "0 (default) or a value from 60 to 604800"
    )
