"""Typed models of the `neon.operator.dev/v1alpha1` custom resources.

They parse CR bodies for the operator and are the source the CRD schemas are generated from
(`neon-operator crds`). Modules: :mod:`.common` (base model, conditions, status, CEL helpers),
:mod:`.compute` (compute size and suspension rules), :mod:`.neonconfig`, :mod:`.appdatabase`,
:mod:`.branch`, :mod:`.integrations` (Neon Auth and the Data API of a branch), :mod:`.snapshot`,
:mod:`.restore`, :mod:`.schedule`.
"""

from neon_operator.models.appdatabase import (
    BranchSettings,
    ConfigRef,
    ConnectionSecretSpec,
    Consumption,
    NeonAppDatabase,
    NeonAppDatabaseSpec,
    NeonAppDatabaseStatus,
)
from neon_operator.models.branch import (
    AppDatabaseRef,
    BranchCompute,
    BranchRef,
    ComputeType,
    NeonBranch,
    NeonBranchSpec,
    NeonBranchStatus,
)
from neon_operator.models.common import (
    API_VERSION,
    GROUP,
    READY,
    SYNCED,
    VERSION,
    Condition,
    ConditionStatus,
    DeletionPolicy,
    Model,
    ObjectMeta,
    SecretKeyRef,
    Status,
)
from neon_operator.models.compute import COMPUTE_SIZES, Compute
from neon_operator.models.integrations import (
    DataApiSpec,
    DataApiStatus,
    NeonAuthSpec,
    NeonAuthStatus,
    OAuthProvider,
    OAuthProviderStatus,
)
from neon_operator.models.neonconfig import (
    ApiKeySecretRef,
    ConfigDefaults,
    NeonConfig,
    NeonConfigSpec,
    NeonConfigStatus,
    RateLimit,
)
from neon_operator.models.restore import (
    NeonRestore,
    NeonRestoreSpec,
    NeonRestoreStatus,
    OldBranchPolicy,
    RestoreMode,
    RestorePhase,
    SnapshotRef,
)
from neon_operator.models.schedule import (
    NeonSnapshotSchedule,
    NeonSnapshotScheduleSpec,
    NeonSnapshotScheduleStatus,
)
from neon_operator.models.snapshot import NeonSnapshot, NeonSnapshotSpec, NeonSnapshotStatus

__all__ = [
    "API_VERSION",
    "COMPUTE_SIZES",
    "GROUP",
    "READY",
    "SYNCED",
    "VERSION",
    "ApiKeySecretRef",
    "AppDatabaseRef",
    "BranchCompute",
    "BranchRef",
    "BranchSettings",
    "Compute",
    "ComputeType",
    "Condition",
    "ConditionStatus",
    "ConfigDefaults",
    "ConfigRef",
    "ConnectionSecretSpec",
    "Consumption",
    "DataApiSpec",
    "DataApiStatus",
    "DeletionPolicy",
    "Model",
    "NeonAppDatabase",
    "NeonAppDatabaseSpec",
    "NeonAppDatabaseStatus",
    "NeonAuthSpec",
    "NeonAuthStatus",
    "NeonBranch",
    "NeonBranchSpec",
    "NeonBranchStatus",
    "NeonConfig",
    "NeonConfigSpec",
    "NeonConfigStatus",
    "NeonRestore",
    "NeonRestoreSpec",
    "NeonRestoreStatus",
    "NeonSnapshot",
    "NeonSnapshotSchedule",
    "NeonSnapshotScheduleSpec",
    "NeonSnapshotScheduleStatus",
    "NeonSnapshotSpec",
    "NeonSnapshotStatus",
    "OAuthProvider",
    "OAuthProviderStatus",
    "ObjectMeta",
    "OldBranchPolicy",
    "RateLimit",
    "RestoreMode",
    "RestorePhase",
    "SecretKeyRef",
    "SnapshotRef",
    "Status",
]
