"""Neon Auth and the Data API of one branch: `spec.auth` and `spec.dataApi`.

Both belong to a branch in Neon's API (`/branches/{id}/auth`, `/branches/{id}/data-api/{db}`),
so they are fields of the resources that own a branch, NeonAppDatabase (its default branch) and
NeonBranch (a preview branch gets its own users and URLs), rather than kinds of their own: a
separate kind would need its own reference, readiness wait and deletion ordering against the
branch, and the URLs would reach the app through yet another Secret name.

What the fields list is what Neon has: an OAuth provider left out is removed, a feature turned
off is disabled. The app's keys go into a second Secret (`auth.secretName`, default
`<metadata.name>-neon-auth`), never into status: Neon returns the publishable and secret keys
only in the response that enables Neon Auth.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal, Self

import pydantic
from pydantic import Field, StringConstraints

from neon_operator.models.common import Model, ObjectName, SecretKeyRef, cel, validations

AUTH_SECRET_SUFFIX: Final = "-neon-auth"

OAuthProviderId = Literal["google", "github", "microsoft"]
"""The OAuth providers Neon Auth offers."""
DataApiAuthProvider = Literal["neon_auth", "external"]
"""Who signs the JWTs the Data API accepts: the branch's Neon Auth or another issuer."""

Origin = Annotated[
    str, StringConstraints(pattern=r"^https?://[^/\s]+$", min_length=8, max_length=253)
]
"""A scheme and host (and port), e.g. `https://app.example.com` or `https://*.example.com`."""
Url = Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=2048)]
SchemaName = Annotated[str, StringConstraints(min_length=1, max_length=63)]
RoleName = Annotated[str, StringConstraints(min_length=1, max_length=63)]


CLIENT_ID_WITH_SECRET: Final = (
    "oauth[].clientId and oauth[].clientSecretRef go together: set both for your own OAuth app, "
    "neither for Neon's shared keys"
)
TENANT_ONLY_MICROSOFT: Final = "oauth[].microsoftTenantId only applies to the microsoft provider"
JWKS_REQUIRED: Final = "dataApi.jwksUrl is required when dataApi.authProvider is external"
JWKS_ONLY_EXTERNAL: Final = (
    "dataApi.jwksUrl and dataApi.jwtAudience only apply when dataApi.authProvider is external"
)


class OAuthProvider(Model):
    """One sign-in provider: Neon's shared development keys, or your own OAuth app."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=validations(
            cel(
                "has(self.clientId) == has(self.clientSecretRef)",
                CLIENT_ID_WITH_SECRET,
                field_path=".clientSecretRef",
                reason="FieldValueRequired",
            ),
            cel(
                "!has(self.microsoftTenantId) || self.id == 'microsoft'",
                TENANT_ONLY_MICROSOFT,
                field_path=".microsoftTenantId",
                reason="FieldValueForbidden",
            ),
        )
    )

    id: OAuthProviderId
    """`google`, `github` or `microsoft`."""
    client_id: Annotated[str, StringConstraints(min_length=1, max_length=512)] | None = None
    """Client id of your own OAuth app; unset: Neon's shared keys (development only)."""
    client_secret_ref: SecretKeyRef | None = None
    """The key of a Secret in this namespace holding the OAuth app's client secret. A new
    value there updates the provider in Neon in place."""
    microsoft_tenant_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = (
        None
    )
    """Microsoft Entra tenant (microsoft only)."""

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.client_id is None) != (self.client_secret_ref is None):
            raise ValueError(CLIENT_ID_WITH_SECRET)
        if self.microsoft_tenant_id is not None and self.id != "microsoft":
            raise ValueError(TENANT_ONLY_MICROSOFT)
        return self


class NeonAuthSpec(Model):
    """Neon Auth (Better Auth) for the branch: sign-in methods and where sign-in may return to."""

    enabled: bool = True
    """`false` disables Neon Auth; its users stay in the database's `neon_auth` schema."""
    trusted_domains: list[Origin] = Field(default_factory=list, max_length=64)
    """Origins sign-in may redirect to, e.g. `https://app.example.com` (wildcards
    `https://*.example.com`)."""
    allow_localhost: bool = True
    """Accept `http://localhost` callbacks (development)."""
    email_password: bool = True
    """Sign-up and sign-in with email and password."""
    oauth: list[OAuthProvider] = Field(
        default_factory=list,
        max_length=3,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["id"]},
    )
    """OAuth providers; each id at most once. Providers not listed are removed."""
    secret_name: ObjectName | None = None
    """The Secret receiving the URLs and keys; default `<metadata.name>-neon-auth`."""

    def secret(self, resource_name: str) -> str:
        """The output Secret's name for the resource named `resource_name`."""
        return self.secret_name or resource_name + AUTH_SECRET_SUFFIX


