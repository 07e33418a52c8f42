"""The pydantic JSON Schema → Kubernetes structural schema transformer, rule by rule."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import pydantic
import pytest
from pydantic import Field, StringConstraints

from neon_operator import crds
from neon_operator.crdgen import StructuralSchemaError, structural_schema
from neon_operator.models import Model, common

pytestmark = pytest.mark.unit


def schema_of(model: type[pydantic.BaseModel]) -> dict[str, Any]:
    return structural_schema(model.model_json_schema(by_alias=True), path="spec")


class Size(Model):
    """A size."""

    value: int = 1
    """How big."""


class Color(enum.StrEnum):
    """A color."""

    RED = "Red"
    BLUE = "Blue"


def test_references_are_inlined_and_the_fields_description_wins() -> None:
    class Outer(Model):
        """Outer."""

        size: Size = Size()
        """The size of the outer thing."""
        other: Size
        """Another size."""

    schema = schema_of(Outer)

    assert schema["properties"]["size"] == {
        "description": "The size of the outer thing.",
        "type": "object",
        "default": {"value": 1},
        "properties": {"value": {"description": "How big.", "type": "integer", "default": 1}},
    }
    assert schema["properties"]["other"]["description"] == "Another size."
    assert "$defs" not in schema
    assert "$ref" not in str(schema)


def test_an_optional_field_is_a_plain_omittable_field_not_a_nullable_one() -> None:
    class Spec(Model):
        """Spec."""

        region: str | None = None
        """Region."""
        size: Size | None = None
        """Size."""

    schema = schema_of(Spec)

    assert schema["properties"]["region"] == {"description": "Region.", "type": "string"}
    assert schema["properties"]["size"]["type"] == "object"
    assert "nullable" not in str(schema)
    assert "required" not in schema


def test_a_field_where_null_is_a_value_becomes_nullable() -> None:
    class Spec(Model):
        """Spec."""

        token: str | None
        """Required, but may be null."""

    schema = schema_of(Spec)

    assert schema["properties"]["token"] == {
        "description": "Required, but may be null.",
        "type": "string",
        "nullable": True,
    }
    assert schema["required"] == ["token"]


def test_int_or_string_becomes_the_kubernetes_int_or_string_marker() -> None:
    class Spec(Model):
        """Spec."""

        port: int | str = 5432
        """Port number or name."""

    assert schema_of(Spec)["properties"]["port"] == {
        "description": "Port number or name.",
        "default": 5432,
        "x-kubernetes-int-or-string": True,
    }


def test_literals_and_enums_become_string_enums() -> None:
    class Spec(Model):
        """Spec."""

        mode: Literal["a", "b"] = "a"
        """Mode."""
        only: Literal["x"] = "x"
        """The one choice."""
        color: Color = Color.RED
        """Color."""

    properties = schema_of(Spec)["properties"]

    assert properties["mode"] == {
        "description": "Mode.",
        "type": "string",
        "enum": ["a", "b"],
        "default": "a",
    }
    assert properties["only"]["enum"] == ["x"]
    assert "const" not in properties["only"]
    assert properties["color"] == {
        "description": "Color.",
        "type": "string",
        "enum": ["Red", "Blue"],
        "default": "Red",
    }


def test_a_string_map_becomes_additional_properties_of_strings() -> None:
    class Spec(Model):
        """Spec."""

        labels: dict[str, str] = Field(default_factory=dict, max_length=8)
        """Labels."""

    assert schema_of(Spec)["properties"]["labels"] == {
        "description": "Labels.",
        "type": "object",
        "maxProperties": 8,
        "additionalProperties": {"type": "string"},
    }


def test_constrained_map_keys_become_cel_rules_over_every_key() -> None:
    class Spec(Model):
        """Spec."""

        tiers: dict[Annotated[str, StringConstraints(pattern="^[a-z]+$", max_length=9)], int]
        """Tiers."""

    tiers = schema_of(Spec)["properties"]["tiers"]

    assert tiers["additionalProperties"] == {"type": "integer"}
    assert "patternProperties" not in tiers
    assert "propertyNames" not in tiers
    assert tiers["x-kubernetes-validations"] == [
        {"rule": "self.all(k, k.matches(r'^[a-z]+$'))", "message": "every key must match ^[a-z]+$"},
        {
            "rule": "self.all(k, size(k) <= 9)",
            "message": "every key must be at most 9 characters long",
        },
    ]


def test_forbidding_extra_fields_never_emits_additional_properties_false() -> None:
    class Strict(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")
        name: str

    schema = structural_schema(Strict.model_json_schema())

    assert "additionalProperties" not in schema
    assert schema["properties"] == {"name": {"type": "string"}}


def test_free_form_objects_preserve_unknown_fields() -> None:
    class Spec(Model):
        """Spec."""

        settings: dict[str, Any] = Field(default_factory=dict)
        """Anything."""

    assert schema_of(Spec)["properties"]["settings"] == {
        "description": "Anything.",
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
    }


def test_cel_rules_of_model_and_field_are_carried_and_combined() -> None:
    class Pair(Model):
        """A pair."""

        model_config = pydantic.ConfigDict(
            json_schema_extra=common.validations(common.cel("self.a <= self.b", "a <= b"))
        )
        a: int = 0
        """A."""
        b: int = 0
        """B."""

    class Spec(Model):
        """Spec."""

        pair: Pair = Field(
            Pair(),
            json_schema_extra=common.validations(common.immutable("pair", "it is fixed")),
        )
        """The pair."""

    assert schema_of(Spec)["properties"]["pair"]["x-kubernetes-validations"] == [
        {"rule": "self.a <= self.b", "message": "a <= b"},
        {
            "rule": "self == oldSelf",
            "message": "pair is immutable: it is fixed",
            "reason": "FieldValueForbidden",
        },
    ]


def test_defaults_are_kept_without_nulls() -> None:
    class Inner(Model):
        """Inner."""

        name: str = "main"
        """Name."""
        note: str | None = None
        """Note."""

    class Spec(Model):
        """Spec."""

        inner: Inner = Inner()
        """Inner."""

    inner = schema_of(Spec)["properties"]["inner"]

    assert inner["default"] == {"name": "main"}
    assert "default" not in inner["properties"]["note"]


def test_titles_go_and_multi_line_descriptions_are_reflowed() -> None:
    class Spec(Model):
        """Spec."""

        name: str = "x"
        """First line
        continues here.

        Second paragraph."""

    name = schema_of(Spec)["properties"]["name"]

    assert "title" not in name
    assert name["description"] == "First line continues here.\n\nSecond paragraph."


def test_exclusive_bounds_use_the_openapi_v3_boolean_form() -> None:
    class Spec(Model):
        """Spec."""

        ratio: float = Field(0.5, gt=0, lt=1)
        """Ratio."""

    ratio = schema_of(Spec)["properties"]["ratio"]

    assert ratio["minimum"] == 0
    assert ratio["exclusiveMinimum"] is True
    assert ratio["maximum"] == 1
    assert ratio["exclusiveMaximum"] is True


def test_keys_come_out_in_a_fixed_order() -> None:
    class Spec(Model):
        """Spec."""

        name: str = Field("x", max_length=5, pattern="^x")
        """Name."""

    assert list(schema_of(Spec)) == ["description", "type", "properties"]
    assert list(schema_of(Spec)["properties"]["name"]) == [
        "description",
        "type",
        "default",
        "maxLength",
        "pattern",
    ]


class Cat(Model):
    meow: str


class Dog(Model):
    bark: str


class Node(Model):
    children: list[Node] = Field(default_factory=list)


@pytest.mark.parametrize(
    ("annotation", "complaint"),
    [
        pytest.param(Cat | Dog, "spec.pet: a union of Cat, Dog", id="union-of-objects"),
        pytest.param(Node, "recursive model (Node → Node)", id="recursive"),
        pytest.param(Any, "spec.pet: no type", id="any"),
        pytest.param(set[str], "uniqueItems is not allowed", id="set"),
        pytest.param(tuple[int, str], "tuples are not supported", id="tuple"),
        pytest.param(int | float | str, "a union of integer, number, string", id="scalar-union"),
    ],
)
def test_constructs_without_a_structural_form_are_refused_with_the_field_named(
    annotation: Any, complaint: str
) -> None:
    spec = pydantic.create_model("Spec", pet=(annotation, ...))

    with pytest.raises(StructuralSchemaError, match=r"^spec\.pet") as raised:
        schema_of(spec)

    assert complaint in str(raised.value)


def test_extra_fields_beside_properties_are_refused() -> None:
    class Loose(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="allow")
        name: str

    with pytest.raises(StructuralSchemaError, match="extra fields beside declared properties"):
        structural_schema(Loose.model_json_schema())


# The generated CRDs as a whole.


def walk(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, schema
    for name, child in schema.get("properties", {}).items():
        yield from walk(child, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        yield from walk(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from walk(schema["additionalProperties"], f"{path}.*")


def root_schema(kind: crds.Kind) -> dict[str, Any]:
    schema: dict[str, Any] = crds.definition(kind)["spec"]["versions"][0]["schema"]
    return schema["openAPIV3Schema"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("kind", crds.KINDS, ids=lambda kind: kind.kind)
def test_every_kind_has_a_status_subresource_and_ready_column(kind: crds.Kind) -> None:
    version = crds.definition(kind)["spec"]["versions"][0]

    assert version["subresources"] == {"status": {}}
    columns = {column["name"]: column for column in version["additionalPrinterColumns"]}
    assert columns["Ready"]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].status'
    assert columns["Age"]["type"] == "date"
    assert crds.definition(kind)["spec"]["names"]["categories"] == ["neon"]


@pytest.mark.parametrize("kind", crds.KINDS, ids=lambda kind: kind.kind)
def test_every_field_of_every_kind_is_described(kind: crds.Kind) -> None:
    root = root_schema(kind)
    undescribed = [
        path
        for part in ("spec", "status")
        for path, node in walk(root["properties"][part], part)
        if not path.endswith(("*", "[]")) and not node.get("description")
    ]

    assert undescribed == []


@pytest.mark.parametrize("kind", crds.KINDS, ids=lambda kind: kind.kind)
def test_spec_strings_are_bounded_so_cel_costs_stay_within_budget(kind: crds.Kind) -> None:
    spec = root_schema(kind)["properties"]["spec"]
    unbounded = [
        path
        for path, node in walk(spec, "spec")
        if node.get("type") == "string" and "maxLength" not in node and "enum" not in node
    ]
    unbounded += [
        path
        for path, node in walk(spec, "spec")
        if node.get("type") == "object" and "additionalProperties" in node
        if "maxProperties" not in node
    ]

    assert unbounded == []


@pytest.mark.parametrize("kind", crds.KINDS, ids=lambda kind: kind.kind)
def test_conditions_are_a_list_map_keyed_by_type(kind: crds.Kind) -> None:
    conditions = root_schema(kind)["properties"]["status"]["properties"]["conditions"]

    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    assert "type" in conditions["items"]["required"]
