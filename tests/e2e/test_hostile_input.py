"""Hostile and wrong input (#12): a seeded hypothesis run of specs of every kind against the real
apiserver and a running operator.

Each input is either refused at admission (422, or 403 from the grant policy) with a message
that names the offending field, or accepted and then reported by the operator: ``Ready=True``,
or ``Ready=False`` with a reason of :data:`REASONS` and a message. No input may crash a handler
(the operator's log must stay free of tracebacks) or stall the others: a healthy app created
after all of them still gets Ready in normal time, and everything accepted can be deleted.

Inputs mix valid values with values at and past every length limit (Kubernetes names, Neon's
project and branch names, Postgres identifiers of 63 bytes), Unicode, compute and suspend edge
values, references to objects that do not exist or live in another namespace, and NeonConfigs
whose key Secret is missing, malformed or holds a revoked key.

The oracle (which values admission must refuse) is written from the documented rules, not from
the models, so a rule missing from the CRDs shows as an accepted hostile input.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from kubernetes import client
from kubernetes.client.rest import ApiException

from neon_operator import crds
from neon_operator.devstack import stack as devstack

from .conftest import GROUP, VERSION, Apps, OperatorProcess, condition, create_neon_config

pytestmark = pytest.mark.e2e

CI_EXAMPLES = 100
NIGHTLY_EXAMPLES = 400
SETTLE_TIMEOUT = 180.0
"""Seconds every accepted input gets to reach a final Ready condition (generous: a loaded CI
machine; nothing here is timed)."""

REASONS = frozenset(
    {
        # the NeonConfig and its key
        "ApiKeyMalformed",
        "ApiKeyMissing",
        "ApiKeyRejected",
        "ApiKeySecretNotFound",
        "NeonConfigInvalid",
        "NeonConfigNotFound",
        "NeonConfigNotGranted",
        "OrganizationNotAccessible",
        "UnknownTier",
        # the spec, judged by the operator or by Neon
        "InvalidSpec",
        "InvalidSchedule",
        "NeonRejected",
        "RestoreRejected",
        "OutsideHistoryWindow",
        "BranchNameTaken",
        "SnapshotNameTaken",
        "ComputeRequired",
        "ImmutableFieldMismatch",
        "SecretConflict",
        "AdoptedProjectNotFound",
        "AdoptionRefused",
        "ClientSecretNotFound",
        # references
        "ParentNotFound",
        "ParentNotReady",
        "ParentMismatch",
        "TargetMismatch",
        "BranchNotFound",
        "NeonNotFound",
        # Neon unreachable: still on its way
        "Provisioning",
        "NeonUnavailable",
    }
)
"""``Ready=False`` reasons the operator documents for input it cannot use."""

KEY_PROBLEMS = frozenset({"ApiKeyRejected", "ApiKeyMalformed", "ApiKeyMissing"})
"""Reasons for which deleting may wait: Neon cannot be asked what to clean up."""

PROGRESS = frozenset({"Provisioning", "CreationClaimed", "AwaitingFinalize"})
"""Reasons that are not a final verdict yet (unless Neon stays unreachable: ``Synced=False``)."""

PLURALS = {kind.kind: kind.plural for kind in crds.KINDS}

# -- the oracle: a value and what admission must do with it ----------------------------------

ACCEPT, REFUSE, EITHER = "accept", "refuse", "either"


@dataclasses.dataclass(frozen=True)
class V:
    """A value and its verdict at admission: ``accept`` it, ``refuse`` it (naming ``path``),
    or ``either`` (the operator or Neon may judge it instead)."""

    value: Any
    verdict: str = ACCEPT


def ok(*values: Any) -> list[V]:
    return [V(value) for value in values]


def bad(*values: Any) -> list[V]:
    return [V(value, REFUSE) for value in values]


def maybe(*values: Any) -> list[V]:
    return [V(value, EITHER) for value in values]


@dataclasses.dataclass
class Case:
    """One input: a kind, its metadata name and spec, and the fields admission must refuse."""

    kind: str
    name: str
    spec: dict[str, Any]
    refused: list[str] = dataclasses.field(default_factory=list)
    """Paths (``spec.compute.minCu``) of values admission must refuse; one must be named."""
    doubtful: list[str] = dataclasses.field(default_factory=list)
    """Paths of values admission may refuse or accept."""

    def put(self, path: str, value: V) -> None:
        """Set ``path`` (below ``spec``) to ``value.value`` and note its verdict."""
        *parents, leaf = path.split(".")
        where = self.spec
        for part in parents:
            where = where.setdefault(part, {})
        where[leaf] = value.value
        full = "spec." + path
        if value.verdict == REFUSE:
            self.refused.append(full)
        elif value.verdict == EITHER:
            self.doubtful.append(full)


HOSTILE_ODDS = 12
"""One value in this many is drawn from the hostile ones (where a field has any): most inputs
carry one or two wrong values among valid ones, so both admission and the operator get work."""


def pick(draw: st.DrawFn, values: list[V]) -> V:
    valid = [value for value in values if value.verdict == ACCEPT]
    hostile = [value for value in values if value.verdict != ACCEPT]
    if valid and (not hostile or draw(st.integers(1, HOSTILE_ODDS)) > 1):
        return draw(st.sampled_from(valid))
    return draw(st.sampled_from(hostile))


def optional(draw: st.DrawFn, case: Case, path: str, values: list[V]) -> None:
    if draw(st.booleans()):
        case.put(path, pick(draw, values))


# Names. `n` is the example's number, so every object gets its own name.


def name_of(n: int, length: int, filler: str = "a") -> str:
    head = f"h{n}-"
    return (head + filler * max(0, length - len(head) - 1) + "z")[: max(length, len(head) + 1)]


NAME_SHAPES: list[tuple[Callable[[int], str], str]] = [
    (lambda n: f"h{n}", ACCEPT),
    (lambda n: name_of(n, 63), ACCEPT),
    (lambda n: name_of(n, 64), ACCEPT),
    (lambda n: name_of(n, 200), ACCEPT),
    (lambda n: name_of(n, 248), ACCEPT),  # `<name>-neon` is 253, the longest Secret name
    (lambda n: name_of(n, 249), EITHER),
    (lambda n: name_of(n, 253), EITHER),  # the longest object name
    (lambda n: name_of(n, 254), REFUSE),
    (lambda n: f"H{n}-Upper", REFUSE),
    (lambda n: f"h{n}-ünïcode", REFUSE),
    (lambda n: f"h{n}_underscore", REFUSE),
    (lambda n: f"-h{n}", REFUSE),
]


def object_name(draw: st.DrawFn, case: Case, n: int, shapes: list[Any] = NAME_SHAPES) -> None:
    shape = pick(draw, [V(make, verdict) for make, verdict in shapes])
    make, verdict = shape.value, shape.verdict
    case.name = make(n)
    if verdict == REFUSE:
        case.refused.append("metadata.name")
    elif verdict == EITHER:
        case.doubtful.append("metadata.name")


LONG_UNICODE = "Ω" * 256
EMOJI = "🐘" * 256  # 256 code points, 1024 bytes

NEON_NAMES = [
    *ok("x", "a" * 256, LONG_UNICODE, EMOJI, "name with spaces", "ünïcödé ✓", "\u202eevil"),
    *bad("", "a" * 257, "Ω" * 257),
]
"""Neon's project and branch names: 1..256 characters."""

