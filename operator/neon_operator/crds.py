"""The CustomResourceDefinitions of `neon.operator.dev`, generated from the models.

Each kind is registered once in :data:`KINDS` with its CRD metadata (names, scope, printer
columns) and its spec and status models; :func:`definition` assembles the CRD around the
structural schemas of those models, :func:`render` turns every CRD into YAML, and :func:`write`
stores them under `crds/` (what `neon-operator crds` runs). A unit test fails when the committed
files differ from a fresh rendering.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any, Final, Literal

import yaml

from neon_operator.crdgen import structural_schema
from neon_operator.models import (
    GROUP,
    VERSION,
    Model,
    appdatabase,
    branch,
    neonconfig,
    restore,
    schedule,
    snapshot,
)

CATEGORY: Final = "neon"
HEADER: Final = (
    "# Generated from the models in neon_operator.models by `neon-operator crds`; do not edit.\n"
)


@dataclasses.dataclass(frozen=True)
class PrinterColumn:
    """One column of `kubectl get` (`additionalPrinterColumns`)."""

    name: str
    json_path: str
    type: Literal["string", "integer", "number", "boolean", "date"] = "string"
    description: str = ""
    priority: int = 0
    """0 shows in the default view, 1 only with `-o wide`."""

    def render(self) -> dict[str, Any]:
        column: dict[str, Any] = {"name": self.name, "type": self.type, "jsonPath": self.json_path}
        if self.description:
            column["description"] = self.description
        if self.priority:
            column["priority"] = self.priority
        return column


@dataclasses.dataclass(frozen=True)
class Kind:
    """A custom resource kind and what its CRD needs to know about it."""

    kind: str
    plural: str
    short_names: tuple[str, ...]
    scope: Literal["Namespaced", "Cluster"]
    spec: type[Model]
    status: type[Model]
    printer_columns: tuple[PrinterColumn, ...]
    description: str

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"

    @property
    def file_name(self) -> str:
        return f"{self.crd_name}.yaml"


def _ready_columns() -> tuple[PrinterColumn, PrinterColumn]:
    ready = '.status.conditions[?(@.type=="Ready")]'
    return (
        PrinterColumn("Ready", f"{ready}.status", description="Whether the resource is usable"),
        PrinterColumn("Reason", f"{ready}.reason", description="Why (not) ready", priority=1),
    )


_AGE: Final = PrinterColumn("Age", ".metadata.creationTimestamp", type="date")

NEON_CONFIG: Final = Kind(
    kind=neonconfig.KIND,
    plural="neonconfigs",
    short_names=("neoncfg",),
    scope="Cluster",
    spec=neonconfig.NeonConfigSpec,
    status=neonconfig.NeonConfigStatus,
    printer_columns=(
        *_ready_columns(),
        PrinterColumn("API", ".spec.apiUrl", description="Neon API base URL", priority=1),
        _AGE,
    ),
    description=(
        "How the operator reaches Neon: API URL, the Secret holding the API key, the tier to "
        "organization map, defaults for new projects and the request budget. Cluster-scoped; "
        "tenants' resources name it in `configRef`, and it serves only the namespaces it "
        "grants (`allowedNamespaces`, `namespaceSelector`; neither set grants none)."
    ),
)

NEON_APP_DATABASE: Final = Kind(
    kind=appdatabase.KIND,
    plural="neonappdatabases",
    short_names=("neondb", "nadb"),
    scope="Namespaced",
    spec=appdatabase.NeonAppDatabaseSpec,
    status=appdatabase.NeonAppDatabaseStatus,
    printer_columns=(
        *_ready_columns(),
        PrinterColumn("Tier", ".spec.tier", description="Tier (selects the organization)"),
        PrinterColumn("Project", ".status.projectId", description="Neon project id"),
        PrinterColumn("Region", ".status.regionId", description="Neon region", priority=1),
        PrinterColumn("Secret", ".status.secretName", description="Connection Secret", priority=1),
        _AGE,
    ),
    description=(
        "One app's Neon Postgres: a Neon project in the organization of the app's tier, with "
        "its connection strings in a Secret owned by this resource."
    ),
)

NEON_BRANCH: Final = Kind(
    kind=branch.KIND,
    plural="neonbranches",
    short_names=("neonbr",),
    scope="Namespaced",
    spec=branch.NeonBranchSpec,
    status=branch.NeonBranchStatus,
    printer_columns=(
        *_ready_columns(),
        PrinterColumn("App", ".spec.appDatabaseRef.name", description="NeonAppDatabase"),
        PrinterColumn("Parent", ".status.parentBranchId", description="Parent branch id"),
        PrinterColumn("Branch", ".status.branchId", description="Neon branch id"),
        PrinterColumn("Secret", ".status.secretName", description="Connection Secret", priority=1),
        _AGE,
    ),
    description=(
        "A branch of a NeonAppDatabase's Neon project (dev branch, or point-in-time recovery "
        "at `parentTimestamp` / `parentLsn`), with its own compute and connection Secret."
    ),
)

NEON_SNAPSHOT: Final = Kind(
    kind=snapshot.KIND,
    plural="neonsnapshots",
    short_names=("neonsnap",),
    scope="Namespaced",
    spec=snapshot.NeonSnapshotSpec,
    status=snapshot.NeonSnapshotStatus,
    printer_columns=(
        *_ready_columns(),
        PrinterColumn("App", ".spec.appDatabaseRef.name", description="NeonAppDatabase"),
        PrinterColumn("Snapshot", ".status.snapshotId", description="Neon snapshot id"),
        PrinterColumn("Taken", ".status.timestamp", type="date", description="Point in time"),
        _AGE,
    ),
    description=(
        "A snapshot (checkpoint) of a NeonAppDatabase's default branch, which a NeonRestore "
        "can roll back to."
    ),
)

NEON_RESTORE: Final = Kind(
    kind=restore.KIND,
    plural="neonrestores",
    short_names=("neonrestore",),
    scope="Namespaced",
    spec=restore.NeonRestoreSpec,
    status=restore.NeonRestoreStatus,
    printer_columns=(
        PrinterColumn("Phase", ".status.phase", description="Where the restore stands"),
        *_ready_columns(),
        PrinterColumn("Snapshot", ".spec.snapshotRef.name", description="NeonSnapshot"),
        PrinterColumn("Target", ".status.target", description="Resource rolled back"),
        PrinterColumn(
            "Branch", ".status.restoredBranchId", description="Restored branch id", priority=1
        ),
        PrinterColumn(
            "Inspect",
            ".status.inspectSecretName",
            description="Secret reaching the restored branch while staged",
            priority=1,
        ),
        _AGE,
    ),
    description=(
        "Rolls a NeonAppDatabase's default branch (or a NeonBranch) back to a NeonSnapshot, in "
        "one step or staged; connection strings stay the same."
    ),
)

NEON_SNAPSHOT_SCHEDULE: Final = Kind(
    kind=schedule.KIND,
    plural="neonsnapshotschedules",
    short_names=("neonschedule",),
    scope="Namespaced",
    spec=schedule.NeonSnapshotScheduleSpec,
    status=schedule.NeonSnapshotScheduleStatus,
    printer_columns=(
        *_ready_columns(),
        PrinterColumn("App", ".spec.appDatabaseRef.name", description="NeonAppDatabase"),
        PrinterColumn("Schedule", ".spec.schedule", description="Cron schedule (UTC)"),
        PrinterColumn("Suspend", ".spec.suspend", type="boolean", description="Suspended"),
        PrinterColumn(
            "Last", ".status.lastScheduleTime", type="date", description="Last snapshot due"
        ),
        PrinterColumn(
            "Next",
            ".status.nextScheduleTime",
            type="date",
            description="Next snapshot due",
            priority=1,
        ),
        _AGE,
    ),
    description=(
        "Takes NeonSnapshots of a NeonAppDatabase on a cron schedule (UTC) and expires them by "
        "count (`keep`) and/or age (`maxAge`)."
    ),
)

KINDS: Final[tuple[Kind, ...]] = (
    NEON_CONFIG,
    NEON_APP_DATABASE,
    NEON_BRANCH,
    NEON_SNAPSHOT,
    NEON_RESTORE,
    NEON_SNAPSHOT_SCHEDULE,
)
"""Every kind this operator serves, in the order their CRDs are rendered."""


STATUS_DEFAULT: dict[str, Any] = {"observedGeneration": 0}
"""What the apiserver serves as ``status`` until the operator first writes it (the CRDs'
default): a new object reads as "generation not observed yet"."""


def definition(kind: Kind) -> dict[str, Any]:
    """The CustomResourceDefinition of `kind`, as a plain dict ready for the apiserver."""
    # Validation mode: the schema describes what the apiserver accepts from users, the same
    # input the models parse (fields with defaults are optional, an int is a valid number).
    spec = structural_schema(
        kind.spec.model_json_schema(by_alias=True, mode="validation"), path="spec"
    )
    status = structural_schema(
        kind.status.model_json_schema(by_alias=True, mode="validation"), path="status"
    )
    # Until the operator first writes status, the apiserver serves `observedGeneration: 0`: a
    # new object reads as "generation not observed yet" (kstatus InProgress, Argo CD
    # Progressing) instead of a status-less object that kstatus would call Current.
    status["default"] = dict(STATUS_DEFAULT)
    root: dict[str, Any] = {
        "description": kind.description,
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }
    if spec.get("required"):
        root["required"] = ["spec"]
    else:
        # Everything has a default: an object without `spec` gets one, defaults filled in.
        spec["default"] = {}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": kind.crd_name},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": [CATEGORY],
            },
            "scope": kind.scope,
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [c.render() for c in kind.printer_columns],
                    "schema": {"openAPIV3Schema": root},
                }
            ],
        },
    }


def render() -> dict[str, str]:
    """Every CRD as YAML text, keyed by file name (`<plural>.<group>.yaml`)."""
    return {kind.file_name: _to_yaml(definition(kind)) for kind in KINDS}


def write(directory: pathlib.Path) -> list[pathlib.Path]:
    """Write every CRD into `directory` (created if missing); return the files written.

    Stale CRD files of this group (a kind that no longer exists) are removed, so the directory
    always equals :func:`render`.
    """
    directory.mkdir(parents=True, exist_ok=True)
    rendered = render()
    for stale in directory.glob(f"*.{GROUP}.yaml"):
        if stale.name not in rendered:
            stale.unlink()
    written = []
    for name, text in rendered.items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def _to_yaml(document: dict[str, Any]) -> str:
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    return HEADER + body
