"""Neon Auth and the Data API of one branch, and the Secret that hands their URLs and keys to
the app. Called by the NeonAppDatabase and NeonBranch reconcilers once their branch and its
read-write compute exist::

    Data API unwanted, or its auth provider / database changed → DELETE it
    Neon Auth wanted: GET …/auth ─ 404 → POST (keys → Secret at once: Neon shows them only here)
      GET …/plugins + …/domains → add / PATCH / delete OAuth providers, email and password,
      allow_localhost, trusted domains until they are what the spec lists
    Neon Auth unwanted but on → DELETE (users stay in the neon_auth schema)
    Data API wanted: GET ─ 404 → POST; settings differ → PATCH
    Secret ≠ URLs (+ keys kept from the Secret) → write; both off → delete it

A custom provider's client secret is read from the Secret the user names; a fingerprint of it
(never the value) sits in status, so a new value there updates the provider in place. Nothing
is called at all for a resource with neither feature, and drift (a provider added or removed
in Neon, settings changed) is reverted whenever the owning reconciler compares with Neon.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, Final

from neon_operator import errors, kube, neon
from neon_operator.models import label_value
from neon_operator.models.integrations import (
    AUTH_SECRET_SUFFIX,
    DataApiSpec,
    DataApiStatus,
    NeonAuthSpec,
    NeonAuthStatus,
    OAuthProvider,
    OAuthProviderStatus,
)
from neon_operator.neon import inputs, models
from neon_operator.reconcilers.connection_secret import MANAGED_BY
from neon_operator.reconcilers.context import Context
from neon_operator.reconcilers.references import namespace_of
from neon_operator.reconcilers.reporting import Report
from neon_operator.settings import PREFIX

__all__ = ["KEYS", "Target", "converge", "drift_calls", "secret_name"]

BASE_URL: Final = "NEON_AUTH_BASE_URL"
PUBLIC_BASE_URL: Final = "NEXT_PUBLIC_NEON_AUTH_URL"
JWKS_URL: Final = "NEON_AUTH_JWKS_URL"
PROJECT_ID: Final = "NEXT_PUBLIC_STACK_PROJECT_ID"
PUBLISHABLE_KEY: Final = "NEXT_PUBLIC_STACK_PUBLISHABLE_CLIENT_KEY"
SECRET_KEY: Final = "STACK_SECRET_SERVER_KEY"
DATA_API_URL: Final = "NEON_DATA_API_URL"
KEYS: Final = (BASE_URL, PUBLIC_BASE_URL, JWKS_URL, PROJECT_ID, PUBLISHABLE_KEY, SECRET_KEY)
"""Neon Auth's keys in the Secret (unprefixed); the Data API adds :data:`DATA_API_URL`."""
_ONCE: Final = (PROJECT_ID, PUBLISHABLE_KEY, SECRET_KEY)
_KEYS: Final = (BASE_URL, PUBLIC_BASE_URL, JWKS_URL, *_ONCE, DATA_API_URL)
"""The data keys this module writes (after the key prefix); others in the Secret stay."""
"""Keys Neon returns only when Neon Auth is enabled: carried over from the Secret as written."""


@dataclasses.dataclass(frozen=True)
class Target:
    """The branch whose integrations are converged, and who owns the output Secret."""

    project_id: str
    branch_id: str
    database: str
    """The branch's database (Neon Auth's, and the Data API's unless the spec names one)."""
    owner: kube.ObjectRef
    key_prefix: str = ""


def secret_name(owner_name: str, auth: NeonAuthSpec | None) -> str:
    """The output Secret's name: `auth.secretName` or `<owner>-neon-auth`."""
    return auth.secret(owner_name) if auth is not None else owner_name + AUTH_SECRET_SUFFIX


def drift_calls(auth: NeonAuthSpec | None, data_api: DataApiSpec | None) -> int:
    """Neon calls a comparison that finds nothing to change costs: the integration, its
    settings and trusted domains for Neon Auth, one GET for the Data API."""
    return 3 * bool(auth and auth.enabled) + bool(data_api and data_api.enabled)


def _fingerprint(client_id: str, secret: str) -> str:
    return hashlib.sha256(f"{client_id}\0{secret}".encode()).hexdigest()[:16]


