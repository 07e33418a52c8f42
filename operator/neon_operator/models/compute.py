"""Compute settings (size and suspension) of a Neon endpoint, with Neon's rules as CEL.

Neon sizes computes in compute units (CU, ~4 GB RAM each): 0.25, 0.5, whole numbers 1..16 (these
can autoscale), and even fixed sizes 18..56 (these cannot). Autoscaling spans at most 8 CU. A
compute suspends after `suspendTimeoutSeconds` idle: `-1` never, `0` Neon's default (5 min),
otherwise 60..604800 s. Plans narrow this further (free plan: up to 2 CU, fixed 5 min suspend);
only Neon can judge that, so it surfaces as `Ready=False` rather than at admission.

Every field is optional: an unset field falls back to the NeonConfig's `defaults.compute` and
then to Neon's own default. Rules between fields therefore only apply at admission when both are
set; :meth:`Compute.with_defaults` re-checks the combination the operator will actually send.
"""

from __future__ import annotations

from typing import Annotated, Final, Self

import pydantic
from pydantic import Field
from pydantic.alias_generators import to_camel

from neon_operator.models.common import Model, cel, validations

AUTOSCALING_MAX_CU: Final = 16.0
AUTOSCALING_SPAN_CU: Final = 8.0
COMPUTE_SIZES: Final[tuple[float, ...]] = (
    0.25,
    0.5,
    *(float(n) for n in range(1, 17)),
    *(float(n) for n in range(18, 57, 2)),
)
"""Every compute size Neon offers, in CU."""

SUSPEND_NEVER: Final = -1
SUSPEND_DEFAULT: Final = 0
SUSPEND_MIN_SECONDS: Final = 60
SUSPEND_MAX_SECONDS: Final = 604800

_SIZES_CEL = "[" + ", ".join(repr(size) for size in COMPUTE_SIZES) + "]"


def _size_message(field: str) -> str:
    return (
        f"{field} must be a Neon compute size: 0.25, 0.5, a whole number 1..16, "
        "or an even fixed size 18..56"
    )


MIN_LE_MAX: Final = "minCu must not be greater than maxCu"
FIXED_ABOVE_16: Final = (
    "maxCu above 16 is a fixed size and cannot autoscale: set minCu equal to maxCu, "
    "or keep both at 16 or below"
)
SPAN_AT_MOST_8: Final = "maxCu - minCu must be at most 8: Neon autoscales within an 8 CU range"
SUSPEND_RANGE: Final = (
    "suspendTimeoutSeconds must be -1 (never suspend), 0 (Neon's default, 5 minutes) "
    "or 60..604800 seconds"
)

_BOTH = "!has(self.minCu) || !has(self.maxCu) || "

ComputeUnits = Annotated[float, Field(ge=0.25, le=56)]


class Compute(Model):
    """Size and suspension of a compute; unset fields fall back to the NeonConfig defaults."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=validations(
            cel(_BOTH + "self.minCu <= self.maxCu", MIN_LE_MAX, field_path=".minCu"),
            cel(
                _BOTH + f"self.minCu == self.maxCu || self.maxCu <= {AUTOSCALING_MAX_CU}",
                FIXED_ABOVE_16,
                field_path=".maxCu",
            ),
            cel(
                _BOTH + f"self.maxCu - self.minCu <= {AUTOSCALING_SPAN_CU}",
                SPAN_AT_MOST_8,
                field_path=".maxCu",
            ),
        )
    )

    min_cu: ComputeUnits | None = Field(
        None, json_schema_extra=validations(cel(f"self in {_SIZES_CEL}", _size_message("minCu")))
    )
    """Smallest size the compute scales down to, in CU (e.g. 0.25)."""
    max_cu: ComputeUnits | None = Field(
        None, json_schema_extra=validations(cel(f"self in {_SIZES_CEL}", _size_message("maxCu")))
    )
    """Largest size the compute scales up to, in CU (e.g. 2); equal to minCu for a fixed size."""
    suspend_timeout_seconds: (
        Annotated[int, Field(ge=SUSPEND_NEVER, le=SUSPEND_MAX_SECONDS)] | None
    ) = Field(
        None,
        json_schema_extra=validations(
            cel(f"self <= {SUSPEND_DEFAULT} || self >= {SUSPEND_MIN_SECONDS}", SUSPEND_RANGE)
        ),
    )
    """Idle seconds before the compute suspends: -1 never, 0 Neon's default, else 60..604800."""

    @pydantic.field_validator("min_cu", "max_cu")
    @classmethod
    def _is_compute_size(cls, value: float | None, info: pydantic.ValidationInfo) -> float | None:
        if value is not None and value not in COMPUTE_SIZES:
            raise ValueError(_size_message(to_camel(info.field_name or "")))
        return value

    @pydantic.field_validator("suspend_timeout_seconds")
    @classmethod
    def _is_suspend_timeout(cls, value: int | None) -> int | None:
        if value is not None and SUSPEND_DEFAULT < value < SUSPEND_MIN_SECONDS:
            raise ValueError(SUSPEND_RANGE)
        return value

    @pydantic.model_validator(mode="after")
    def _is_autoscaling_range(self) -> Self:
        low, high = self.min_cu, self.max_cu
        if low is None or high is None:
            return self
        if low > high:
            raise ValueError(MIN_LE_MAX)
        if low != high and high > AUTOSCALING_MAX_CU:
            raise ValueError(FIXED_ABOVE_16)
        if high - low > AUTOSCALING_SPAN_CU:
            raise ValueError(SPAN_AT_MOST_8)
        return self

    def with_defaults(self, defaults: Compute) -> Compute:
        """These settings with unset fields taken from `defaults`, re-validated as a whole.

        Raises :class:`pydantic.ValidationError` when the combination breaks Neon's rules (e.g.
        `minCu: 4` here over a default `maxCu: 2`): the operator reports it as invalid spec.
        """
        merged = defaults.model_dump(exclude_none=True) | self.model_dump(exclude_none=True)
        return Compute.model_validate(merged)
