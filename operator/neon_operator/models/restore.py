"""NeonRestore: roll a branch back to a NeonSnapshot, once.

Neon restores a snapshot into a *new* branch and, when finalized, swaps it in for the target:
the target's computes move to the new branch (so connection strings, and the target's Secret,
keep working unchanged), the new branch takes the target's name, and the target is renamed
``<name> (old)``. The branch id therefore changes; the target resource (NeonAppDatabase or
NeonBranch) picks the new id up in its status.

``mode: Finalize`` does all of it in one step. ``mode: Staged`` stops after the restored branch
exists (``phase: AwaitingFinalize``) and makes it inspectable: the restored branch gets a
read-only compute and a connection Secret (``inspectSecret``, default ``<name>-inspect``, owned
by the NeonRestore, the same keys as every connection Secret), while the target and its Secret
keep serving the current data. Setting ``finalize: true`` then removes that read-only compute and
Secret and swaps the restored branch in. ``oldBranchPolicy`` says whether the replaced ``(old)``
branch is deleted afterwards or kept (e.g. to compare, or as an undo). A NeonRestore is a one-off
action: everything but ``finalize`` is fixed at creation, and a completed restore never runs
again (create a new NeonRestore to restore again).
"""

from __future__ import annotations

import enum
from typing import Final

import pydantic
from pydantic import Field

from neon_operator.models.appdatabase import ConnectionSecretSpec
from neon_operator.models.branch import BranchRef
from neon_operator.models.common import (
    CreatedStatus,
    Model,
    NamespaceName,
    ObjectMeta,
    ObjectName,
    Timestamp,
    cel,
    immutable,
    validations,
)

KIND: Final = "NeonRestore"
INSPECT_SECRET_SUFFIX: Final = "-inspect"


class SnapshotRef(Model):
    """A NeonSnapshot in the referring resource's own namespace."""

    name: ObjectName
    """Name of the NeonSnapshot."""
    namespace: NamespaceName | None = None
    """Only the referring resource's own namespace is allowed (refused at admission
    otherwise): references never cross namespaces. Usually left out."""


class InspectSecretSpec(ConnectionSecretSpec):
    """The Secret (owned by the NeonRestore) that reaches a staged restore's read-only compute,
    with the same keys as every connection Secret; it exists while the restore awaits finalize.
    """

    name: ObjectName | None = None
    """Name of the Secret; default `<metadata.name>-inspect`. An existing Secret of that name
    that this NeonRestore did not create is left untouched (Ready=False, reason SecretConflict)
    unless annotated `neon.operator.dev/adopt: NeonRestore/<metadata.name>`."""

    def secret_name(self, resource_name: str) -> str:
        """The Secret's name for the NeonRestore named `resource_name`."""
        return self.name or resource_name + INSPECT_SECRET_SUFFIX


class RestoreMode(enum.StrEnum):
    """How far a restore goes on its own."""

    FINALIZE = "Finalize"
    """Restore and swap the restored branch in at once."""
    STAGED = "Staged"
    """Restore into a new branch, inspectable through a read-only compute and Secret, and wait
    for `finalize: true` before swapping it in."""


class OldBranchPolicy(enum.StrEnum):
    """What happens to the replaced `(old)` branch once the restore is finalized."""

    RETAIN = "Retain"
    """Keep it (renamed `<name> (old)`), e.g. as an undo."""
    DELETE = "Delete"
    """Delete it (kept anyway, with a Warning event, while it has child branches)."""


class RestorePhase(enum.StrEnum):
    """Where a restore stands."""

    PENDING = "Pending"
    """Waiting for the snapshot, the target or their NeonAppDatabase to be ready."""
    RESTORING = "Restoring"
    """Neon is restoring the snapshot."""
    AWAITING_FINALIZE = "AwaitingFinalize"
    """Staged: the restored branch can be queried through the inspect Secret; set
    `spec.finalize: true` to swap it in."""
    COMPLETED = "Completed"
    """The target now holds the snapshot's data."""
    FAILED = "Failed"
    """Neon refused the restore; the conditions say why."""