DATABASE_NAMES = [
    *ok("neondb", "a" * 63, "MixedCase", "with space", "ünï", "pg_data"),
    *bad("", "a" * 64, "é" * 32, "🐘" * 16),
    # Neon's own reserved names: only Neon can tell (its list may change).
    *maybe("postgres", "template0"),
]
"""Postgres database names: at most 63 bytes (not characters)."""
ROLE_NAMES = [
    *[value for value in DATABASE_NAMES if value.value not in ("pg_data", "template0")],
    *bad("pg_reserved"),
    *maybe("cloud_admin", "neon_superuser"),
]
"""Postgres role names: as database names, and ``pg_`` is Postgres' own reserved prefix."""

CU = [
    *ok(0.25, 0.5, 1, 2, 8, 16),
    *maybe(3, 9, 18, 56),  # above the free plan: Neon's judgement
    *bad(0, 0.1, 0.3, 17, 19, 57, -1, 1e6),
]
SUSPEND = [*ok(-1, 0, 60, 300, 604800), *bad(-2, 1, 59, 604801, 2**40, "300")]


def compute(draw: st.DrawFn, case: Case, path: str) -> None:
    low = pick(draw, CU) if draw(st.booleans()) else None
    high = pick(draw, CU) if draw(st.booleans()) else None
    for field, value in (("minCu", low), ("maxCu", high)):
        if value is not None:
            case.put(f"{path}.{field}", value)
    if low is not None and high is not None and ACCEPT == low.verdict == high.verdict:
        lo, hi = float(low.value), float(high.value)
        if lo > hi or (lo != hi and hi > 16) or hi - lo > 8:
            case.refused += [f"spec.{path}.minCu", f"spec.{path}.maxCu"]
    optional(draw, case, f"{path}.suspendTimeoutSeconds", SUSPEND)


