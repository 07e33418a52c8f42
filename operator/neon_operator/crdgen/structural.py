"""Turn a pydantic JSON Schema into a Kubernetes structural schema.

Kubernetes accepts only a subset of OpenAPI v3 in a CRD, the *structural* schema: every node
states its `type`, there are no `$ref`s, alternatives (`anyOf`/`oneOf`) may not introduce
types or fields, and there is no `additionalProperties` beside `properties`. Pydantic speaks
JSON Schema 2020-12. The translation, node by node:

* `$ref` / single `allOf` → the referenced definition, inlined; the referring field's own
  `description`, `default` and CEL rules win over (or, for CEL, add to) the definition's.
* `anyOf [X, null]` with default `null` (an optional field, `x: X | None = None`) → `X`: an
  absent field means None, and the apiserver drops explicit `null`s of non-nullable fields, so
  CEL rules never see a null. Any other `anyOf [X, null]` (null is a real value) → `X` with
  `nullable: true`.
* `anyOf [integer, string]` → `x-kubernetes-int-or-string: true`.
* `const` → a one-value `enum`; Literal / Enum already arrive as `enum`.
* a dict with constrained keys (`patternProperties`, `propertyNames`) → `additionalProperties`
  plus a CEL rule checking every key; `additionalProperties: false` is dropped (the apiserver
  prunes unknown fields), `true` on a free-form object → `x-kubernetes-preserve-unknown-fields`.
* numeric `exclusiveMinimum`/`exclusiveMaximum` → OpenAPI v3.0's boolean form.
* `title` and `examples` are dropped; `null`s inside defaults are dropped; a description's
  lines are joined into paragraphs (docstrings wrap, `kubectl explain` reflows).

Anything else that cannot be made structural (recursive models, unions of objects, tuples,
`uniqueItems`, schemas without a type) raises :class:`StructuralSchemaError` naming the field.
Keys come out in a fixed order, so the YAML rendered from them is stable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

Schema = dict[str, Any]

_PASSTHROUGH: Final = frozenset(
    {
        "description",
        "type",
        "format",
        "enum",
        "minimum",
        "maximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
        "required",
        "nullable",
        "example",
    }
)
_DROPPED: Final = frozenset({"title", "examples", "$defs"})
_KEY_ORDER: Final = (
    "description",
    "type",
    "format",
    "enum",
    "default",
    "nullable",
    "minimum",
    "exclusiveMinimum",
    "maximum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "example",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "items",
    "additionalProperties",
    "properties",
    "required",
    "x-kubernetes-validations",
)
_VALIDATIONS: Final = "x-kubernetes-validations"
_RULE_KEY_ORDER: Final = (
    "rule",
    "messageExpression",
    "message",
    "fieldPath",
    "reason",
    "optionalOldSelf",
)
_NULL: Final[Schema] = {"type": "null"}
_ABSENT: Final = object()


class StructuralSchemaError(ValueError):
    """A JSON Schema construct that has no structural equivalent; the message names the field."""


def structural_schema(json_schema: Mapping[str, Any], path: str = "") -> Schema:
    """The structural schema equivalent to `json_schema` (as from `model_json_schema()`).

    `path` names the schema's place in the object (e.g. `spec`) in error messages.
    """
    definitions = json_schema.get("$defs", {})
    return _Converter(definitions).convert(json_schema, path or "<root>", ())


class _Converter:
    def __init__(self, definitions: Mapping[str, Any]) -> None:
        self._definitions = definitions

    def convert(self, node: Mapping[str, Any], path: str, refs: tuple[str, ...]) -> Schema:
        if "$ref" in node:
            return self._reference(node, path, refs)
        if "allOf" in node:
            return self._all_of(node, path, refs)
        if "anyOf" in node or "oneOf" in node:
            return self._alternatives(node, path, refs)
        result = self._keywords(node, path, refs)
        _require_type(result, path)
        return _ordered(result)

    def _reference(self, node: Mapping[str, Any], path: str, refs: tuple[str, ...]) -> Schema:
        ref = node["$ref"]
        prefix = "#/$defs/"
        if not isinstance(ref, str) or not ref.startswith(prefix):
            raise StructuralSchemaError(f"{path}: unsupported reference {ref!r}")
        name = ref.removeprefix(prefix)
        if name in refs:
            chain = " → ".join((*refs, name))
            raise StructuralSchemaError(
                f"{path}: recursive model ({chain}) cannot be a structural schema"
            )
        if name not in self._definitions:
            raise StructuralSchemaError(f"{path}: unknown definition {name!r}")
        target = self.convert(self._definitions[name], path, (*refs, name))
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        return _ordered(_merge(target, self._keywords(siblings, path, refs)))

    def _all_of(self, node: Mapping[str, Any], path: str, refs: tuple[str, ...]) -> Schema:
        parts = node["allOf"]
        if len(parts) != 1:
            raise StructuralSchemaError(f"{path}: allOf of {len(parts)} schemas is not supported")
        siblings = {key: value for key, value in node.items() if key != "allOf"}
        inner = self.convert(parts[0], path, refs)
        return _ordered(_merge(inner, self._keywords(siblings, path, refs)))

    def _alternatives(self, node: Mapping[str, Any], path: str, refs: tuple[str, ...]) -> Schema:
        keyword = "anyOf" if "anyOf" in node else "oneOf"
        options: list[Mapping[str, Any]] = node[keyword]
        nullable = _NULL in options
        others = [option for option in options if option != _NULL]
        siblings = {key: value for key, value in node.items() if key != keyword}
        if len(others) == 1:
            result = self.convert(others[0], path, refs)
        elif _is_int_or_string(others):
            result = {"x-kubernetes-int-or-string": True}
        else:
            kinds = ", ".join(_describe(option) for option in others)
            raise StructuralSchemaError(
                f"{path}: a union of {kinds} cannot be a structural schema; "
                "use one model with optional fields (and CEL for what must be exclusive)"
            )
        result = _merge(result, self._keywords(siblings, path, refs))
        if nullable and siblings.get("default", _ABSENT) is not None:
            result["nullable"] = True
        return _ordered(result)

    def _keywords(self, node: Mapping[str, Any], path: str, refs: tuple[str, ...]) -> Schema:
        result: Schema = {}
        rules: list[dict[str, str]] = []
        for key, value in node.items():
            if key in _DROPPED:
                continue
            if key == "description":
                result[key] = _reflowed(value)
            elif key in _PASSTHROUGH:
                result[key] = value
            elif key == _VALIDATIONS:
                rules.extend(_ordered_rule(rule) for rule in value)
            elif key.startswith("x-kubernetes-"):
                result[key] = value
            elif key == "default":
                if value is not None:
                    result["default"] = _without_nulls(value)
            elif key == "const":
                result["enum"] = [value]
            elif key in ("exclusiveMinimum", "exclusiveMaximum"):
                if isinstance(value, bool):
                    result[key] = value
                else:
                    result[key.replace("exclusiveM", "m")] = value
                    result[key] = True
            elif key == "properties":
                result["properties"] = {
                    name: self.convert(child, f"{path}.{name}", refs)
                    for name, child in value.items()
                }
            elif key == "items":
                result["items"] = self.convert(value, f"{path}[]", refs)
            elif key == "prefixItems":
                raise StructuralSchemaError(f"{path}: tuples are not supported; use a model")
            elif key == "additionalProperties":
                self._additional(result, node, value, path, refs)
            elif key == "patternProperties":
                rules.extend(self._pattern_properties(result, value, path, refs))
            elif key == "propertyNames":
                rules.extend(_key_rules(value, path))
            elif key == "uniqueItems":
                if value:
                    raise StructuralSchemaError(
                        f"{path}: uniqueItems is not allowed in a CRD; "
                        "use x-kubernetes-list-type: set (or map) instead"
                    )
            else:
                raise StructuralSchemaError(f"{path}: unsupported JSON Schema keyword {key!r}")
        if rules:
            result[_VALIDATIONS] = rules
        return result

    def _additional(
        self,
        result: Schema,
        node: Mapping[str, Any],
        value: Any,
        path: str,
        refs: tuple[str, ...],
    ) -> None:
        if value is False:
            return
        if value is True or value == {}:
            if "properties" in node:
                raise StructuralSchemaError(
                    f"{path}: extra fields beside declared properties cannot be structural; "
                    "use extra='ignore' or 'forbid' on the model"
                )
            result["x-kubernetes-preserve-unknown-fields"] = True
            result.setdefault("type", "object")
            return
        result["additionalProperties"] = self.convert(value, f"{path}.*", refs)

    def _pattern_properties(
        self, result: Schema, value: Mapping[str, Any], path: str, refs: tuple[str, ...]
    ) -> list[dict[str, str]]:
        if len(value) != 1:
            raise StructuralSchemaError(f"{path}: several patternProperties are not supported")
        ((pattern, child),) = value.items()
        result["additionalProperties"] = self.convert(child, f"{path}.*", refs)
        return _key_rules({"pattern": pattern}, path)


def _key_rules(constraints: Mapping[str, Any], path: str) -> list[dict[str, str]]:
    """CEL rules checking every key of a map (structural schemas cannot constrain keys)."""
    rules = []
    for key, value in constraints.items():
        if key == "pattern":
            rule = f"self.all(k, k.matches({_cel_raw_string(value, path)}))"
            message = f"every key must match {value}"
        elif key == "maxLength":
            rule = f"self.all(k, size(k) <= {int(value)})"
            message = f"every key must be at most {int(value)} characters long"
        elif key == "minLength":
            rule = f"self.all(k, size(k) >= {int(value)})"
            message = f"every key must be at least {int(value)} characters long"
        elif key in ("type", "title"):
            continue
        else:
            raise StructuralSchemaError(f"{path}: unsupported key constraint {key!r}")
        rules.append({"rule": rule, "message": message})
    return rules


def _cel_raw_string(text: str, path: str) -> str:
    for quote in ("'", '"'):
        if quote not in text:
            return f"r{quote}{text}{quote}"
    raise StructuralSchemaError(f"{path}: pattern {text!r} holds both quote characters")


def _is_int_or_string(options: list[Mapping[str, Any]]) -> bool:
    plain = all(set(option) == {"type"} for option in options)
    return plain and sorted(option["type"] for option in options) == ["integer", "string"]


def _describe(option: Mapping[str, Any]) -> str:
    if "$ref" in option:
        return str(option["$ref"]).rsplit("/", 1)[-1]
    return str(option.get("type", "an untyped schema"))


def _merge(base: Schema, overlay: Schema) -> Schema:
    """`overlay`'s keywords over `base`'s; CEL rules from both are kept."""
    merged = {**base, **overlay}
    rules = [*base.get(_VALIDATIONS, []), *overlay.get(_VALIDATIONS, [])]
    if rules:
        merged[_VALIDATIONS] = rules
    return merged


def _require_type(schema: Schema, path: str) -> None:
    if "type" in schema or schema.get("x-kubernetes-int-or-string"):
        return
    raise StructuralSchemaError(
        f"{path}: no type (an `Any` field?); a structural schema needs one on every node"
    )


def _reflowed(text: str) -> str:
    """Docstring text as prose: lines of a paragraph joined, paragraphs kept apart."""
    paragraphs = (" ".join(p.split()) for p in text.split("\n\n"))
    return "\n\n".join(p for p in paragraphs if p)


def _without_nulls(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _ordered_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(rule) - set(_RULE_KEY_ORDER)
    if "rule" not in rule or unknown:
        raise StructuralSchemaError(f"malformed CEL rule {dict(rule)!r}")
    return {key: rule[key] for key in _RULE_KEY_ORDER if key in rule}


def _ordered(schema: Schema) -> Schema:
    rank = {key: index for index, key in enumerate(_KEY_ORDER)}
    return dict(sorted(schema.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0])))
