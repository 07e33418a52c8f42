"""Generate CRD schemas from the pydantic models (see :mod:`neon_operator.crds` for the kinds)."""

from neon_operator.crdgen.structural import StructuralSchemaError, structural_schema

__all__ = ["StructuralSchemaError", "structural_schema"]