SECRET_LABELS = [
    *ok({}, {"team": "a"}, {"example.com/team": "a-b_c.d"}),
    *bad(
        {"bad key!": "x"},
        {"team": "not valid!"},
        {"team": "a" * 64},
        {"a" * 64: "x"},
        {"ünï": "x"},
    ),
]
SECRET_ANNOTATIONS = [
    *ok({}, {"reloader.stakater.com/match": "true"}, {"note": "ünïcode ✓ " * 50}),
    *bad({"bad key!": "x"}, {"/": "x"}),
]


def connection_secret(draw: st.DrawFn, case: Case, path: str, key_secret: str) -> None:
    optional(
        draw,
        case,
        f"{path}.name",
        [*ok("my-secret", "a" * 253, key_secret), *bad("Bad_Name", "a" * 254, "")],
    )
    optional(draw, case, f"{path}.keyPrefix", [*ok("", "APP_", "_x"), *bad("1BAD", "A-B")])
    optional(draw, case, f"{path}.labels", SECRET_LABELS)
    optional(draw, case, f"{path}.annotations", SECRET_ANNOTATIONS)


@dataclasses.dataclass(frozen=True)
class World:
    """What the inputs may refer to."""

    namespace: str
    foreign_namespace: str
    base_app: str
    foreign_project: str
    base_project: str
    configs: dict[str, str]
    """Kind of NeonConfig (good, missing-secret, malformed, empty, revoked) → its name."""
    organizations: dict[str, str]
    api_url: str
    key_secret: str


def app_ref(draw: st.DrawFn, case: Case, path: str, world: World) -> None:
    ref = pick(draw, [*ok(world.base_app, world.base_app, "missing-app"), *bad("Bad_App")])
    case.put(f"{path}.name", ref)
    namespace = pick(
        draw, [*ok(None, None, world.namespace), *bad(world.foreign_namespace, "Bad_NS")]
    )
    if namespace.value is not None:
        case.put(f"{path}.namespace", namespace)


@st.composite
def app_databases(draw: st.DrawFn, n: int, world: World) -> Case:
    case = Case("NeonAppDatabase", "", {})
    object_name(draw, case, n)
    config = pick(
        draw,
        [
            *ok(*world.configs.values(), "default", "missing-config"),
            *bad("Bad_Config"),
        ],
    )
    if config.value != "default":
        case.put("configRef.name", config)
    optional(
        draw,
        case,
        "tier",
        # An unknown tier: the tier policy refuses it when the NeonConfig exists, else the
        # operator reports it.
        [*ok("free", "paid"), *maybe("gold"), *bad("Free", "", "a" * 64)],
    )
    optional(draw, case, "projectName", NEON_NAMES)
    optional(
        draw,
        case,
        "regionId",
        [*ok("aws-us-east-2"), *maybe("aws-mars-1", "azure-eastus2"), *bad("AWS", "", "aws")],
    )
    optional(draw, case, "pgVersion", [*ok(14, 17, 18), *bad(13, 19, 0, "17")])
    optional(draw, case, "branch.name", NEON_NAMES)
    optional(draw, case, "branch.roleName", ROLE_NAMES)
    optional(draw, case, "branch.databaseName", DATABASE_NAMES)
    compute(draw, case, "compute")
    optional(draw, case, "historyRetentionSeconds", [*ok(0, 86400, 2592000), *bad(-1, 2592001)])
    connection_secret(draw, case, "connectionSecret", world.key_secret)
    optional(draw, case, "deletionPolicy", [*ok("Delete", "Retain"), *bad("Destroy", "")])
    optional(
        draw,
        case,
        "adoptProjectId",
        [*ok("missing-project-123", world.foreign_project), *bad("BAD!", "a" * 61)],
    )
    optional(draw, case, "passwordRotation", [*ok("1", "ü" * 253), *bad("", "a" * 254)])
    return case