class NeonRestoreSpec(Model):
    """Which snapshot to restore onto which branch, in one step or staged."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=validations(
            cel(
                "!has(self.targetBranchRef) == !has(oldSelf.targetBranchRef)",
                "targetBranchRef can only be set when the NeonRestore is created",
                field_path=".targetBranchRef",
                reason="FieldValueForbidden",
            ),
            cel(
                "self.mode == 'Staged' || !self.finalize",
                "finalize only applies to mode Staged (mode Finalize finalizes at once)",
                field_path=".finalize",
            ),
            cel(
                "!oldSelf.finalize || self.finalize",
                "finalize cannot be undone once set",
                field_path=".finalize",
                reason="FieldValueForbidden",
            ),
        )
    )

    snapshot_ref: SnapshotRef = Field(
        json_schema_extra=validations(immutable("snapshotRef", "create a new NeonRestore"))
    )
    """The NeonSnapshot (same namespace) to restore. Immutable."""
    target_branch_ref: BranchRef | None = Field(
        None,
        json_schema_extra=validations(immutable("targetBranchRef", "create a new NeonRestore")),
    )
    """A NeonBranch (same namespace, same NeonAppDatabase as the snapshot) to roll back; default
    the NeonAppDatabase's default branch. Immutable."""
    mode: RestoreMode = Field(
        RestoreMode.FINALIZE,
        json_schema_extra=validations(immutable("mode", "create a new NeonRestore")),
    )
    """`Finalize` (default): restore and swap in at once. `Staged`: wait for `finalize`."""
    finalize: bool = False
    """Staged restores only: set to `true` to swap the restored branch in."""
    old_branch_policy: OldBranchPolicy = OldBranchPolicy.RETAIN
    """`Retain` (default) keeps the replaced `(old)` branch; `Delete` deletes it."""
    inspect_secret: InspectSecretSpec = InspectSecretSpec()
    """Staged restores only: the Secret reaching the restored branch's read-only compute while
    the restore awaits finalize (default name `<metadata.name>-inspect`); deleted on finalize."""


class NeonRestoreStatus(CreatedStatus):
    """Progress of the restore and the branch ids it involved."""

    phase: RestorePhase | None = None
    """`Pending`, `Restoring`, `AwaitingFinalize`, `Completed` or `Failed`."""
    project_id: str | None = None
    """Id of the Neon project."""
    config_name: str | None = None
    """The NeonConfig used."""
    snapshot_id: str | None = None
    """Id of the Neon snapshot restored."""
    target_branch_id: str | None = None
    """Id of the branch that was replaced (afterwards the `(old)` branch)."""
    restored_branch_id: str | None = None
    """Id of the branch holding the snapshot's data (the target's new id once finalized)."""
    inspect_endpoint_id: str | None = None
    """Staged: id of the restored branch's read-only compute (`ep-…`) while awaiting finalize."""
    inspect_host: str | None = None
    """Staged: where clients connect to that compute."""
    inspect_secret_name: str | None = None
    """Staged: name of the Secret reaching that compute while awaiting finalize."""
    inspect_removed: bool | None = None
    """Staged: whether the read-only compute and its Secret were removed at finalize."""
    old_branch_name: str | None = None
    """Name Neon gave the replaced branch."""
    old_branch_deleted: bool | None = None
    """Whether the replaced branch was deleted (per `oldBranchPolicy`)."""
    target: str | None = None
    """The resource rolled back, as `NeonAppDatabase/<name>` or `NeonBranch/<name>`."""
    completion_time: Timestamp | None = None
    """When the restore was finalized."""


class NeonRestore(Model):
    """A whole NeonRestore object, as the apiserver returns it."""

    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: NeonRestoreSpec
    status: NeonRestoreStatus = NeonRestoreStatus()
