"""Who a Data API request runs as: PostgREST's JWT rules with Neon's key sources.

No ``Authorization`` header: the anonymous role (``db_anon_role``), no claims. A bearer token must
verify against the JWKS of the Data API's auth provider -- ``neon_auth`` (the branch's Neon Auth
keys; also the default when the branch has Neon Auth and no provider was named) or ``external``
(``jwks_url``, fetched and cached for a minute, with ``jwt_audience`` checked when set) -- and be
current; its role is the claim at ``jwt_role_claim_key`` (default ``.role``), else the anonymous
role. A token that fails is refused with 401, never downgraded to anonymous.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from neon_emulator import records
from neon_emulator.context import Context
from neon_emulator.dataapi import failures
from neon_emulator.neonauth import keys

JWKS_CACHE_SECONDS = 60.0


@dataclass
class Caller:
    role: str
    claims: dict[str, Any] = field(default_factory=dict)
    authenticated: bool = False


@dataclass
class JwksCache:
    """External JWKS documents by URL, fetched over HTTP (possibly from this emulator)."""

    entries: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)

    async def get(self, url: str) -> dict[str, Any]:
        cached = self.entries.get(url)
        if cached is not None and time.monotonic() - cached[0] < JWKS_CACHE_SECONDS:
            return cached[1]
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
                session.get(url) as response,
            ):
                response.raise_for_status()
                document = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise failures.invalid_token(
                f"could not fetch the JWKS from {url}: {type(exc).__name__}"
            ) from None
        if not isinstance(document, dict):
            raise failures.invalid_token(f"the document at {url} is not a JWKS")
        self.entries[url] = (time.monotonic(), document)
        return document


def _claim(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for part in [p for p in path.split(".") if p]:
        if not isinstance(value, dict):
            return None
        value = value.get(part.strip('"'))
    return value


async def caller(
    ctx: Context, data_api: records.DataApi, authorization: str | None, cache: JwksCache
) -> Caller:
    settings = data_api.settings
    anon = str(settings.get("db_anon_role") or "anonymous")
    if not authorization:
        return Caller(role=anon)
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise failures.invalid_token("Expected a Bearer token in the Authorization header")
    jwks, audience = await _key_source(ctx, data_api, cache)
    try:
        claims = keys.verify(token.strip(), jwks, audience=audience)
    except keys.InvalidToken as exc:
        code = "PGRST303" if str(exc) in ("JWT expired", "JWT not in audience") else "PGRST301"
        raise failures.invalid_token(str(exc), code) from None
    role = _claim(claims, str(settings.get("jwt_role_claim_key") or ".role"))
    return Caller(role=str(role) if role else anon, claims=claims, authenticated=True)


async def _key_source(
    ctx: Context, data_api: records.DataApi, cache: JwksCache
) -> tuple[dict[str, Any], str | None]:
    if data_api.auth_provider == "external" and data_api.jwks_url:
        return await cache.get(data_api.jwks_url), data_api.jwt_audience
    auth = ctx.store.neon_auth.get(data_api.branch_id)
    if auth is None or not auth.signing_key:
        raise failures.Failure(
            500,
            "PGRST300",
            "Server lacks JWT secret",
            hint="enable Neon Auth on the branch, or create the Data API with an external jwks_url",
        )
    return keys.public_jwks(auth.signing_key), data_api.jwt_audience