TIMESTAMPS = [
    *ok("2999-01-01T00:00:00Z", "2000-01-01T00:00:00Z"),
    *bad("yesterday", "2026-13-01T00:00:00Z", ""),
]


@st.composite
def branches(draw: st.DrawFn, n: int, world: World) -> Case:
    case = Case("NeonBranch", "", {})
    object_name(draw, case, n)
    app_ref(draw, case, "appDatabaseRef", world)
    optional(draw, case, "parentBranchRef.name", [*ok("missing-branch"), *bad("Bad_Branch")])
    point = draw(st.sampled_from(["none", "timestamp", "lsn", "both"]))
    if point in ("timestamp", "both"):
        case.put("parentTimestamp", pick(draw, TIMESTAMPS))
    if point in ("lsn", "both"):
        case.put("parentLsn", pick(draw, [*ok("0/0", "FFFFFFFF/FFFFFFFF"), *bad("0/1de2850", "x")]))
    if point == "both":
        case.refused.append("spec.parentLsn")
    optional(draw, case, "branchName", NEON_NAMES)
    optional(draw, case, "compute.type", [*ok("ReadWrite", "ReadOnly", "None"), *bad("Serverless")])
    compute(draw, case, "compute")
    connection_secret(draw, case, "connectionSecret", world.key_secret)
    optional(draw, case, "deletionPolicy", [*ok("Delete", "Retain"), *bad("Keep")])
    return case


@st.composite
def snapshots(draw: st.DrawFn, n: int, world: World) -> Case:
    case = Case("NeonSnapshot", "", {})
    object_name(draw, case, n)
    app_ref(draw, case, "appDatabaseRef", world)
    optional(draw, case, "snapshotName", NEON_NAMES)
    optional(draw, case, "expiresAt", TIMESTAMPS)
    optional(draw, case, "deletionPolicy", [*ok("Delete", "Retain"), *bad("")])
    return case


@st.composite
def restores(draw: st.DrawFn, n: int, world: World) -> Case:
    case = Case("NeonRestore", "", {})
    object_name(draw, case, n)
    case.put("snapshotRef.name", pick(draw, [*ok("missing-snapshot"), *bad("Bad_Snap", "")]))
    if draw(st.booleans()):
        case.put("snapshotRef.namespace", pick(draw, bad(world.foreign_namespace)))
    optional(draw, case, "targetBranchRef.name", [*ok("missing-branch"), *bad("Bad_Branch")])
    mode = pick(draw, [*ok("Finalize", "Staged"), *bad("Bogus")])
    case.put("mode", mode)
    finalize = pick(draw, ok(False, True))
    case.put("finalize", finalize)
    if finalize.value and mode.value == "Finalize":
        case.refused.append("spec.finalize")
    optional(draw, case, "oldBranchPolicy", [*ok("Retain", "Delete"), *bad("Burn")])
    connection_secret(draw, case, "inspectSecret", world.key_secret)
    return case


@st.composite
def schedules(draw: st.DrawFn, n: int, world: World) -> Case:
    case = Case("NeonSnapshotSchedule", "", {})
    object_name(draw, case, n)
    app_ref(draw, case, "appDatabaseRef", world)
    case.put(
        "schedule",
        pick(
            draw,
            [
                *ok("0 3 * * *", "*/5 * * * *", "0 0 1 jan mon"),
                *maybe("61 * * * *", "0 0 31 2 *"),
                *bad("not cron", "@daily", "* * * *", ""),
            ],
        ),
    )
    keep = pick(draw, [*ok(None, 1, 10**6), *bad(0, -1)])
    max_age = pick(draw, [*ok(None, "1h", "168h", "1h30m"), *bad("0s", "1d", "-1h", "x")])
    if keep.value is not None:
        case.put("keep", keep)
    if max_age.value is not None:
        case.put("maxAge", max_age)
    if keep.value is None and max_age.value is None:
        case.refused.append("spec.keep")
    optional(draw, case, "suspend", [*ok(True, False), *bad("yes")])
    optional(draw, case, "snapshotNamePrefix", [*ok("a" * 200, "x"), *bad("A", "a" * 201, "-x")])
    return case