async def converge(
    ctx: Context,
    report: Report[Any],
    client: neon.NeonClient,
    target: Target,
    *,
    auth: NeonAuthSpec | None,
    data_api: DataApiSpec | None,
) -> None:
    """Bring the branch's Neon Auth, Data API and output Secret to ``auth``/``data_api``."""
    status = report.status
    had_auth: NeonAuthStatus | None = status.auth
    had_data_api: DataApiStatus | None = status.data_api
    if auth is None and data_api is None and had_auth is None and had_data_api is None:
        return
    wants_auth = auth is not None and auth.enabled
    wants_data_api = data_api is not None and data_api.enabled
    await _drop_stale_data_api(client, report, target, data_api, had_data_api)
    created: models.NeonAuthCreated | None = None
    found: models.NeonAuth | None = None
    if auth is not None and wants_auth:
        found, created = await _ensure_auth(report, client, target, auth)
    elif had_auth is not None and had_auth.enabled:
        await _disable_auth(report, client, target)
    if not wants_auth:
        report.update(auth=NeonAuthStatus() if had_auth or auth else None)
    data_api_url: str | None = None
    if data_api is not None and wants_data_api:
        data_api_url = await _ensure_data_api(report, client, target, data_api)
    else:
        report.update(data_api=DataApiStatus() if had_data_api or data_api else None)
    await _write_secret(ctx, report, target, auth, found, created, data_api_url)
    if created is not None:
        await report.flush()
    if auth is not None and found is not None and wants_auth:
        await _configure_auth(ctx, report, client, target, auth, found)


# -- Neon Auth ------------------------------------------------------------------------------


async def _ensure_auth(
    report: Report[Any], client: neon.NeonClient, target: Target, auth: NeonAuthSpec
) -> tuple[models.NeonAuth, models.NeonAuthCreated | None]:
    """The integration, enabling it when absent (then also the create response)."""
    try:
        return await client.get_neon_auth(target.project_id, target.branch_id), None
    except neon.NotFound:
        pass
    created = await client.enable_neon_auth(
        target.project_id, target.branch_id, database_name=target.database
    )
    await report.event("Normal", "NeonAuthEnabled", f"Neon Auth enabled on {target.branch_id}")
    found = models.NeonAuth(
        auth_provider=created.auth_provider,
        auth_provider_project_id=created.auth_provider_project_id,
        jwks_url=created.jwks_url,
        base_url=created.base_url,
    )
    report.update(
        auth=NeonAuthStatus(
            enabled=True,
            base_url=created.base_url,
            jwks_url=created.jwks_url,
            secret_name=secret_name(target.owner.name, auth),
        )
    )
    return found, created


async def _disable_auth(report: Report[Any], client: neon.NeonClient, target: Target) -> None:
    try:
        await client.disable_neon_auth(target.project_id, target.branch_id, delete_data=False)
    except neon.NotFound:
        return
    await report.event("Normal", "NeonAuthDisabled", f"Neon Auth disabled on {target.branch_id}")


@dataclasses.dataclass(frozen=True)
class _WantedProvider:
    spec: OAuthProvider
    client_secret: str | None = dataclasses.field(default=None, repr=False)

    @property
    def fingerprint(self) -> str | None:
        if self.spec.client_id is None or self.client_secret is None:
            return None
        return _fingerprint(self.spec.client_id, self.client_secret)

    def change(self, *, with_id: bool) -> inputs.OAuthProviderChange:
        return inputs.OAuthProviderChange(
            id=self.spec.id if with_id else None,
            client_id=self.spec.client_id,
            client_secret=self.client_secret,
            microsoft_tenant_id=self.spec.microsoft_tenant_id,
        )


async def _wanted_providers(
    ctx: Context, target: Target, auth: NeonAuthSpec
) -> list[_WantedProvider]:
    wanted = []
    for provider in auth.oauth:
        ref = provider.client_secret_ref
        if ref is None:
            wanted.append(_WantedProvider(provider))
            continue
        namespace = namespace_of(target.owner)
        secret = await ctx.kube.read_secret(namespace, ref.name)
        value = secret.data.get(ref.key) if secret is not None else None
        if not value:
            raise errors.RetryLater(
                "ClientSecretNotFound",
                f"auth.oauth[{provider.id}].clientSecretRef: Secret {ref.name!r} in namespace "
                f"{namespace!r} has no key {ref.key!r}; create it",
                delay=ctx.settings.retry_delay,
            )
        wanted.append(_WantedProvider(provider, value))
    return wanted


def _up_to_date(
    wanted: _WantedProvider, existing: models.OAuthProvider, recorded: str | None
) -> bool:
    if wanted.spec.client_id is None:
        return existing.client_id is None
    if existing.client_id != wanted.spec.client_id:
        return False
    if existing.client_secret is not None:
        return existing.client_secret.get_secret_value() == wanted.client_secret
    return recorded == wanted.fingerprint


