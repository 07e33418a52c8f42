"""NeonBranch: a branch of a NeonAppDatabase's Neon project, with its own compute and Secret.

A branch starts from the app's default branch or from another NeonBranch (``parentBranchRef``),
at the parent's head or at a point in time (``parentTimestamp`` or ``parentLsn``: point-in-time
recovery within the project's history window). Parents are named in the NeonBranch's own
namespace: a reference naming another namespace is refused at admission
(:mod:`neon_operator.admission`).

The parent and the point in time are fixed at creation, as in Neon; refused at admission by CEL
transition rules. Whether a timestamp lies inside the project's history window only the reconciler
(and Neon) can tell: it reports ``Ready=False`` with reason ``OutsideHistoryWindow``.
"""

from __future__ import annotations

import enum
from typing import Annotated, Final, Self

import pydantic
from pydantic import Field, StringConstraints

from neon_operator.models.appdatabase import ConnectionSecretSpec
from neon_operator.models.common import (
    CreatedStatus,
    DeletionPolicy,
    Model,
    NamespaceName,
    ObjectMeta,
    ObjectName,
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

KIND: Final = "NeonBranch"
LSN_PATTERN: Final = r"^[0-9A-F]+/[0-9A-F]+$"
"""A Postgres LSN as Neon writes it: two upper-case hex numbers, e.g. ``0/1DE2850``."""

BranchName = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Lsn = Annotated[str, StringConstraints(pattern=LSN_PATTERN, max_length=33)]

_PIT_EXCLUSIVE: Final = (
    "parentTimestamp and parentLsn are mutually exclusive: give one point in time, or neither "
    "for the parent's current state"
)


class AppDatabaseRef(Model):
    """A NeonAppDatabase in the referring resource's own namespace."""

    name: ObjectName
    """Name of the NeonAppDatabase."""
    namespace: NamespaceName | None = None
    """Only the referring resource's own namespace is allowed (refused at admission
    otherwise): references never cross namespaces. Usually left out."""


class BranchRef(Model):
    """A NeonBranch in the referring resource's own namespace."""

    name: ObjectName
    """Name of the NeonBranch."""
    namespace: NamespaceName | None = None
    """Only the referring resource's own namespace is allowed (refused at admission
    otherwise): references never cross namespaces. Usually left out."""


class ComputeType(enum.StrEnum):
    """Which compute a branch gets."""

    READ_WRITE = "ReadWrite"
    """One read-write compute (Neon allows one per branch)."""
    READ_ONLY = "ReadOnly"
    """A read-only compute: reads the branch, refuses writes."""
    NONE = "None"
    """No compute (and no connection Secret): storage only, e.g. a parent for other branches."""

    @property
    def neon(self) -> str:
        """Neon's endpoint type (``read_write`` / ``read_only``)."""
        return {"ReadWrite": "read_write", "ReadOnly": "read_only"}.get(self.value, "")


class BranchCompute(Compute):
    """The branch's compute: its type, and size/suspension (unset: the NeonConfig defaults)."""

    type: ComputeType = Field(
        ComputeType.READ_WRITE,
        json_schema_extra=validations(
            immutable("compute.type", "create a new NeonBranch for another kind of compute")
        ),
    )
    """`ReadWrite` (default), `ReadOnly`, or `None` for no compute. Immutable."""


def _fixed_at_creation(field: str) -> dict[str, str]:
    return cel(
        f"has(self.{field}) == has(oldSelf.{field})",
        f"{field} can only be set when the NeonBranch is created: Neon fixes a branch's "
        "parent and point in time at creation",
        field_path=f".{field}",
        reason="FieldValueForbidden",
    )


class NeonBranchSpec(Model):
    """The branch wanted: its parent, point in time, compute, Secret and deletion policy."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=validations(
            cel(
                "!(has(self.parentTimestamp) && has(self.parentLsn))",
                _PIT_EXCLUSIVE,
                field_path=".parentLsn",
            ),
            _fixed_at_creation("parentBranchRef"),
            _fixed_at_creation("parentTimestamp"),
            _fixed_at_creation("parentLsn"),
            DATA_API_RULE,
        )
    )

    app_database_ref: AppDatabaseRef = Field(
        json_schema_extra=validations(
            immutable("appDatabaseRef", "a branch belongs to one NeonAppDatabase's project")
        )
    )
    """The NeonAppDatabase (same namespace) whose Neon project holds the branch. Immutable."""
    parent_branch_ref: BranchRef | None = Field(
        None,
        json_schema_extra=validations(
            immutable("parentBranchRef", "Neon fixes a branch's parent at creation")
        ),
    )
    """A NeonBranch (same namespace, same NeonAppDatabase) to branch from; default the app's
    default branch. Immutable."""
    parent_timestamp: Timestamp | None = Field(
        None,
        json_schema_extra={
            **validations(
                immutable("parentTimestamp", "Neon fixes a branch's point in time at creation")
            ),
            "maxLength": 64,
        },
    )
    """Branch from the parent's state at this time (RFC 3339, e.g. `2026-01-02T15:04:05Z`);
    must lie inside the project's history window. Immutable."""
    parent_lsn: Lsn | None = Field(
        None,
        json_schema_extra=validations(
            immutable("parentLsn", "Neon fixes a branch's point in time at creation")
        ),
    )
    """Branch from the parent's state at this LSN (e.g. `0/1DE2850`). Immutable."""
    branch_name: BranchName | None = None
    """Name of the Neon branch (renamed in place when changed); default `metadata.name`."""
    compute: BranchCompute = BranchCompute()
    """The branch's compute: `type` and its own autoscaling limits and suspend timeout."""
    connection_secret: ConnectionSecretSpec = ConnectionSecretSpec()
    """The connection Secret (default name `<metadata.name>-neon`), written when the branch has
    a compute; user and database are those of the app's default branch."""
    deletion_policy: DeletionPolicy = DeletionPolicy.DELETE
    """`Delete` deletes the Neon branch with the resource; `Retain` keeps it."""
    auth: NeonAuthSpec | None = None
    """Neon Auth on this branch (its own users and URL; needs a compute); the URLs and keys go
    to `auth.secretName`."""
    data_api: DataApiSpec | None = None
    """The Data API over this branch's database (needs a read-write compute)."""

    @pydantic.model_validator(mode="after")
    def _one_point_in_time(self) -> Self:
        if self.parent_timestamp is not None and self.parent_lsn is not None:
            raise ValueError(_PIT_EXCLUSIVE)
        return self


class NeonBranchStatus(CreatedStatus):
    """What the operator found in Neon; ids here, never in spec."""

    project_id: str | None = None
    """Id of the Neon project (the NeonAppDatabase's)."""
    config_name: str | None = None
    """The NeonConfig used (remembered so deletion works after the NeonAppDatabase is gone)."""
    branch_id: str | None = None
    """Id of the Neon branch (`br-…`); it changes when a NeonRestore replaces the branch."""
    branch_name: str | None = None
    """Name of the Neon branch."""
    parent_branch_id: str | None = None
    """Id of the parent branch."""
    parent_lsn: str | None = None
    """LSN of the parent the branch starts from."""
    parent_timestamp: Timestamp | None = None
    """Time of the parent's state the branch starts from."""
    endpoint_id: str | None = None
    """Id of the branch's compute (`ep-…`)."""
    host: str | None = None
    """Direct host of the compute."""
    secret_name: str | None = None
    """Name of the connection Secret written."""
    auth: NeonAuthStatus | None = None
    """What Neon Auth offers on this branch (no keys)."""
    data_api: DataApiStatus | None = None
    """The Data API of this branch's database."""


class NeonBranch(Model):
    """A whole NeonBranch object, as the apiserver returns it."""

    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: NeonBranchSpec
    status: NeonBranchStatus = NeonBranchStatus()