class DataApiSpec(Model):
    """The Data API (a PostgREST-compatible REST endpoint) over one database of the branch."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=validations(
            cel(
                "self.authProvider != 'external' || has(self.jwksUrl)",
                JWKS_REQUIRED,
                field_path=".jwksUrl",
                reason="FieldValueRequired",
            ),
            cel(
                "self.authProvider == 'external' || (!has(self.jwksUrl) && !has(self.jwtAudience))",
                JWKS_ONLY_EXTERNAL,
                field_path=".jwksUrl",
                reason="FieldValueForbidden",
            ),
        )
    )

    enabled: bool = True
    """`false` removes the Data API of the database."""
    database_name: Annotated[str, StringConstraints(min_length=1, max_length=63)] | None = None
    """The database served; default the branch's database (the app's)."""
    auth_provider: DataApiAuthProvider = "neon_auth"
    """`neon_auth` (needs `auth.enabled`) or `external` (with `jwksUrl`). Changing it
    re-creates the Data API."""
    jwks_url: Url | None = None
    """JWKS of the external issuer."""
    jwt_audience: Annotated[str, StringConstraints(min_length=1, max_length=512)] | None = None
    """Audience (`aud`) external tokens must carry."""
    schemas: list[SchemaName] = Field(
        default_factory=lambda: ["public"], min_length=1, max_length=32
    )
    """Schemas exposed."""
    anonymous_role: RoleName = "anonymous"
    """Role requests without a token run as."""
    default_grants: bool = True
    """Grant Neon's defaults to `authenticated` on the exposed schemas when the Data API is
    created (later changes do not revoke grants)."""
    cors_origins: list[Origin] = Field(default_factory=list, max_length=64)
    """Origins browsers may call the Data API from; empty: Neon's default."""

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.auth_provider == "external" and self.jwks_url is None:
            raise ValueError(JWKS_REQUIRED)
        if self.auth_provider != "external" and (self.jwks_url or self.jwt_audience):
            raise ValueError(JWKS_ONLY_EXTERNAL)
        return self


NEON_AUTH_NEEDS_AUTH: Final = (
    "dataApi.authProvider neon_auth needs Neon Auth: set auth.enabled true, or use "
    "authProvider external with a jwksUrl"
)
DATA_API_RULE: Final = cel(
    "!has(self.dataApi) || !self.dataApi.enabled || self.dataApi.authProvider != 'neon_auth' || "
    "(has(self.auth) && self.auth.enabled)",
    NEON_AUTH_NEEDS_AUTH,
    field_path=".dataApi.authProvider",
)
"""The spec-level rule tying the two together (both kinds carry it)."""


class OAuthProviderStatus(Model):
    """An OAuth provider as the operator last configured it."""

    id: str
    """`google`, `github` or `microsoft`."""
    keys: Literal["shared", "custom"]
    """Neon's shared keys or your OAuth app's."""
    secret_fingerprint: str | None = None
    """Short SHA-256 of the client id and secret applied (never the secret): a change of the
    Secret's content shows as a different fingerprint and updates the provider."""


class NeonAuthStatus(Model):
    """What Neon Auth offers now; URLs only, the keys are in the Secret."""

    enabled: bool = False
    """Whether Neon Auth is on."""
    base_url: str | None = None
    """The auth server (`NEON_AUTH_BASE_URL`)."""
    jwks_url: str | None = None
    """Where its JWT signing keys are published."""
    email_password: bool | None = None
    """Whether sign-in with email and password is on."""
    allow_localhost: bool | None = None
    """Whether `localhost` callbacks are accepted."""
    trusted_domains: list[str] = Field(default_factory=list)
    """Origins sign-in may redirect to."""
    oauth: list[OAuthProviderStatus] = Field(default_factory=list)
    """The OAuth providers offered."""
    secret_name: str | None = None
    """The Secret holding the URLs and keys."""


class DataApiStatus(Model):
    """The Data API as the operator last configured it."""

    enabled: bool = False
    """Whether the Data API is on."""
    url: str | None = None
    """The REST endpoint (`NEON_DATA_API_URL`)."""
    database_name: str | None = None
    """The database it serves."""
    auth_provider: str | None = None
    """`neon_auth` or `external`."""
    jwks_url: str | None = None
    """The external JWKS it was created with (the Data API is re-created when it changes)."""
    jwt_audience: str | None = None
    """The audience external tokens must carry."""
