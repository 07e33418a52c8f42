"""Neon Auth configuration, per branch (and the legacy project-scoped twins, which act on the
default branch): OAuth providers, trusted domains, ``allow_localhost``, email and password, the
email provider, plugins (organization, magic link, phone number), the app name and webhooks.

The auth server (:mod:`neon_emulator.neonauth.server`) reads this configuration on every request:
turning email and password off refuses sign-ins at once, a trusted domain is accepted as a
callback URL as soon as it is added, an OAuth provider is offered once it is configured.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import BaseModel

from neon_emulator import bodies, context, errors, lookups, records
from neon_emulator.context import Context
from neon_emulator.routes import reply

routes = web.RouteTableDef()

BRANCH = "/projects/{project_id}/branches/{branch_id}/auth"
LEGACY = "/projects/{project_id}/auth"
PROVIDER_FIELDS = ("id", "type", "client_id", "client_secret")


def _branch(request: web.Request) -> tuple[Context, records.NeonAuth]:
    ctx = context.of(request)
    return ctx, lookups.branch_neon_auth(request, ctx.store)


def _legacy(request: web.Request) -> tuple[Context, records.NeonAuth]:
    ctx = context.of(request)
    return ctx, lookups.project_neon_auth(request, ctx.store)


def _changes(spec: BaseModel) -> dict[str, Any]:
    return spec.model_dump(exclude_none=True)


# -- OAuth providers ---------------------------------------------------------------------------


def provider_view(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: entry[k] for k in PROVIDER_FIELDS if entry.get(k) is not None}


def _add_provider(ctx: Context, auth: records.NeonAuth, spec: bodies.OAuthProviderAdd) -> Any:
    if any(p["id"] == spec.id for p in auth.oauth_providers):
        raise errors.Conflict(f"OAuth provider {spec.id!r} already exists")
    entry: dict[str, Any] = {"id": spec.id, "type": "shared"}
    if spec.client_id or spec.client_secret:
        entry.update(type="standard", client_id=spec.client_id, client_secret=spec.client_secret)
    if spec.microsoft_tenant_id:
        entry["microsoft_tenant_id"] = spec.microsoft_tenant_id
    auth.oauth_providers.append({k: v for k, v in entry.items() if v is not None})
    ctx.store.neon_auth.put(auth)
    return provider_view(auth.oauth_providers[-1])


def _update_provider(
    ctx: Context, auth: records.NeonAuth, provider_id: str, spec: bodies.OAuthProviderUpdate
) -> Any:
    for entry in auth.oauth_providers:
        if entry["id"] == provider_id:
            entry.update(_changes(spec))
            if entry.get("client_id") or entry.get("client_secret"):
                entry["type"] = "standard"
            ctx.store.neon_auth.put(auth)
            return provider_view(entry)
    raise errors.NotFound(f"OAuth provider {provider_id!r} not found")


def _delete_provider(ctx: Context, auth: records.NeonAuth, provider_id: str) -> None:
    remaining = [p for p in auth.oauth_providers if p["id"] != provider_id]
    if len(remaining) == len(auth.oauth_providers):
        raise errors.NotFound(f"OAuth provider {provider_id!r} not found")
    auth.oauth_providers = remaining
    ctx.store.neon_auth.put(auth)


def _provider_routes(prefix: str, scope: Any) -> None:
    @routes.get(prefix + "/oauth_providers")
    async def list_providers(request: web.Request) -> web.Response:
        _, auth = scope(request)
        return reply({"providers": [provider_view(p) for p in auth.oauth_providers]})

    @routes.post(prefix + "/oauth_providers")
    async def add_provider(request: web.Request) -> web.Response:
        ctx, auth = scope(request)
        spec = await bodies.parse(request, bodies.OAuthProviderAdd)
        return reply(_add_provider(ctx, auth, spec))

    @routes.patch(prefix + "/oauth_providers/{oauth_provider_id}")
    async def update_provider(request: web.Request) -> web.Response:
        ctx, auth = scope(request)
        spec = await bodies.parse(request, bodies.OAuthProviderUpdate)
        provider_id = request.match_info["oauth_provider_id"]
        return reply(_update_provider(ctx, auth, provider_id, spec))

    @routes.delete(prefix + "/oauth_providers/{oauth_provider_id}")
    async def delete_provider(request: web.Request) -> web.Response:
        ctx, auth = scope(request)
        _delete_provider(ctx, auth, request.match_info["oauth_provider_id"])
        return web.Response(status=200)


# -- trusted domains ---------------------------------------------------------------------------


def _checked_domain(domain: str) -> str:
    parts = urlsplit(domain)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise errors.BadRequest(
            f"{bodies.PREFIX}invalid: domain (expected a URL such as https://app.example.com, "
            f"got {domain!r})"
        )
    return f"{parts.scheme}://{parts.netloc}"


def _domain_routes(prefix: str, scope: Any) -> None:
    @routes.get(prefix + "/domains")
    async def list_domains(request: web.Request) -> web.Response:
        _, auth = scope(request)
        return reply({"domains": auth.domains})

    @routes.post(prefix + "/domains")
    async def add_domain(request: web.Request) -> web.Response:
        ctx, auth = scope(request)
        spec = await bodies.parse(request, bodies.DomainAdd)
        domain = _checked_domain(spec.domain)
        if all(d["domain"] != domain for d in auth.domains):
            auth.domains.append({"domain": domain, "auth_provider": auth.auth_provider})
            ctx.store.neon_auth.put(auth)
        return web.Response(status=201)

    @routes.delete(prefix + "/domains")
    async def delete_domains(request: web.Request) -> web.Response:
        ctx, auth = scope(request)
        spec = await bodies.parse(request, bodies.DomainsDelete)
        wanted = {d.domain.rstrip("/") for d in spec.domains}
        auth.domains = [d for d in auth.domains if d["domain"] not in wanted]
        ctx.store.neon_auth.put(auth)
        return web.Response(status=200)


# -- email -------------------------------------------------------------------------------------


def email_provider_view(config: dict[str, Any]) -> dict[str, Any]:
    """The email provider as the API shows it: never the SMTP password."""
    return {k: v for k, v in config.items() if k != "password"}


def _email_provider(ctx: Context, auth: records.NeonAuth, spec: bodies.EmailServer) -> Any:
    config = _changes(spec)
    if spec.type == "standard":
        missing = [
            field
            for field in ("host", "port", "username", "password", "sender_email", "sender_name")
            if config.get(field) in (None, "")
        ]
        if missing:
            raise errors.BadRequest(
                f"{bodies.PREFIX}invalid: {missing[0]} (field required for a standard email server)"
            )
    else:
        config = {k: v for k, v in config.items() if k in ("type", "sender_email", "sender_name")}
    auth.email_provider = config
    ctx.store.neon_auth.put(auth)
    return email_provider_view(config)


def _email_routes(path: str, scope: Any) -> None:
    @routes.get(path)
    async def get_email_provider(request: web.Request) -> web.Response:
        _, auth = scope(request)
        return reply(email_provider_view(auth.email_provider))

    @routes.patch(path)
    async def update_email_provider(request: web.Request) -> web.Response:
        ctx, auth = scope(request)
        spec = await bodies.parse(request, bodies.EmailServer)
        return reply(_email_provider(ctx, auth, spec))


for _prefix, _scope in ((BRANCH, _branch), (LEGACY, _legacy)):
    _provider_routes(_prefix, _scope)
    _domain_routes(_prefix, _scope)
_email_routes(BRANCH + "/email_provider", _branch)
_email_routes(LEGACY + "/email_server", _legacy)


@routes.post(BRANCH + "/send_test_email")
async def send_test_email(request: web.Request) -> web.Response:
    """The emulator sends no email: the answer says so instead of pretending success."""
    _branch(request)
    spec = await bodies.parse(request, bodies.TestEmail)
    return reply(
        {
            "success": False,
            "error_message": f"neon-emulator sends no email (SMTP server {spec.host}:{spec.port} "
            "was not contacted)",
        }
    )


@routes.get(BRANCH + "/email_and_password")
async def get_email_and_password(request: web.Request) -> web.Response:
    _, auth = _branch(request)
    return reply(auth.email_and_password)


# -- localhost, plugins, app name, webhooks ----------------------------------------------------


@routes.get(BRANCH + "/allow_localhost")
async def get_allow_localhost(request: web.Request) -> web.Response:
    _, auth = _branch(request)
    return reply({"allow_localhost": auth.allow_localhost})


@routes.patch(BRANCH + "/allow_localhost")
async def update_allow_localhost(request: web.Request) -> web.Response:
    ctx, auth = _branch(request)
    spec = await bodies.parse(request, bodies.AllowLocalhost)
    auth.allow_localhost = spec.allow_localhost
    ctx.store.neon_auth.put(auth)
    return reply({"allow_localhost": auth.allow_localhost})


@routes.get(BRANCH + "/plugins")
async def get_plugins(request: web.Request) -> web.Response:
    _, auth = _branch(request)
    return reply(
        {
            "organization": auth.organization,
            "magic_link": auth.magic_link,
            "phone_number": auth.phone_number,
            "email_provider": email_provider_view(auth.email_provider),
            "email_and_password": auth.email_and_password,
            "oauth_providers": [provider_view(p) for p in auth.oauth_providers],
            "allow_localhost": auth.allow_localhost,
        }
    )


def _settings_patch(path: str, field: str, model: type[BaseModel]) -> None:
    """``PATCH`` of one configuration object: the fields given replace, the others stay."""

    @routes.patch(BRANCH + path)
    async def update(request: web.Request) -> web.Response:
        ctx, auth = _branch(request)
        spec = await bodies.parse(request, model)
        merged = {**getattr(auth, field), **_changes(spec)}
        setattr(auth, field, merged)
        ctx.store.neon_auth.put(auth)
        return reply(merged)


_settings_patch("/email_and_password", "email_and_password", bodies.EmailAndPasswordUpdate)
_settings_patch("/plugins/organization", "organization", bodies.OrganizationPluginUpdate)
_settings_patch("/plugins/magic-link", "magic_link", bodies.MagicLinkPluginUpdate)
_settings_patch("/plugins/phone-number", "phone_number", bodies.PhoneNumberPluginUpdate)


@routes.get(BRANCH + "/plugins/phone-number")
async def get_phone_number_plugin(request: web.Request) -> web.Response:
    _, auth = _branch(request)
    return reply(auth.phone_number)


@routes.patch(BRANCH + "/config")
async def update_config(request: web.Request) -> web.Response:
    ctx, auth = _branch(request)
    spec = await bodies.parse(request, bodies.AuthConfigUpdate)
    auth.name = spec.name
    ctx.store.neon_auth.put(auth)
    return reply({"name": auth.name})


@routes.get(BRANCH + "/webhooks")
async def get_webhooks(request: web.Request) -> web.Response:
    _, auth = _branch(request)
    return reply(auth.webhooks)


@routes.put(BRANCH + "/webhooks")
async def update_webhooks(request: web.Request) -> web.Response:
    """Replaces the webhook configuration. The emulator stores it; it calls no webhook."""
    ctx, auth = _branch(request)
    spec = await bodies.parse(request, bodies.WebhookConfig)
    if spec.enabled and not spec.webhook_url:
        raise errors.BadRequest(f"{bodies.PREFIX}invalid: webhook_url (required when enabled)")
    if spec.webhook_url is not None:
        parts = urlsplit(spec.webhook_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise errors.BadRequest(
                f"{bodies.PREFIX}invalid: webhook_url (expected an http(s) URL)"
            )
    config = _changes(spec)
    config.setdefault("enabled_events", [])
    config.setdefault("timeout_seconds", 5)
    auth.webhooks = config
    ctx.store.neon_auth.put(auth)
    return reply(auth.webhooks)
