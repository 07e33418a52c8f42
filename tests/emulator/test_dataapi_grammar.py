"""The PostgREST query-string subset the emulator's Data API understands (pure parsing)."""

from __future__ import annotations

import pytest

from neon_emulator.dataapi import grammar
from neon_emulator.dataapi.failures import Failure, status_for

pytestmark = pytest.mark.unit


def test_select_filters_order_and_paging_parse_as_postgrest_writes_them() -> None:
    query = grammar.parse(
        [
            ("select", 'id,title:body,n::text,"odd name"'),
            ("body", "not.ilike.*Hello*"),
            ("id", 'in.(1,2,"3,4")'),
            ("deleted_at", "is.null"),
            ("order", "created_at.desc.nullslast,id"),
            ("limit", "10"),
            ("offset", "20"),
        ]
    )
    assert query.columns == [
        grammar.Column("id"),
        grammar.Column("body", alias="title"),
        grammar.Column("n", cast="text"),
        grammar.Column("odd name"),
    ]
    assert query.filters == [
        grammar.Filter("body", "ilike", "%Hello%", negated=True),
        grammar.Filter("id", "in", ["1", "2", "3,4"]),
        grammar.Filter("deleted_at", "is", "null"),
    ]
    assert query.order == [grammar.Order("created_at", True, "LAST"), grammar.Order("id")]
    assert (query.limit, query.offset) == (10, 20)
    assert grammar.parse([("select", "*")]).columns is None


@pytest.mark.parametrize(
    "item",
    [
        ("id", "near.5"),
        ("select", "id,author(name)"),
        ("or", "(id.eq.1,id.eq.2)"),
        ("limit", "ten"),
        ("order", "id.sideways"),
        ("on_conflict", "id"),
    ],
)
def test_what_is_not_served_is_a_pgrst100_naming_the_parameter(item: tuple[str, str]) -> None:
    with pytest.raises(Failure) as refused:
        grammar.parse([item])
    assert (refused.value.status, refused.value.code) == (400, "PGRST100")


def test_database_errors_get_postgrest_statuses() -> None:
    assert status_for("42501", authenticated=True) == 403
    assert status_for("42501", authenticated=False) == 401
    assert status_for("23505", authenticated=True) == 409
    assert status_for("42P01", authenticated=True) == 404
    assert status_for("53300", authenticated=True) == 503
    assert status_for("22P02", authenticated=True) == 400