@st.composite
def neon_configs(draw: st.DrawFn, n: int, world: World, run: str) -> Case:
    case = Case("NeonConfig", "", {"allowedNamespaces": [world.namespace]})
    shapes = [
        (lambda n: f"hx{run}-{n}", ACCEPT),
        (lambda n: f"hx{run}-{n}-" + "a" * (252 - len(f"hx{run}-{n}-")) + "z", ACCEPT),
        (lambda n: f"hx{run}-{n}-Upper", REFUSE),
    ]
    object_name(draw, case, n, shapes)
    case.put(
        "apiUrl",
        pick(
            draw,
            [
                *ok(world.api_url, "http://127.0.0.1:1/api/v2", world.api_url + "/nope"),
                *bad("ftp://example.com", "not a url", "", "http://"),
            ],
        ),
    )
    case.put(
        "apiKeySecretRef.namespace",
        pick(draw, [*ok(world.namespace, world.namespace, "no-such-ns"), *bad("Bad_NS")]),
    )
    case.put(
        "apiKeySecretRef.name",
        pick(draw, [*ok(world.key_secret, "key-malformed", "key-missing"), *bad("Bad_Name")]),
    )
    optional(draw, case, "apiKeySecretRef.key", [*ok("apiKey", "other"), *bad("")])
    orgs = world.organizations
    case.put(
        "organizations",
        pick(
            draw,
            [
                *ok({"free": orgs["sponsored"]}, dict(orgs), {"free": "org-missing-1"}),
                *bad({}, {"Free": orgs["sponsored"]}, {"free": "not-an-org"}),
            ],
        ),
    )
    optional(draw, case, "rateLimit.requestsPerMinute", [*ok(1, 700, 100000), *bad(0, 100001)])
    optional(draw, case, "rateLimit.burstPerSecond", [*ok(1, 40, 10000), *bad(0, -5)])
    compute(draw, case, "defaults.compute")
    optional(draw, case, "defaults.pgVersion", [*ok(14, 18), *bad(19)])
    return case


def any_case(n: int, world: World, run: str) -> st.SearchStrategy[Case]:
    return st.one_of(
        app_databases(n, world),
        app_databases(n, world),
        branches(n, world),
        snapshots(n, world),
        restores(n, world),
        schedules(n, world),
        neon_configs(n, world, run),
    )


# -- applying and judging --------------------------------------------------------------------


def names_field(message: str, path: str) -> bool:
    """Whether the apiserver's ``message`` names ``path`` (in full, or as its parent's path
    and its own name: messages of CEL rules on an object name the object and the field)."""
    if path in message:
        return True
    parent, _, leaf = path.rpartition(".")
    return bool(parent) and parent in message and leaf in message


@dataclasses.dataclass
class Run:
    """What the run saw."""

    objects: client.CustomObjectsApi
    namespace: str
    tried: int = 0
    refused: int = 0
    accepted: list[Case] = dataclasses.field(default_factory=list)
    problems: list[str] = dataclasses.field(default_factory=list)

    def body(self, case: Case) -> dict[str, Any]:
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": case.kind,
            "metadata": {"name": case.name},
            "spec": case.spec,
        }

    def create(self, case: Case) -> None:
        plural = PLURALS[case.kind]
        if case.kind == "NeonConfig":
            self.objects.create_cluster_custom_object(GROUP, VERSION, plural, self.body(case))
        else:
            self.objects.create_namespaced_custom_object(
                GROUP, VERSION, self.namespace, plural, self.body(case)
            )

    def get(self, case: Case) -> dict[str, Any] | None:
        plural = PLURALS[case.kind]
        try:
            if case.kind == "NeonConfig":
                return dict(
                    self.objects.get_cluster_custom_object(GROUP, VERSION, plural, case.name)
                )
            return dict(
                self.objects.get_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, plural, case.name
                )
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def delete(self, case: Case) -> None:
        plural = PLURALS[case.kind]
        try:
            if case.kind == "NeonConfig":
                self.objects.delete_cluster_custom_object(GROUP, VERSION, plural, case.name)
            else:
                self.objects.delete_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, plural, case.name
                )
        except ApiException as error:
            if error.status != 404:
                raise

    def release(self, case: Case) -> None:
        """Drop the finalizers of ``case`` (cleanup of what cannot be deleted in Neon)."""
        body = {"metadata": {"finalizers": None}}
        try:
            if case.kind == "NeonConfig":
                self.objects.patch_cluster_custom_object(
                    GROUP, VERSION, PLURALS[case.kind], case.name, body
                )
            else:
                self.objects.patch_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, PLURALS[case.kind], case.name, body
                )
        except ApiException as error:
            if error.status != 404:
                raise

    def apply(self, case: Case) -> None:
        """Create ``case`` and judge admission's answer against the oracle."""
        self.tried += 1
        about = f"{case.kind} {case.name[:40]!r} {json.dumps(case.spec)[:600]}"
        try:
            self.create(case)
        except ApiException as error:
            if error.status not in (403, 422):
                self.problems.append(f"{about}: unexpected {error.status}: {error.body}")
                return
            self.refused += 1
            message = str(json.loads(error.body).get("message", error.body))
            named = case.refused + case.doubtful
            if not named:
                self.problems.append(f"{about}: valid input refused: {message}")
            elif not any(names_field(message, path) for path in named):
                self.problems.append(f"{about}: refused without naming {named}: {message}")
            return
        self.accepted.append(case)
        if case.refused:
            self.problems.append(f"{about}: hostile {case.refused} accepted at admission")

    def verdict(self, case: Case) -> tuple[str, str] | None:
        """``("True", reason)`` or ``("False", reason)`` once the object's Ready condition is
        final for its generation; ``None`` while it is on its way."""
        obj = self.get(case)
        if obj is None:
            return ("Gone", "")
        ready = condition(obj, "Ready")
        generation = obj["metadata"].get("generation")
        if ready is None or ready.get("observedGeneration") not in (None, generation):
            return None
        if ready["status"] == "True":
            return ("True", ready["reason"])
        synced = condition(obj, "Synced")
        unreachable = synced is not None and synced["reason"] == "NeonUnavailable"
        if ready["reason"] in PROGRESS and not unreachable:
            return None
        if not ready.get("message"):
            self.problems.append(f"{case.kind} {case.name[:40]}: Ready=False without a message")
        return ("False", ready["reason"])


