"""NeonAppDatabase: one end-user app = one Neon project, with its connection Secret.

The operator creates the project in the organization of the resource's tier (as mapped by the
NeonConfig named in `configRef`), writes the connection strings into a Secret it owns, keeps
compute settings and the project name in sync, moves the project when the tier changes, and on
deletion deletes or keeps the project according to `deletionPolicy`. `adoptProjectId` takes
over an existing project instead of creating a twin.

What Neon fixes at creation (region, Postgres version, default branch/database/role names, the
adopted project id) is immutable here too, refused at admission by CEL transition rules. Optional
`regionId`/`pgVersion` may still be added later (pinning what the NeonConfig defaulted): the
operator reports `Ready=False` if the pinned value differs from the project's.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final, Literal

import pydantic
from pydantic import Field, StringConstraints

from neon_operator.models.common import (
    QUALIFIED_NAME_PATTERN,
    CreatedStatus,
    DeletionPolicy,
    LabelValue,
    Model,
    ObjectMeta,
    ObjectName,
    PgVersion,
    RegionId,
    TierName,
    Timestamp,
    cel,
    immutable,
    validations,
)
from neon_operator.models.compute import Compute
from neon_operator.models.integrations import (
    DATA_API_RULE,
    DataApiSpec,
    DataApiStatus,
    NeonAuthSpec,
    NeonAuthStatus,
)

KIND: Final = "NeonAppDatabase"
SECRET_NAME_SUFFIX: Final = "-neon"
PROJECT_ID_PATTERN: Final = r"^[a-z0-9-]{1,60}$"

POSTGRES_NAME_BYTES: Final = 63
"""Postgres truncates identifiers to NAMEDATALEN - 1 = 63 bytes; Neon refuses longer names."""
POSTGRES_NAME_MESSAGE: Final = (
    "must be at most 63 bytes in UTF-8 (Postgres' identifier limit; a letter such as é takes "
    "2 bytes, an emoji 4): use a shorter name"
)
ROLE_PREFIX_MESSAGE: Final = (
    "roleName must not start with pg_: Postgres reserves that prefix for its own roles"
)


def _postgres_name(value: str) -> str:
    if len(value.encode()) > POSTGRES_NAME_BYTES:
        raise ValueError(POSTGRES_NAME_MESSAGE)
    return value


def _role_name(value: str) -> str:
    if value.startswith("pg_"):
        raise ValueError(ROLE_PREFIX_MESSAGE)
    return value


PostgresName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=POSTGRES_NAME_BYTES),
    pydantic.AfterValidator(_postgres_name),
    Field(
        json_schema_extra=validations(
            cel(f"size(bytes(self)) <= {POSTGRES_NAME_BYTES}", POSTGRES_NAME_MESSAGE)
        )
    ),
]
"""A Postgres database name: at most 63 bytes (not characters)."""
RoleName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=POSTGRES_NAME_BYTES),
    pydantic.AfterValidator(_postgres_name),
    pydantic.AfterValidator(_role_name),
    Field(
        json_schema_extra=validations(
            cel(f"size(bytes(self)) <= {POSTGRES_NAME_BYTES}", POSTGRES_NAME_MESSAGE),
            cel("!self.startsWith('pg_')", ROLE_PREFIX_MESSAGE),
        )
    ),
]
"""A Postgres role name: a :data:`PostgresName` outside Postgres' reserved `pg_` prefix."""

LABEL_KEYS_MESSAGE: Final = (
    "every key must be a Kubernetes label key: an optional DNS prefix and '/', then at most 63 "
    "letters, digits, '-', '_' or '.', starting and ending with a letter or digit (e.g. "
    "example.com/team)"
)
ANNOTATION_KEYS_MESSAGE: Final = LABEL_KEYS_MESSAGE.replace("label key", "annotation key")
AnnotationValue = Annotated[str, StringConstraints(max_length=8192)]


def _qualified_keys(message: str) -> dict[str, Any]:
    return validations(
        cel(
            f"self.all(k, size(k) <= 317 && k.matches(r'{QUALIFIED_NAME_PATTERN}'))",
            message,
        )
    )


ProjectId = Annotated[str, StringConstraints(pattern=PROJECT_ID_PATTERN, max_length=60)]
"""A Neon project id, e.g. `cold-bonus-61650555`."""


class ConfigRef(Model):
    """Which NeonConfig (cluster-scoped) provides the API key and the tier → organization map."""

    name: ObjectName = "default"
    """Name of the NeonConfig."""


