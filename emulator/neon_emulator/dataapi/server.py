"""The Data API URL, PostgREST-compatible: ``http://127.0.0.1:<port>/apirest/<ep-id>/<db>/rest/v1``
(Neon: ``https://<ep-id>.apirest.<region>.aws.neon.tech/<db>/rest/v1``), then ``/<table>``.

=========  ===================================================================================
GET/HEAD   read rows: ``select``, filters, ``order``, ``limit``/``offset`` (capped by
           ``db_max_rows``); ``Prefer: count=exact`` adds the total to ``Content-Range`` (206 when
           the page is partial); ``Accept: application/vnd.pgrst.object+json`` wants one row
POST       insert an object or an array (``columns=`` restricts the columns)
PATCH      update the rows the filters select
DELETE     delete the rows the filters select
=========  ===================================================================================

Writes answer 201 (POST) or 204 with ``Prefer: return=minimal`` (the default), or 201/200 with
the rows under ``Prefer: return=representation`` (shaped by ``select``). The schema is the
first of ``db_schemas`` unless ``Accept-Profile``/``Content-Profile`` names another exposed one.

Each request is one transaction in the branch database, reached as the database owner
(:mod:`neon_emulator.branch_sql`), that switches to the caller's role (:mod:`.tokens`) with
``SET LOCAL ROLE`` and sets ``request.jwt.claims``, ``request.method``, ``request.path`` and the
``search_path`` (+ ``db_extra_search_path``) with ``set_config(…, true)``, as PostgREST does:
grants and row-level security policies (``auth.user_id()``) decide what the caller sees.

CORS: any origin unless ``server_cors_allowed_origins`` (comma-separated) lists them.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
from aiohttp import web
from psycopg import sql

from neon_emulator import branch_sql, context, lookups, records
from neon_emulator.context import Context
from neon_emulator.dataapi import failures, grammar, statements, tokens
from neon_emulator.dataapi.failures import Failure

routes = web.RouteTableDef()

PREFIX = "/apirest/{label}/{database}/rest/v1"
JWKS_CACHE = web.AppKey("neon_emulator.dataapi.jwks", tokens.JwksCache)
OBJECT = "application/vnd.pgrst.object+json"


def _locate(request: web.Request) -> tuple[Context, records.Branch, records.DataApi]:
    ctx = context.of(request)
    branch = lookups.branch_by_service_label(ctx.store, request.match_info["label"])
    found = (
        ctx.store.data_apis.get(f"{branch.id}/{request.match_info['database']}")
        if branch is not None
        else None
    )
    if branch is None or found is None:
        raise Failure(404, "PGRST000", "No Data API is enabled at this URL")
    return ctx, branch, found


def _cors(request: web.Request, data_api: records.DataApi, response: web.StreamResponse) -> None:
    origin = request.headers.get("Origin")
    if not origin:
        return
    allowed = str(data_api.settings.get("server_cors_allowed_origins") or "")
    listed = [o.strip() for o in allowed.split(",") if o.strip()]
    if listed and origin not in listed:
        return
    response.headers["Access-Control-Allow-Origin"] = origin if listed else "*"
    response.headers["Access-Control-Expose-Headers"] = (
        "Content-Encoding, Content-Location, Content-Range, Content-Type, Date, Location, "
        "Server, Transfer-Encoding, Range-Unit"
    )


def _schema(request: web.Request, data_api: records.DataApi) -> str:
    exposed = [str(s) for s in data_api.settings.get("db_schemas") or ["public"]]
    header = "Accept-Profile" if request.method in ("GET", "HEAD") else "Content-Profile"
    wanted = request.headers.get(header)
    if wanted is None:
        return exposed[0]
    if wanted not in exposed:
        raise Failure(
            406,
            "PGRST106",
            f"The schema must be one of the following: {', '.join(exposed)}",
        )
    return wanted


def _prefer(request: web.Request) -> dict[str, str]:
    found: dict[str, str] = {}
    for header in request.headers.getall("Prefer", []):
        for item in header.split(","):
            key, _, value = item.strip().partition("=")
            if key:
                found[key] = value
    return found


async def preflight(request: web.Request) -> web.Response:
    try:
        _, _, data_api = _locate(request)
    except Failure as exc:
        return exc.response()
    response = web.Response(status=200)
    _cors(request, data_api, response)
    response.headers["Access-Control-Allow-Methods"] = (
        "GET, POST, PATCH, PUT, DELETE, OPTIONS, HEAD"
    )
    response.headers["Access-Control-Allow-Headers"] = request.headers.get(
        "Access-Control-Request-Headers", "Authorization, Content-Type, Accept, Prefer, Range"
    )
    return response


@routes.get(PREFIX)
@routes.get(PREFIX + "/")
async def root(request: web.Request) -> web.Response:
    try:
        _, _, data_api = _locate(request)
    except Failure as exc:
        return exc.response()
    failure = Failure(404, "PGRST126", "Root endpoint metadata is disabled")
    if data_api.settings.get("openapi_mode", "disabled") != "disabled":
        failure = Failure(404, "PGRST126", "neon-emulator serves no OpenAPI description")
    response = failure.response()
    _cors(request, data_api, response)
    return response


async def table(request: web.Request) -> web.StreamResponse:
    try:
        ctx, branch, data_api = _locate(request)
    except Failure as exc:
        return exc.response()
    try:
        response = await _serve(request, ctx, branch, data_api)
    except Failure as exc:
        response = exc.response()
    except branch_sql.NoDatabase as exc:
        response = Failure(
            503, "PGRST000", "Database connection error", details=str(exc)
        ).response()
    _cors(request, data_api, response)
    return response


routes.route("GET", PREFIX + "/{table}", allow_head=True)(table)
for _method in ("POST", "PATCH", "DELETE"):
    routes.route(_method, PREFIX + "/{table}")(table)
routes.route("OPTIONS", PREFIX + "/{tail:.*}")(preflight)


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise Failure(400, "PGRST102", f"Empty or invalid json: {exc}") from None


async def _serve(
    request: web.Request, ctx: Context, branch: records.Branch, data_api: records.DataApi
) -> web.StreamResponse:
    name = request.match_info["table"]
    schema = _schema(request, data_api)
    caller = await tokens.caller(
        ctx, data_api, request.headers.get("Authorization"), request.app[JWKS_CACHE]
    )
    query = grammar.parse(request.query.items())
    prefer = _prefer(request)
    body = await _body(request) if request.method in ("POST", "PATCH") else None
    async with branch_sql.connect(ctx, branch, data_api.database_name) as conn:
        await _ensure_table(conn, schema, name)
        try:
            async with conn.transaction():
                await _become(conn, request, data_api, caller, schema)
                return await _run(request, conn, schema, name, query, prefer, body, data_api)
        except psycopg.Error as exc:
            if exc.diag.sqlstate is None:
                raise
            raise failures.from_database(exc, authenticated=caller.authenticated) from None


async def _ensure_table(conn: psycopg.AsyncConnection[Any], schema: str, name: str) -> None:
    cursor = await conn.execute(
        b"SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        b"WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r','v','m','f','p')",
        (schema, name),
    )
    if await cursor.fetchone() is None:
        raise Failure(
            404,
            "PGRST205",
            f"Could not find the table '{schema}.{name}' in the schema cache",
        )


async def _become(
    conn: psycopg.AsyncConnection[Any],
    request: web.Request,
    data_api: records.DataApi,
    caller: tokens.Caller,
    schema: str,
) -> None:
    await conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(caller.role)))
    search_path = [sql.Identifier(schema).as_string(conn)]
    extra = str(data_api.settings.get("db_extra_search_path") or "public")
    search_path += [
        sql.Identifier(s.strip()).as_string(conn) for s in extra.split(",") if s.strip()
    ]
    await conn.execute(
        b"SELECT set_config('request.jwt.claims', %s, true), set_config('request.method', %s, "
        b"true), set_config('request.path', %s, true), set_config('search_path', %s, true)",
        (json.dumps(caller.claims), request.method, request.path, ", ".join(search_path)),
    )


def _rows(body: Any) -> list[dict[str, Any]]:
    rows = body if isinstance(body, list) else [body]
    if body is None or not all(isinstance(r, dict) for r in rows):
        raise Failure(400, "PGRST102", "Empty or invalid json: expected an object or an array")
    return rows


async def _run(
    request: web.Request,
    conn: psycopg.AsyncConnection[Any],
    schema: str,
    name: str,
    query: grammar.Query,
    prefer: dict[str, str],
    body: Any,
    data_api: records.DataApi,
) -> web.StreamResponse:
    represent = prefer.get("return") == "representation"
    wants_object = OBJECT in request.headers.get("Accept", "")
    if request.method in ("GET", "HEAD"):
        max_rows = data_api.settings.get("db_max_rows")
        limit = query.limit
        if isinstance(max_rows, int) and max_rows > 0:
            limit = max_rows if limit is None else min(limit, max_rows)
        reading, params = statements.read(schema, name, query, limit)
        payload, found = await _fetch(conn, reading, params)
        total = None
        if prefer.get("count") == "exact":
            counted, count_params = statements.count(schema, name, query)
            cursor = await conn.execute(counted, count_params)
            row = await cursor.fetchone()
            total = int(row[0]) if row else 0
        status = 206 if total is not None and found < total and found else 200
        response = _answer(payload, status, wants_object, found, head=request.method == "HEAD")
        first = query.offset
        span = f"{first}-{first + found - 1}" if found else "*"
        response.headers["Content-Range"] = f"{span}/{'*' if total is None else total}"
        return response
    if request.method == "POST":
        rows = _rows(body)
        statement, params = statements.insert(schema, name, rows, query, represent=represent)
        status = 201
    elif request.method == "PATCH":
        values = body if isinstance(body, dict) else None
        if not values:
            raise Failure(400, "PGRST102", "Empty or invalid json: expected an object")
        statement, params = statements.update(schema, name, values, query, represent=represent)
        status = 200 if represent else 204
    else:
        statement, params = statements.delete(schema, name, query, represent=represent)
        status = 200 if represent else 204
    payload, found = await _fetch(conn, statement, params)
    if not represent:
        response = web.Response(status=status if request.method != "POST" else 201)
    else:
        response = _answer(payload, status, wants_object, found, head=False)
    suffix = f"/{found}" if prefer.get("count") == "exact" else "/*"
    response.headers["Content-Range"] = f"{'*' if not found else f'0-{found - 1}'}{suffix}"
    return response


async def _fetch(
    conn: psycopg.AsyncConnection[Any], statement: sql.Composed, params: list[Any]
) -> tuple[str, int]:
    cursor = await conn.execute(statement, params)
    row = await cursor.fetchone()
    if row is None:
        return "[]", 0
    return (str(row[0]) if row[0] is not None else "[]"), int(row[1])


def _answer(
    payload: str, status: int, wants_object: bool, found: int, *, head: bool
) -> web.Response:
    if wants_object:
        if found != 1:
            raise Failure(
                406,
                "PGRST116",
                "JSON object requested, multiple (or no) rows returned",
                details=f"The result contains {found} rows",
            )
        payload = json.dumps(json.loads(payload)[0])
    content_type = OBJECT if wants_object else "application/json"
    return web.Response(
        status=status,
        body=b"" if head else payload.encode(),
        headers={"Content-Type": f"{content_type}; charset=utf-8"},
    )


def setup(app: web.Application) -> None:
    app[JWKS_CACHE] = tokens.JwksCache()
    app.router.add_routes(routes)
