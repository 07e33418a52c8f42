"""The auth server at a Neon Auth integration's base URL, shaped on Better Auth (which Neon Auth
runs): ``http://127.0.0.1:<port>/neonauth/<ep-id>/<db>/auth`` + Better Auth's paths.

=======  =======================  =========================================================
POST     ``/sign-up/email``       ``{name, email, password, image?, callbackURL?}`` → 200
                                  ``{token, user}`` + session cookie and ``set-auth-token``
POST     ``/sign-in/email``       ``{email, password, callbackURL?}`` → 200
                                  ``{redirect, token, url?, user}`` + cookie and header
GET      ``/get-session``         ``{session, user}`` or ``null``; a JWT in ``set-auth-jwt``
POST     ``/sign-out``            ``{success: true}``; the session row is deleted
GET      ``/token``               ``{token}``: a JWT for the session (401 without one)
GET      ``/jwks``                the JWKS (also at ``/.well-known/jwks.json``)
POST     ``/sign-in/social``      ``{provider, callbackURL?}`` → ``{url, redirect: true}``:
                                  the provider's authorize URL (see below)
GET      ``/callback/{provider}`` 501: the OAuth round-trip cannot complete here
GET      ``/ok``                  ``{ok: true}``
=======  =======================  =========================================================

Sessions are rows of ``neon_auth.session`` in the branch database; the session token travels in
the ``better-auth.session_token`` cookie (``<token>.<HMAC-SHA256 signature>``, ``Path`` = the base
URL's path so branches do not share cookies) or as ``Authorization: Bearer <token>`` (Better
Auth's bearer plugin, which Neon's SDK uses). Errors are Better Auth's ``{code, message}``.

The configuration the control plane stores is honoured on every request: email and password off
(or ``disable_sign_up``) refuses sign-up/sign-in with Better Auth's codes; a ``callbackURL`` or an
``Origin`` outside the trusted domains (and localhost while ``allow_localhost``) gets 403;
``require_email_verification`` makes sign-up return no session and sign-in answer 403
``EMAIL_NOT_VERIFIED`` (the emulator sends no email: verify a user by setting
``"emailVerified"`` in ``neon_auth."user"``).

OAuth: a configured provider (shared Neon keys or your ``client_id``) gets its real authorize URL
with the client id and this server's ``/callback/<provider>`` as redirect URI, so a client can
check its flow up to the redirect; the round-trip itself needs the provider and is not emulated
(shared keys are Neon's secret, so their client id reads ``neon-shared-<provider>``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

from aiohttp import web

from neon_emulator import branch_sql, context, lookups, records
from neon_emulator.context import Context
from neon_emulator.neonauth import directory, keys, origins, passwords

routes = web.RouteTableDef()

PREFIX = "/neonauth/{label}/{database}/auth"
COOKIE = "better-auth.session_token"
MIN_PASSWORD, MAX_PASSWORD = 8, 128
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
EXPOSED = "set-auth-token, set-auth-jwt"
AUTHORIZE_URLS = {
    "google": "https://accounts.google.com/o/oauth2/v2/auth",
    "github": "https://github.com/login/oauth/authorize",
    "microsoft": "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize",
    "vercel": "https://vercel.com/oauth/authorize",
}
SCOPES = {
    "google": "openid email profile",
    "github": "read:user user:email",
    "microsoft": "openid profile email User.Read",
    "vercel": "openid email profile",
}


class AuthError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Site:
    """One request's view of the integration it reached."""

    def __init__(self, ctx: Context, auth: records.NeonAuth, branch: records.Branch) -> None:
        self.ctx, self.auth, self.branch = ctx, auth, branch
        self.base_url = ctx.addresses.neon_auth_base_url(
            lookups.service_label(ctx.store, branch), auth.db_name
        )
        parts = urlsplit(self.base_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.path = parts.path

    def connect(self) -> Any:
        return branch_sql.connect(self.ctx, self.branch, self.auth.db_name)

    def trusted(self, url: str) -> bool:
        return origins.trusted(self.auth, self.origin, url)

    def sign_cookie(self, token: str) -> str:
        digest = hmac.new(self.auth.cookie_secret.encode(), token.encode(), hashlib.sha256)
        return f"{token}.{base64.b64encode(digest.digest()).decode()}"

    def unsign(self, value: str) -> str | None:
        token, dot, _ = value.rpartition(".")
        if not dot:
            return None
        return token if hmac.compare_digest(self.sign_cookie(token), value) else None

    def jwt(self, user: dict[str, Any]) -> str:
        if not self.auth.signing_key:
            self.auth.signing_key = keys.new_signing_key()
            self.ctx.store.neon_auth.put(self.auth)
        claims = {**user, "role": "authenticated", "sub": user["id"]}
        return keys.sign(claims, self.auth.signing_key, issuer=self.origin)


def _site(request: web.Request, *, any_provider: bool = False) -> Site:
    """The integration the URL names; only ``better_auth`` ones run a server (every provider
    has its JWKS served, ``any_provider``)."""
    ctx = context.of(request)
    branch = lookups.branch_by_service_label(ctx.store, request.match_info["label"])
    auth = ctx.store.neon_auth.get(branch.id) if branch is not None else None
    if (
        branch is None
        or auth is None
        or auth.db_name != request.match_info["database"]
        or (auth.auth_provider != "better_auth" and not any_provider)
    ):
        raise AuthError(404, "NOT_FOUND", "No Neon Auth (Better Auth) integration at this URL")
    return Site(ctx, auth, branch)


def _error(exc: AuthError) -> web.Response:
    return web.json_response({"code": exc.code, "message": exc.message}, status=exc.status)


Handler = Callable[[web.Request, Site], Awaitable[web.Response]]


def endpoint(method: str, path: str, *, any_provider: bool = False) -> Callable[[Handler], Handler]:
    """Register ``handler`` under every integration's base URL, with Better Auth's error shape,
    CORS for trusted origins and the database made reachable."""

    def register(handler: Handler) -> Handler:
        async def serve(request: web.Request) -> web.Response:
            try:
                site = _site(request, any_provider=any_provider)
                _check_origin(request, site)
                response = await handler(request, site)
            except AuthError as exc:
                return _error(exc)
            except branch_sql.NoDatabase as exc:
                return _error(AuthError(503, "SERVICE_UNAVAILABLE", str(exc)))
            _cors(request, site, response)
            return response

        routes.route(method, PREFIX + path)(serve)
        return handler

    return register


def _check_origin(request: web.Request, site: Site) -> None:
    origin = request.headers.get("Origin")
    unsafe = request.method in ("POST", "PUT", "PATCH", "DELETE")
    if unsafe and origin and origin != "null" and not site.trusted(origin):
        raise AuthError(403, "INVALID_ORIGIN", "Invalid origin")


def _cors(request: web.Request, site: Site, response: web.StreamResponse) -> None:
    origin = request.headers.get("Origin")
    if origin and site.trusted(origin):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Access-Control-Expose-Headers"] = EXPOSED
        response.headers["Vary"] = "Origin"


async def preflight(request: web.Request) -> web.Response:
    try:
        site = _site(request)
    except AuthError as exc:
        return _error(exc)
    response = web.Response(status=204)
    _cors(request, site, response)
    if "Access-Control-Allow-Origin" in response.headers:
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = request.headers.get(
            "Access-Control-Request-Headers", "content-type, authorization"
        )
    return response


routes.route("OPTIONS", PREFIX + "/{tail:.*}")(preflight)


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise AuthError(400, "VALIDATION_ERROR", "Invalid JSON body") from None
    if not isinstance(data, dict):
        raise AuthError(400, "VALIDATION_ERROR", "[body] Invalid input: expected object")
    return data


def _required(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str):
        got = "undefined" if value is None else type(value).__name__
        raise AuthError(
            400,
            "VALIDATION_ERROR",
            f"[body.{field}] Invalid input: expected string, received {got}",
        )
    return value


def _optional(body: dict[str, Any], field: str) -> str | None:
    return None if body.get(field) is None else _required(body, field)


def _check_callbacks(site: Site, body: dict[str, Any]) -> None:
    for field in ("callbackURL", "errorCallbackURL", "newUserCallbackURL", "redirectTo"):
        value = body.get(field)
        if isinstance(value, str) and value and not site.trusted(value):
            raise AuthError(403, f"INVALID_{field.upper()}", f"Invalid {field}")


def _session_token(request: web.Request, site: Site) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        value = unquote(header[7:].strip())
        return site.unsign(value) if "." in value else value or None
    cookie = request.cookies.get(COOKIE)
    return site.unsign(unquote(cookie)) if cookie else None


def _with_session(response: web.Response, site: Site, token: str) -> web.Response:
    signed = site.sign_cookie(token)
    response.set_cookie(
        COOKIE, quote(signed, safe=""), path=site.path, httponly=True, samesite="Lax",
        max_age=int(directory.SESSION_LIFETIME.total_seconds()),
    )  # fmt: skip
    response.headers["set-auth-token"] = token
    return response


@endpoint("POST", "/sign-up/email")
async def sign_up(request: web.Request, site: Site) -> web.Response:
    config = site.auth.email_and_password
    if not config.get("enabled", True) or config.get("disable_sign_up", False):
        raise AuthError(
            400, "EMAIL_PASSWORD_SIGN_UP_DISABLED", "Email and password sign up is not enabled"
        )
    body = await _body(request)
    name, email = _required(body, "name"), _required(body, "email")
    password = _required(body, "password")
    image = _optional(body, "image")
    _check_callbacks(site, body)
    if not EMAIL.match(email):
        raise AuthError(400, "INVALID_EMAIL", "Invalid email")
    if len(password) < MIN_PASSWORD:
        raise AuthError(400, "PASSWORD_TOO_SHORT", "Password too short")
    if len(password) > MAX_PASSWORD:
        raise AuthError(400, "PASSWORD_TOO_LONG", "Password too long")
    hashed = await passwords.hash_password(password)
    async with site.connect() as conn, conn.transaction():
        if await directory.user_by_email(conn, email) is not None:
            raise AuthError(
                422,
                "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
                "User already exists. Use another email.",
            )
        user = await directory.create_user(conn, email=email, name=name, image=image)
        await directory.add_password(conn, user["id"], hashed)
        if config.get("require_email_verification", False):
            return web.json_response({"token": None, "user": user})
        session = await directory.create_session(
            conn,
            user["id"],
            ip_address=request.remote,
            user_agent=request.headers.get("User-Agent"),
        )
    return _with_session(
        web.json_response({"token": session["token"], "user": user}), site, session["token"]
    )


@endpoint("POST", "/sign-in/email")
async def sign_in(request: web.Request, site: Site) -> web.Response:
    config = site.auth.email_and_password
    if not config.get("enabled", True):
        raise AuthError(400, "EMAIL_PASSWORD_DISABLED", "Email and password is not enabled")
    body = await _body(request)
    email, password = _required(body, "email"), _required(body, "password")
    _check_callbacks(site, body)
    invalid = AuthError(401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password")
    async with site.connect() as conn:
        user = await directory.user_by_email(conn, email)
        stored = await directory.password_of(conn, user["id"]) if user is not None else None
        if user is None or stored is None or not await passwords.verify_password(stored, password):
            raise invalid
        if config.get("require_email_verification", False) and not user["emailVerified"]:
            raise AuthError(403, "EMAIL_NOT_VERIFIED", "Email not verified")
        if user.get("banned"):
            raise AuthError(403, "BANNED_USER", "You have been banned from this application")
        session = await directory.create_session(
            conn,
            user["id"],
            ip_address=request.remote,
            user_agent=request.headers.get("User-Agent"),
        )
    callback = body.get("callbackURL")
    answer: dict[str, Any] = {"redirect": bool(callback), "token": session["token"], "user": user}
    if isinstance(callback, str) and callback:
        answer["url"] = callback
    return _with_session(web.json_response(answer), site, session["token"])


async def _current(
    request: web.Request, site: Site
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    token = _session_token(request, site)
    if token is None:
        return None
    async with site.connect() as conn:
        return await directory.session_by_token(conn, token)


@endpoint("GET", "/get-session")
async def get_session(request: web.Request, site: Site) -> web.Response:
    found = await _current(request, site)
    if found is None:
        return web.json_response(None)
    session, user = found
    response = web.json_response({"session": session, "user": user})
    response.headers["set-auth-jwt"] = site.jwt(user)
    return response


@endpoint("GET", "/token")
async def token(request: web.Request, site: Site) -> web.Response:
    found = await _current(request, site)
    if found is None:
        raise AuthError(401, "UNAUTHORIZED", "Unauthorized")
    return web.json_response({"token": site.jwt(found[1])})


@endpoint("POST", "/sign-out")
async def sign_out(request: web.Request, site: Site) -> web.Response:
    session_token = _session_token(request, site)
    if session_token is not None:
        async with site.connect() as conn:
            await directory.delete_session(conn, session_token)
    response = web.json_response({"success": True})
    response.del_cookie(COOKIE, path=site.path)
    return response


async def _jwks(request: web.Request, site: Site) -> web.Response:
    if not site.auth.signing_key:
        site.auth.signing_key = keys.new_signing_key()
        site.ctx.store.neon_auth.put(site.auth)
    return web.json_response(keys.public_jwks(site.auth.signing_key))


endpoint("GET", "/jwks", any_provider=True)(_jwks)
endpoint("GET", "/.well-known/jwks.json", any_provider=True)(_jwks)


@endpoint("GET", "/ok")
async def ok(request: web.Request, site: Site) -> web.Response:
    return web.json_response({"ok": True})


@endpoint("POST", "/sign-in/social")
async def sign_in_social(request: web.Request, site: Site) -> web.Response:
    body = await _body(request)
    provider_id = _required(body, "provider")
    _check_callbacks(site, body)
    provider = next((p for p in site.auth.oauth_providers if p["id"] == provider_id), None)
    if provider is None or provider_id not in AUTHORIZE_URLS:
        raise AuthError(404, "PROVIDER_NOT_FOUND", "Provider not found")
    client_id = provider.get("client_id") or f"neon-shared-{provider_id}"
    tenant = provider.get("microsoft_tenant_id") or "common"
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": f"{site.base_url}/callback/{provider_id}",
        "scope": SCOPES[provider_id],
        "state": directory.new_token(),
    }
    url = AUTHORIZE_URLS[provider_id].format(tenant=tenant) + "?" + urlencode(query)
    return web.json_response({"url": url, "redirect": not body.get("disableRedirect", False)})


@endpoint("GET", "/callback/{provider}")
async def oauth_callback(request: web.Request, site: Site) -> web.Response:
    provider = request.match_info["provider"]
    raise AuthError(
        501,
        "OAUTH_NOT_EMULATED",
        f"neon-emulator cannot complete an OAuth sign-in with {provider}: the round-trip needs "
        "the provider; sign users up with email and password instead",
    )