async def _configure_auth(
    ctx: Context,
    report: Report[Any],
    client: neon.NeonClient,
    target: Target,
    auth: NeonAuthSpec,
    found: models.NeonAuth,
) -> None:
    """OAuth providers, email and password, localhost and trusted domains, as listed."""
    project, branch = target.project_id, target.branch_id
    wanted = await _wanted_providers(ctx, target, auth)
    providers, email_password, localhost = await client.get_neon_auth_settings(project, branch)
    previous: NeonAuthStatus = report.status.auth or NeonAuthStatus()
    recorded = {p.id: p.secret_fingerprint for p in previous.oauth}
    existing = {p.id: p for p in providers}
    changed: list[str] = []
    wanted_ids = {w.spec.id for w in wanted}
    for provider_id in existing.keys() - wanted_ids:
        await client.delete_oauth_provider(project, branch, provider_id)
        changed.append(f"removed OAuth provider {provider_id}")
    for entry in wanted:
        current = existing.get(entry.spec.id)
        if current is None:
            await client.add_oauth_provider(project, branch, entry.change(with_id=True))
            changed.append(f"added OAuth provider {entry.spec.id}")
        elif not _up_to_date(entry, current, recorded.get(entry.spec.id)):
            if entry.spec.client_id is None:  # back to shared keys: Neon cannot unset a key
                await client.delete_oauth_provider(project, branch, entry.spec.id)
                await client.add_oauth_provider(project, branch, entry.change(with_id=True))
            else:
                await client.update_oauth_provider(
                    project, branch, entry.spec.id, entry.change(with_id=False)
                )
            changed.append(f"updated OAuth provider {entry.spec.id}")
    if email_password != auth.email_password:
        await client.set_email_and_password(project, branch, auth.email_password)
        changed.append(f"email and password {'on' if auth.email_password else 'off'}")
    if localhost != auth.allow_localhost:
        await client.set_allow_localhost(project, branch, auth.allow_localhost)
        changed.append(f"localhost {'allowed' if auth.allow_localhost else 'refused'}")
    domains = set(await client.list_trusted_domains(project, branch))
    wanted_domains = set(auth.trusted_domains)
    extra = sorted(domains - wanted_domains)
    if extra:
        await client.delete_trusted_domains(project, branch, extra)
        changed.append(f"untrusted {', '.join(extra)}")
    for domain in sorted(wanted_domains - domains):
        await client.add_trusted_domain(project, branch, domain)
        changed.append(f"trusted {domain}")
    if changed:
        await report.event("Normal", "NeonAuthUpdated", "; ".join(changed))
    report.update(
        auth=NeonAuthStatus(
            enabled=True,
            base_url=found.base_url,
            jwks_url=found.jwks_url,
            email_password=auth.email_password,
            allow_localhost=auth.allow_localhost,
            trusted_domains=sorted(wanted_domains),
            oauth=[
                OAuthProviderStatus(
                    id=w.spec.id,
                    keys="shared" if w.spec.client_id is None else "custom",
                    secret_fingerprint=w.fingerprint,
                )
                for w in wanted
            ],
            secret_name=secret_name(target.owner.name, auth),
        )
    )


# -- Data API -------------------------------------------------------------------------------


def _database(target: Target, data_api: DataApiSpec) -> str:
    return data_api.database_name or target.database


def _identity(target: Target, data_api: DataApiSpec) -> DataApiStatus:
    """What Neon fixes when it creates the Data API: a change needs a new one."""
    return DataApiStatus(
        enabled=True,
        database_name=_database(target, data_api),
        auth_provider=data_api.auth_provider,
        jwks_url=data_api.jwks_url,
        jwt_audience=data_api.jwt_audience,
    )


async def _drop_stale_data_api(
    client: neon.NeonClient,
    report: Report[Any],
    target: Target,
    data_api: DataApiSpec | None,
    had: DataApiStatus | None,
) -> None:
    if had is None or not had.enabled or had.database_name is None:
        return
    unchanged = data_api is not None and _identity(target, data_api) == had.model_copy(
        update={"url": None}
    )
    if data_api is not None and data_api.enabled and unchanged:
        return
    try:
        await client.delete_data_api(target.project_id, target.branch_id, had.database_name)
    except neon.NotFound:
        pass
    else:
        await report.event(
            "Normal", "DataApiDeleted", f"Data API of database {had.database_name} removed"
        )
    report.update(data_api=DataApiStatus())


