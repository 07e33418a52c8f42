"""SQL for a parsed PostgREST request, composed with ``psycopg.sql`` (identifiers quoted, values
bound). Reads and representations come back as one JSON array built by PostgreSQL
(``json_agg``), as PostgREST does, so types render as PostgreSQL renders them."""

from __future__ import annotations

import json
from typing import Any

from psycopg import sql

from neon_emulator.dataapi.grammar import IS_VALUES, OPERATORS, Column, Query

Params = list[Any]


def relation(schema: str, table: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))


def _columns(columns: list[Column] | None) -> sql.Composable:
    if columns is None:
        return sql.SQL("*")
    items = []
    for column in columns:
        item: sql.Composable = sql.Identifier(column.name)
        if column.cast:
            item = sql.SQL("{}::{}").format(item, sql.SQL(column.cast))
        item = sql.SQL("{} AS {}").format(item, sql.Identifier(column.alias or column.name))
        items.append(item)
    return sql.SQL(", ").join(items)


def where(query: Query, table: str | None = None) -> tuple[sql.Composable, Params]:
    """The ``WHERE`` clause of the filters (columns qualified with ``table`` when given)."""
    clauses: list[sql.Composable] = []
    params: Params = []
    for item in query.filters:
        column: sql.Composable = sql.Identifier(item.column)
        if table is not None:
            column = sql.SQL("{}.{}").format(sql.Identifier(table), column)
        if item.operator == "in":
            values = list(item.value) if isinstance(item.value, list) else [item.value]
            if values:
                marks = sql.SQL(", ").join(sql.Placeholder() for _ in values)
                clause: sql.Composable = sql.SQL("{} IN ({})").format(column, marks)
                params.extend(values)
            else:
                clause = sql.SQL("false")
        elif item.operator == "is":
            keyword = IS_VALUES[str(item.value).lower()]
            clause = sql.SQL("{} IS {}").format(column, sql.SQL(keyword))
        else:
            clause = sql.SQL("{} {} {}").format(
                column, sql.SQL(OPERATORS[item.operator]), sql.Placeholder()
            )
            params.append(item.value)
        if item.negated:
            clause = sql.SQL("NOT ({})").format(clause)
        clauses.append(clause)
    if not clauses:
        return sql.SQL(""), params
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(clauses), params


def _order(query: Query) -> sql.Composable:
    if not query.order:
        return sql.SQL("")
    items = []
    for order in query.order:
        item = sql.SQL("{} {}").format(
            sql.Identifier(order.column), sql.SQL("DESC" if order.descending else "ASC")
        )
        if order.nulls:
            item = sql.SQL("{} NULLS {}").format(item, sql.SQL(order.nulls))
        items.append(item)
    return sql.SQL(" ORDER BY ") + sql.SQL(", ").join(items)


def _aggregate(source: sql.Composable, query: Query) -> sql.Composed:
    return sql.SQL(
        "SELECT coalesce(json_agg(_pgrst_t), '[]'::json)::text, count(*) "
        "FROM (SELECT {} FROM {} _pgrst_s) _pgrst_t"
    ).format(_columns(query.columns), source)


def read(schema: str, table: str, query: Query, limit: int | None) -> tuple[sql.Composed, Params]:
    filters, params = where(query)
    page: sql.Composable = sql.SQL("")
    if limit is not None:
        page = sql.SQL(" LIMIT {}").format(sql.Literal(limit))
    if query.offset:
        page = page + sql.SQL(" OFFSET {}").format(sql.Literal(query.offset))
    source = sql.SQL("(SELECT * FROM {}{}{}{})").format(
        relation(schema, table), filters, _order(query), page
    )
    return _aggregate(source, query), params


def count(schema: str, table: str, query: Query) -> tuple[sql.Composed, Params]:
    filters, params = where(query)
    return sql.SQL("SELECT count(*) FROM {}{}").format(relation(schema, table), filters), params


def _returning(statement: sql.Composable, query: Query, represent: bool) -> sql.Composed:
    if not represent:
        return sql.SQL("WITH _pgrst_w AS ({}) SELECT NULL::text, count(*) FROM _pgrst_w").format(
            statement
        )
    return sql.SQL("WITH _pgrst_w AS ({}) ").format(statement) + _aggregate(
        sql.SQL("_pgrst_w"), query
    )


def insert(
    schema: str, table: str, rows: list[dict[str, Any]], query: Query, *, represent: bool
) -> tuple[sql.Composed, Params]:
    names = query.insert_columns or list(dict.fromkeys(k for row in rows for k in row))
    target = relation(schema, table)
    returning = sql.SQL(" RETURNING *") if represent else sql.SQL(" RETURNING 1")
    if names:
        columns = sql.SQL(", ").join(sql.Identifier(n) for n in names)
        statement = sql.SQL(
            "INSERT INTO {} ({}) SELECT {} FROM json_populate_recordset(NULL::{}, %s::json){}"
        ).format(target, columns, columns, target, returning)
        return _returning(statement, query, represent), [json.dumps(rows)]
    statement = sql.SQL("INSERT INTO {} DEFAULT VALUES{}").format(target, returning)
    return _returning(statement, query, represent), []


def update(
    schema: str, table: str, values: dict[str, Any], query: Query, *, represent: bool
) -> tuple[sql.Composed, Params]:
    target = relation(schema, table)
    filters, params = where(query, table)
    assignments = sql.SQL(", ").join(
        sql.SQL("{} = _pgrst_src.{}").format(sql.Identifier(n), sql.Identifier(n)) for n in values
    )
    returning = (
        sql.SQL(" RETURNING {}.*").format(sql.Identifier(table))
        if represent
        else sql.SQL(" RETURNING 1")
    )
    statement = sql.SQL(
        "UPDATE {} SET {} FROM (SELECT * FROM json_populate_record(NULL::{}, %s::json)) _pgrst_src"
        "{}{}"
    ).format(target, assignments, target, filters, returning)
    return _returning(statement, query, represent), [json.dumps(values), *params]


def delete(
    schema: str, table: str, query: Query, *, represent: bool
) -> tuple[sql.Composed, Params]:
    filters, params = where(query)
    returning = sql.SQL(" RETURNING *") if represent else sql.SQL(" RETURNING 1")
    statement = sql.SQL("DELETE FROM {}{}{}").format(relation(schema, table), filters, returning)
    return _returning(statement, query, represent), params