class BranchSettings(Model):
    """Names Neon gives the project's default branch, database and owner role at creation."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=256)] = "main"
    """Name of the default branch."""
    database_name: PostgresName = "neondb"
    """Name of the database created on the default branch (at most 63 bytes)."""
    role_name: RoleName = "neondb_owner"
    """Name of the role that owns the database (the connection Secret's user); at most 63
    bytes, not starting with `pg_`."""


class ConnectionSecretSpec(Model):
    """The Secret (in the resource's namespace, owned by it) that apps consume with envFrom.

    It carries `DATABASE_URL` (pooled), `DATABASE_URL_UNPOOLED`, `PGHOST`,
    `PGHOST_UNPOOLED`, `PGPORT`, `PGUSER`, `PGPASSWORD` and `PGDATABASE`.
    """

    name: ObjectName | None = None
    """Name of the Secret; default `<metadata.name>-neon`. The operator writes only a Secret it
    created for this resource: an existing Secret of that name is left untouched (Ready=False,
    reason SecretConflict) unless it carries the annotation
    `neon.operator.dev/adopt: <Kind>/<metadata.name>` naming this resource (e.g.
    `NeonAppDatabase/todo-app`); the operator then adds its keys, keeps the Secret's other keys,
    labels and annotations, and owns it from then on (it is deleted with the resource)."""
    key_prefix: Annotated[
        str, StringConstraints(pattern=r"^([A-Za-z_][A-Za-z0-9_]*)?$", max_length=64)
    ] = ""
    """Prefix for every key (e.g. `APP_` gives `APP_DATABASE_URL`), safe as an env var name."""
    labels: dict[str, LabelValue] = Field(
        default_factory=dict, max_length=64, json_schema_extra=_qualified_keys(LABEL_KEYS_MESSAGE)
    )
    """Extra labels on the Secret (Kubernetes label keys and values)."""
    annotations: dict[str, AnnotationValue] = Field(
        default_factory=dict,
        max_length=64,
        json_schema_extra=_qualified_keys(ANNOTATION_KEYS_MESSAGE),
    )
    """Extra annotations on the Secret (e.g. for a reloader)."""

    @pydantic.field_validator("labels", "annotations")
    @classmethod
    def _qualified(cls, value: dict[str, str], info: pydantic.ValidationInfo) -> dict[str, str]:
        if not all(len(k) <= 317 and re.fullmatch(QUALIFIED_NAME_PATTERN, k) for k in value):
            raise ValueError(
                LABEL_KEYS_MESSAGE if info.field_name == "labels" else ANNOTATION_KEYS_MESSAGE
            )
        return value

    def secret_name(self, resource_name: str) -> str:
        """The Secret's name for the resource named `resource_name`."""
        return self.name or resource_name + SECRET_NAME_SUFFIX


_REGION_HINT = "Neon cannot move a project between regions; create a new NeonAppDatabase instead"
_PG_HINT = (
    "Neon cannot change a project's Postgres major version in place; create a new "
    "NeonAppDatabase and migrate the data"
)


class NeonAppDatabaseSpec(Model):
    """The Neon project wanted for one app; unset settings come from the NeonConfig's defaults."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=validations(
            cel(
                "!has(oldSelf.regionId) || has(self.regionId)",
                f"regionId cannot be removed once set: {_REGION_HINT}",
                field_path=".regionId",
                reason="FieldValueForbidden",
            ),
            cel(
                "!has(oldSelf.pgVersion) || has(self.pgVersion)",
                "pgVersion cannot be removed once set",
                field_path=".pgVersion",
                reason="FieldValueForbidden",
            ),
            cel(
                "has(self.adoptProjectId) == has(oldSelf.adoptProjectId)",
                "adoptProjectId can only be set when the NeonAppDatabase is created",
                field_path=".adoptProjectId",
                reason="FieldValueForbidden",
            ),
            DATA_API_RULE,
        )
    )

    config_ref: ConfigRef = ConfigRef()
    """The NeonConfig to use (default: the one named `default`); it must grant this namespace
    (its `allowedNamespaces` or `namespaceSelector`), else admission refuses the object and the
    operator reports `Ready=False` reason `NeonConfigNotGranted`."""
    tier: TierName = "free"
    """Tier of the app, a key of the NeonConfig's `organizations`; changing it moves the project
    to that tier's organization."""
    project_name: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    """Name of the Neon project (renamed in place when changed); default `<namespace>-<name>`."""
    region_id: RegionId | None = Field(
        None, json_schema_extra=validations(immutable("regionId", _REGION_HINT))
    )
    """Neon region, e.g. `aws-us-east-2`; default from the NeonConfig. Immutable once set."""
    pg_version: PgVersion | None = Field(
        None, json_schema_extra=validations(immutable("pgVersion", _PG_HINT))
    )
    """Postgres major version, 14..18; default from the NeonConfig. Immutable once set."""
    branch: BranchSettings = Field(
        BranchSettings(),
        json_schema_extra=validations(
            immutable("branch", "Neon names the default branch, database and role at creation")
        ),
    )
    """Names of the default branch, its database and owner role. Immutable."""
    compute: Compute = Compute()
    """Compute of the default branch; unset fields come from the NeonConfig's defaults."""
    history_retention_seconds: Annotated[int, Field(ge=0, le=2592000)] | None = None
    """How far back point-in-time restore reaches, 0..2592000 (30 days); default Neon's (1 day)."""
    connection_secret: ConnectionSecretSpec = ConnectionSecretSpec()
    """The connection Secret's name, key prefix, labels and annotations."""
    deletion_policy: DeletionPolicy = DeletionPolicy.DELETE
    """`Delete` deletes the Neon project with the resource; `Retain` keeps it."""
    adopt_project_id: ProjectId | None = Field(
        None,
        json_schema_extra=validations(
            immutable("adoptProjectId", "it names the project this resource took over")
        ),
    )
    """Id of an existing Neon project to take over instead of creating one; set it only at
    creation. The project is moved to the tier's organization if it lives elsewhere. A project
    the operator created for a resource of another namespace is refused (`AdoptionRefused`)."""
    password_rotation: Annotated[str, StringConstraints(min_length=1, max_length=253)] | None = None
    """Any token (a counter, a date); each new value resets the role's password once and
    rewrites the Secret. The token last applied is in `status.passwordRotation`."""
    auth: NeonAuthSpec | None = None
    """Neon Auth on the default branch; the URLs and keys go to `auth.secretName`."""
    data_api: DataApiSpec | None = None
    """The Data API over the default branch's database; its URL goes to the auth Secret."""


class Consumption(Model):
    """Usage of the project in the current billing period, as Neon reports it (with some lag)."""

    compute_time_seconds: Annotated[int, Field(ge=0)] | None = None
    """CPU seconds used by all computes."""
    active_time_seconds: Annotated[int, Field(ge=0)] | None = None
    """Seconds the computes were active."""
    written_data_bytes: Annotated[int, Field(ge=0)] | None = None
    """Bytes written to all branches."""
    data_transfer_bytes: Annotated[int, Field(ge=0)] | None = None
    """Bytes transferred out of Neon."""
    synthetic_storage_size_bytes: Annotated[int, Field(ge=0)] | None = None
    """Storage the project is billed for."""
    period_start: Timestamp | None = None
    """Start of the billing period these numbers cover."""
    period_end: Timestamp | None = None
    """End of the billing period, once it is over."""
    source: Literal["project", "history"] | None = None
    """Where the numbers come from: `history` (Neon's consumption history, fetched for many
    projects per call every `--consumption-interval`, on plans that have it) or `project` (the
    project's own current-period counters, read by the drift check). Once `history` has written
    them, drift checks only add the data transfer it lacks."""


class NeonAppDatabaseStatus(CreatedStatus):
    """What the operator found in Neon; ids here, never in spec."""

    project_id: str | None = None
    """Id of the Neon project."""
    org_id: str | None = None
    """Organization that currently holds the project."""
    tier: str | None = None
    """Tier whose organization holds the project."""
    region_id: str | None = None
    """Region of the project."""
    pg_version: int | None = None
    """Postgres major version of the project."""
    default_branch_id: str | None = None
    """Id of the project's default branch (`br-…`)."""
    endpoint_id: str | None = None
    """Id of the default branch's read-write compute (`ep-…`)."""
    host: str | None = None
    """Where clients connect directly, as Neon's connection parameters say (the compute's host
    name on Neon; a proxy address such as `127.0.0.1:port` on the local emulator)."""
    pooler_host: str | None = None
    """Where clients connect through the pooler (PgBouncer)."""
    secret_name: str | None = None
    """Name of the connection Secret written."""
    password_rotation: str | None = None
    """The `spec.passwordRotation` token last applied."""
    consumption: Consumption | None = None
    """Usage in the current billing period."""
    last_sync_time: Timestamp | None = None
    """When the operator last compared the project with Neon."""
    auth: NeonAuthStatus | None = None
    """What Neon Auth offers on the default branch (no keys)."""
    data_api: DataApiStatus | None = None
    """The Data API of the default branch's database."""


class NeonAppDatabase(Model):
    """A whole NeonAppDatabase object, as the apiserver returns it."""

    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: NeonAppDatabaseSpec = NeonAppDatabaseSpec()
    status: NeonAppDatabaseStatus = NeonAppDatabaseStatus()