def _settings(data_api: DataApiSpec) -> inputs.DataApiSettings:
    return inputs.DataApiSettings(
        db_anon_role=data_api.anonymous_role,
        db_schemas=list(data_api.schemas),
        server_cors_allowed_origins=",".join(data_api.cors_origins) or None,
    )


def _settings_differ(wanted: inputs.DataApiSettings, found: dict[str, Any]) -> bool:
    return any(found.get(key) != value for key, value in wanted.to_json().items()) or (
        wanted.server_cors_allowed_origins is None
        and bool(found.get("server_cors_allowed_origins"))
    )


async def _ensure_data_api(
    report: Report[Any], client: neon.NeonClient, target: Target, data_api: DataApiSpec
) -> str:
    project, branch, database = target.project_id, target.branch_id, _database(target, data_api)
    settings = _settings(data_api)
    try:
        found = await client.get_data_api(project, branch, database)
    except neon.NotFound:
        url = await client.create_data_api(
            project,
            branch,
            database,
            inputs.DataApiCreate(
                auth_provider=data_api.auth_provider,
                jwks_url=data_api.jwks_url,
                jwt_audience=data_api.jwt_audience,
                add_default_grants=data_api.default_grants,
                settings=settings,
            ),
        )
        await report.event("Normal", "DataApiCreated", f"Data API serves database {database}")
    else:
        url = found.url
        if _settings_differ(settings, found.settings):
            if settings.server_cors_allowed_origins is None:
                settings = settings.model_copy(update={"server_cors_allowed_origins": ""})
            await client.update_data_api(project, branch, database, settings)
            await report.event("Normal", "DataApiUpdated", f"Data API settings of {database}")
    report.update(data_api=_identity(target, data_api).model_copy(update={"url": url}))
    return url


# -- the Secret -----------------------------------------------------------------------------


async def _write_secret(
    ctx: Context,
    report: Report[Any],
    target: Target,
    auth: NeonAuthSpec | None,
    found: models.NeonAuth | None,
    created: models.NeonAuthCreated | None,
    data_api_url: str | None,
) -> None:
    namespace = namespace_of(target.owner)
    name = secret_name(target.owner.name, auth)
    current = await ctx.kube.read_secret(namespace, name)
    if current is not None and current.controller_uid != target.owner.uid:
        raise errors.AwaitChange(
            "SecretNotOwned",
            f"Secret {name!r} exists and is not owned by {target.owner.kind} "
            f"{target.owner.name!r}; set auth.secretName to another name or delete it",
        )
    if found is None and data_api_url is None:
        if current is not None:
            await ctx.kube.delete_secret(namespace, name, current=current)
            await report.event("Normal", "SecretDeleted", f"Secret {name} deleted")
        return
    prefix = target.key_prefix
    data: dict[str, str] = {}
    if found is not None:
        if created is not None:
            data[prefix + PROJECT_ID] = created.auth_provider_project_id
            data[prefix + PUBLISHABLE_KEY] = created.pub_client_key.get_secret_value()
            data[prefix + SECRET_KEY] = created.secret_server_key.get_secret_value()
        elif current is not None:
            kept = [prefix + key for key in _ONCE]
            data.update({key: current.data[key] for key in kept if key in current.data})
        if found.base_url:
            data[prefix + BASE_URL] = found.base_url
            data[prefix + PUBLIC_BASE_URL] = found.base_url
        if found.jwks_url:
            data[prefix + JWKS_URL] = found.jwks_url
    if data_api_url is not None:
        data[prefix + DATA_API_URL] = data_api_url
    labels = {**MANAGED_BY, f"{PREFIX}/owner": label_value(target.owner.name)}
    changes: dict[str, str | None] = dict(data)
    if current is not None:
        managed = {prefix + key for key in _KEYS}
        changes.update({key: None for key in current.data if key in managed and key not in data})
        unchanged = all(current.data.get(key) == value for key, value in changes.items())
        if unchanged and labels.items() <= current.labels.items():
            return
    # At the version read: a change made since fails with kube.Conflict and is decided again.
    await ctx.kube.write_secret(
        namespace,
        name,
        data=changes,
        labels=labels,
        annotations={},
        owner=target.owner,
        current=current,
    )
    verb = "written" if current is None else "updated"
    await report.event("Normal", "AuthSecretWritten", f"Secret {name} {verb}")