def tracebacks(log: str) -> list[str]:
    """Lines of the operator's log that show a handler crash."""
    lines = log.splitlines()
    found = []
    for i, line in enumerate(lines):
        if (
            "Traceback" in line and not (i and "failed with an exception" in lines[i - 1])
        ) or "failed with an exception" in line:
            found.append("\n".join(lines[i : i + 40]))
    return found


# -- the world the inputs live in --------------------------------------------------------------


@pytest.fixture
def hostile_world(
    kube_api, local_stack: devstack.Stack, neon, start_operator, make_namespace
) -> Iterator[tuple[World, OperatorProcess, Run]]:
    emulator = local_stack.emulator
    assert emulator is not None
    namespace, foreign = make_namespace("hostile-"), make_namespace("hostile-")
    run = namespace.rsplit("-", 1)[1][:6]
    core = client.CoreV1Api(kube_api)
    objects = client.CustomObjectsApi(kube_api)
    key = emulator.api_key()
    revoked = neon.post("/api_keys", {"key_name": f"hostile-{run}"})
    neon.http.delete(f"/api_keys/{revoked['id']}").raise_for_status()
    secrets = {
        "key-good": {"apiKey": key, "other": key},
        "key-malformed": {"apiKey": "napi_ünïcode\u2028key\x7f", "other": "a\nb"},
        "key-empty": {"apiKey": "   "},
        "key-revoked": {"apiKey": revoked["key"]},
    }
    for name, data in secrets.items():
        core.create_namespaced_secret(namespace, {"metadata": {"name": name}, "stringData": data})
    configs = {
        "good": f"hc{run}-good",
        "missing-secret": f"hc{run}-missing",
        "malformed": f"hc{run}-malformed",
        "empty": f"hc{run}-empty",
        "revoked": f"hc{run}-revoked",
    }
    secret_of = {
        "good": "key-good",
        "missing-secret": "key-missing",
        "malformed": "key-malformed",
        "empty": "key-empty",
        "revoked": "key-revoked",
    }
    for kind, name in configs.items():
        create_neon_config(
            kube_api, emulator, name, (namespace, secret_of[kind]), [namespace, foreign]
        )
    operator = start_operator([namespace, foreign], "hostile.log")
    operator.wait_serving()
    state = Run(objects, namespace)
    base = Case("NeonAppDatabase", "base", {})
    other = Run(objects, foreign)
    state.create(base)
    other.create(Case("NeonAppDatabase", "foreign", {}))
    projects = {}
    for where, name in ((state, "base"), (other, "foreign")):
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while (found := where.verdict(Case("NeonAppDatabase", name, {}))) != (
            "True",
            "ProjectReady",
        ):
            assert time.monotonic() < deadline, f"{name} never became Ready: {found}"
            time.sleep(0.5)
        obj = where.get(Case("NeonAppDatabase", name, {}))
        assert obj is not None
        projects[name] = obj["status"]["projectId"]
    world = World(
        namespace=namespace,
        foreign_namespace=foreign,
        base_app="base",
        foreign_project=projects["foreign"],
        base_project=projects["base"],
        configs=configs,
        organizations=dict(emulator.organizations),
        api_url=emulator.api_url,
        key_secret="key-good",
    )
    try:
        yield world, operator, state
    finally:
        for config in configs.values():
            state.delete(Case("NeonConfig", config, {}))
        Apps(kube_api, foreign).delete_all(["foreign"])
        Apps(kube_api, namespace).delete_all(["base"])


