"""NeonSnapshot: a checkpoint of a NeonAppDatabase's root (default) branch.

Neon takes manual snapshots of root branches only; the default branch of an app's project is one
(and stays one after a restore, which replaces it by a new root branch). A snapshot is what a
NeonRestore rolls back to. Name and expiry are fixed at creation; deleting the resource deletes
the Neon snapshot unless ``deletionPolicy`` is ``Retain``.
"""

from __future__ import annotations

from typing import Annotated, Final

import pydantic
from pydantic import Field, StringConstraints

from neon_operator.models.branch import AppDatabaseRef
from neon_operator.models.common import (
    CreatedStatus,
    DeletionPolicy,
    Model,
    ObjectMeta,
    Timestamp,
    cel,
    immutable,
    validations,
)

KIND: Final = "NeonSnapshot"

SnapshotName = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class NeonSnapshotSpec(Model):
    """The snapshot wanted: of which app, under which name, until when."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=validations(
            cel(
                "has(self.expiresAt) == has(oldSelf.expiresAt)",
                "expiresAt can only be set when the NeonSnapshot is created",
                field_path=".expiresAt",
                reason="FieldValueForbidden",
            ),
            cel(
                "has(self.snapshotName) == has(oldSelf.snapshotName)",
                "snapshotName can only be set when the NeonSnapshot is created",
                field_path=".snapshotName",
                reason="FieldValueForbidden",
            ),
        )
    )

    app_database_ref: AppDatabaseRef = Field(
        json_schema_extra=validations(
            immutable("appDatabaseRef", "a snapshot belongs to one NeonAppDatabase's project")
        )
    )
    """The NeonAppDatabase (same namespace) whose default branch is snapshotted. Immutable."""
    snapshot_name: SnapshotName | None = Field(
        None,
        json_schema_extra=validations(immutable("snapshotName", "Neon names it at creation")),
    )
    """Name of the Neon snapshot; default `metadata.name`. Immutable."""
    expires_at: Timestamp | None = Field(
        None,
        json_schema_extra={
            **validations(immutable("expiresAt", "Neon fixes a snapshot's expiry at creation")),
            "maxLength": 64,
        },
    )
    """When Neon deletes the snapshot by itself (RFC 3339); default never. Immutable."""
    deletion_policy: DeletionPolicy = DeletionPolicy.DELETE
    """`Delete` deletes the Neon snapshot with the resource; `Retain` keeps it."""


class NeonSnapshotStatus(CreatedStatus):
    """What Neon reported about the snapshot."""

    project_id: str | None = None
    """Id of the Neon project."""
    config_name: str | None = None
    """The NeonConfig used (remembered so deletion works after the NeonAppDatabase is gone)."""
    snapshot_id: str | None = None
    """Id of the Neon snapshot (`snap-…`)."""
    snapshot_name: str | None = None
    """Name of the Neon snapshot."""
    source_branch_id: str | None = None
    """The branch that was snapshotted."""
    lsn: str | None = None
    """LSN the snapshot captures."""
    timestamp: Timestamp | None = None
    """Time the snapshot captures."""
    expires_at: Timestamp | None = None
    """When Neon deletes the snapshot."""


class NeonSnapshot(Model):
    """A whole NeonSnapshot object, as the apiserver returns it."""

    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: NeonSnapshotSpec
    status: NeonSnapshotStatus = NeonSnapshotStatus()
