"""The CRD reference as Markdown, rendered from the same schemas as the CRDs themselves.

``neon-operator crds`` writes it to ``docs/crd-reference.md``; a test fails when the committed
file differs, so the reference can never drift from what the apiserver enforces. Each field
appears once with its type, default, description and every rule that guards it (bounds,
patterns, enums and the CEL rules' messages).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from neon_operator import crds

TITLE = "# CRD reference (`neon.operator.dev/v1alpha1`)"
PATH = "docs/crd-reference.md"
"""Where the reference lives, relative to the repository root."""


def render() -> str:
    """The whole reference: one section per kind, spec then status."""
    parts = [
        TITLE,
        "",
        "Generated from the models by `neon-operator crds`; do not edit. "
        "Rules marked *CEL* are checked by the apiserver at admission.",
    ]
    for kind in crds.KINDS:
        definition = crds.definition(kind)
        version = definition["spec"]["versions"][0]
        schema = version["schema"]["openAPIV3Schema"]
        scope = definition["spec"]["scope"]
        short = ", ".join(definition["spec"]["names"].get("shortNames", []))
        parts += ["", f"## {kind.kind}", "", f"Scope: {scope}. Short names: {short or '—'}.", ""]
        parts += [_one_line(schema.get("description", "")), ""]
        for section in ("spec", "status"):
            sub = schema["properties"].get(section)
            if sub is None:
                continue
            parts += [f"### `{section}`", "", "| field | type | default | description |"]
            parts += ["| --- | --- | --- | --- |"]
            parts += [_row(path, node) for path, node in _walk(sub, "")]
            parts += [_rules_line(sub)] if sub.get("x-kubernetes-validations") else []
            parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def _walk(node: dict[str, Any], prefix: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, child in node.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        yield path, child
        if child.get("type") == "object":
            yield from _walk(child, path)
        elif child.get("type") == "array" and child.get("items", {}).get("type") == "object":
            yield from _walk(child["items"], path + "[]")


def _row(path: str, node: dict[str, Any]) -> str:
    default = node.get("default")
    default_text = f"`{_scalar(default)}`" if default not in (None, {}, []) else ""
    description = _one_line(node.get("description", ""))
    notes = _constraints(node)
    text = " ".join(part for part in (description, notes) if part).replace("|", "\\|")
    return f"| `{path}` | {_type(node)} | {default_text} | {text} |"


def _type(node: dict[str, Any]) -> str:
    kind = node.get("type", "any")
    if node.get("x-kubernetes-int-or-string"):
        return "int or string"
    if kind == "array":
        return f"[]{node.get('items', {}).get('type', 'any')}"
    if kind == "object" and "additionalProperties" in node:
        return f"map[string]{node['additionalProperties'].get('type', 'any')}"
    return str(kind)


def _constraints(node: dict[str, Any]) -> str:
    notes = []
    if "enum" in node:
        notes.append("One of " + ", ".join(f"`{_scalar(v)}`" for v in node["enum"]) + ".")
    bounds = [
        ("minimum", "≥"),
        ("maximum", "≤"),
        ("minLength", "length ≥"),
        ("maxLength", "length ≤"),
        ("minItems", "items ≥"),
        ("maxItems", "items ≤"),
        ("minProperties", "entries ≥"),
        ("maxProperties", "entries ≤"),
    ]
    limits = [f"{word} {_scalar(node[key])}" for key, word in bounds if key in node]
    if limits:
        notes.append("(" + ", ".join(limits) + ")")
    if "pattern" in node:
        notes.append(f"Pattern `{node['pattern']}`.")
    if "pattern" in node.get("items", {}):
        notes.append(f"Each item matches `{node['items']['pattern']}`.")
    rules = [*node.get("x-kubernetes-validations", [])]
    if node.get("type") == "array":  # rules on each item belong to the list's row
        rules += node.get("items", {}).get("x-kubernetes-validations", [])
    for rule in rules:
        notes.append(f"*CEL:* {rule.get('message', rule['rule'])}.")
    return " ".join(notes)


def _rules_line(node: dict[str, Any]) -> str:
    messages = [rule.get("message", rule["rule"]) for rule in node["x-kubernetes-validations"]]
    return "\nObject rules (*CEL*): " + "; ".join(messages) + "."


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _one_line(text: str) -> str:
    return " ".join(text.split())