def hostile_run(
    world: World, operator: OperatorProcess, state: Run, examples: int, neon: Any
) -> None:
    numbers = itertools.count()
    run = world.namespace.rsplit("-", 1)[1][:6]

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=(Phase.explicit, Phase.generate),  # no shrinking: every example costs the cluster
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def apply(data: st.DataObject) -> None:
        case = data.draw(any_case(next(numbers), world, run))
        state.apply(case)

    apply()

    # Alongside all of that, a healthy app still gets Ready in normal time.
    canary = Case("NeonAppDatabase", "canary", {"compute": {"minCu": 0.25, "maxCu": 1}})
    state.create(canary)

    outcomes: collections.Counter[str] = collections.Counter()
    pending = list(state.accepted)
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while pending and time.monotonic() < deadline:
        still = []
        for case in pending:
            found = state.verdict(case)
            if found is None:
                still.append(case)
            else:
                status, reason = found
                outcomes[
                    f"Ready={status} {reason}" if status == "False" else f"Ready={status}"
                ] += 1
                if status == "False" and reason not in REASONS:
                    state.problems.append(
                        f"{case.kind} {case.name[:40]} {json.dumps(case.spec)[:400]}: "
                        f"Ready=False reason {reason!r} is not a documented one"
                    )
        pending = still
        time.sleep(0.5)
    for case in pending:
        state.problems.append(
            f"{case.kind} {case.name[:40]} {json.dumps(case.spec)[:400]} never settled: "
            f"{(state.get(case) or {}).get('status')}"
        )
    canary_deadline = time.monotonic() + 90
    while state.verdict(canary) != ("True", "ProjectReady"):
        if time.monotonic() > canary_deadline:
            state.problems.append(f"the canary app never became Ready: {state.get(canary)}")
            break
        time.sleep(0.5)

    # Everything accepted can be deleted again (the operator still runs: finalizers clear).
    leftovers = [*state.accepted, canary]
    for case in leftovers:
        state.delete(case)
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while leftovers and time.monotonic() < deadline:
        leftovers = [case for case in leftovers if state.get(case) is not None]
        time.sleep(0.5)
    for case in leftovers:
        # Deleting needs Neon when the operator may have made something there; with a key
        # Neon refuses it waits (and says why) rather than leave a project behind.
        obj = state.get(case)
        ready = condition(obj, "Ready") if obj else None
        if ready is None or ready["reason"] not in KEY_PROBLEMS:
            state.problems.append(f"{case.kind} {case.name[:40]} was never deleted: {ready}")
        state.release(case)

    crashes = tracebacks(operator.log.read_text(errors="replace"))
    state.problems += [f"handler crash in the operator's log:\n{crash}" for crash in crashes[:5]]

    print(
        f"\nhostile inputs: {state.tried} tried, {state.refused} refused at admission, "
        f"{len(state.accepted)} accepted:"
    )
    for outcome, count in sorted(outcomes.items()):
        print(f"  {outcome}: {count}")
    assert not state.problems, "\n\n".join(state.problems[:15])


def test_hostile_input_is_refused_at_admission_or_reported_never_crashes(
    hostile_world, neon
) -> None:
    world, operator, state = hostile_world
    hostile_run(world, operator, state, CI_EXAMPLES, neon)


@pytest.mark.nightly
def test_hostile_input_nightly(hostile_world, neon) -> None:
    world, operator, state = hostile_world
    hostile_run(world, operator, state, NIGHTLY_EXAMPLES, neon)
