"""SIGKILLed again and again while it works, the operator loses, doubles and leaks nothing.

A seeded scenario creates NeonAppDatabases, NeonBranches and NeonSnapshots, writes rows, restores
snapshots, moves projects from the free tier to the paid one and deletes resources, while a
killer SIGKILLs the operator at random moments and starts a successor (the fast Lease lets it
lead within seconds) and Neon answers some requests with 503 or 423. After the last restart every
resource converges and the Neon inventory, asked of the emulator, matches the resources exactly:

- lost: a live resource without its Neon project, branch or snapshot;
- duplicated: more than one Neon object made for one resource;
- leaked: a Neon object of a deleted resource still there;
- orphaned: any other Neon object in the test's projects (an unrecorded branch, compute, or
  snapshot; a project nobody asked for);
- unmarked: a project or branch the operator created without the resource's uid annotation
  (what crash recovery finds it by).

Every connection Secret connects, and each restored app holds exactly its snapshot's rows.

The scenario and the killer's delays come from one seed, printed in every failure; rerun one with
``NEON_CRASH_SEED=<seed>``. The CI-sized run kills 15 times; the nightly one (``-m nightly``) 50.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest

from .conftest import FAST_LEASE, Apps, Kind, OperatorProcess, ready

pytestmark = pytest.mark.e2e

FAULTS = {"error_5xx_probability": 0.04, "locked_probability": 0.04}
"""Neon's transient answers during the loop (faults the operator retries)."""
CALM = {"error_5xx_probability": 0.0, "locked_probability": 0.0, "latency_seconds": 0.0}
WAIT = 600.0
"""Seconds a step waits for what it depends on (the operator is down half of the time)."""
SETTLE = 600.0
"""Seconds the resources get to converge after the last restart."""


@dataclasses.dataclass(frozen=True)
class Size:
    apps: int
    kills: int


CI = Size(apps=5, kills=15)
NIGHTLY = Size(apps=12, kills=50)


@dataclasses.dataclass(frozen=True)
class Step:
    """One change the scenario makes: ``action`` on the resource ``name`` of app ``app``."""

    action: str
    app: str
    name: str
    after: tuple[str, ...] = ()
    """Keys (``action/name``) of the steps that must come first."""
    target: str = ""
    """The NeonBranch a restore rolls back (the app's default branch if empty)."""

    @property
    def key(self) -> str:
        return f"{self.action}/{self.name}"


def scenario(rng: random.Random, apps: int) -> list[Step]:
    """Each app's story, interleaved with the others' at random (each step after the ones it
    depends on)."""
    steps: list[Step] = []
    for i in range(apps):
        app = f"app-{i}"
        story = [Step("create_app", app, app)]
        created = ("create_app/" + app,)
        kept = []
        for j in range(rng.randint(0, 2)):
            branch = f"{app}-br{j}"
            story.append(Step("create_branch", app, branch, created))
            if rng.random() < 0.4:
                story.append(Step("delete_branch", app, branch, (f"create_branch/{branch}",)))
            else:
                kept.append(branch)
        if rng.random() < 0.7:
            snap = f"{app}-snap"
            story += [
                Step("write_first", app, app, created),
                Step("create_snapshot", app, snap, (f"write_first/{app}",)),
                Step("write_second", app, snap, (f"create_snapshot/{snap}",)),
            ]
            how = rng.choice(["one-step", "staged", "branch" if kept else "one-step", "none"])
            undo = f"{app}-undo"
            after = (f"write_second/{snap}",)
            if how == "one-step":
                story.append(Step("restore", app, undo, after))
            elif how == "staged":
                story.append(Step("restore_staged", app, undo, after))
                story.append(Step("finalize", app, undo, (f"restore_staged/{undo}",)))
            elif how == "branch":
                target = rng.choice(kept)
                story.append(
                    Step("restore", app, undo, (*after, f"create_branch/{target}"), target)
                )
        if rng.random() < 0.4:
            extra = f"{app}-extra"
            story.append(Step("create_snapshot", app, extra, created))
            story.append(Step("delete_snapshot", app, extra, (f"create_snapshot/{extra}",)))
        if rng.random() < 0.5:
            story.append(Step("move_tier", app, app, created))
        if rng.random() < 0.25:
            story.append(Step("delete_app", app, app, tuple(s.key for s in story)))
        steps += story
    ordered: list[Step] = []
    done: set[str] = set()
    pending = list(steps)
    while pending:
        ready_steps = [s for s in pending if all(dep in done for dep in s.after)]
        chosen = rng.choice(ready_steps)
        pending.remove(chosen)
        ordered.append(chosen)
        done.add(chosen.key)
    return ordered


HOOKS = ("create_project", "create_branch", "create_snapshot", "restore_snapshot")
"""Steps after which an operator started with ``NEON_OPERATOR_TEST_CRASH_AFTER`` SIGKILLs
itself: right after Neon made something, before its id reaches Kubernetes."""


class Killer(threading.Thread):
    """SIGKILLs the leading operator, ``kills`` times: at a random moment, or (for half of the
    operators, which carry a crash hook) right after a Neon create call when one comes first.
    A successor is started (standing by for the Lease) as soon as an operator leads, so it takes
    over once the killed one's Lease expires; the last one is left running, without a hook."""

    def __init__(
        self,
        start: Callable[[str, dict[str, str]], OperatorProcess],
        kills: int,
        seed: int,
    ) -> None:
        super().__init__(daemon=True)
        self.start_operator, self.target, self.rng = start, kills, random.Random(seed)
        self.kills = 0
        self.hooked: collections.Counter[str] = collections.Counter()
        """Kills by a crash hook, by step."""
        self.self_exits: list[OperatorProcess] = []
        self.started = 0
        self.hooks: dict[OperatorProcess, str] = {}
        self.current = self._spawn()
        self.error: BaseException | None = None
        self.stopping = threading.Event()

    def _spawn(self) -> OperatorProcess:
        self.started += 1
        last = self.kills >= self.target - 1
        hook = "" if last or self.rng.random() < 0.5 else self.rng.choice(HOOKS)
        env = {"NEON_OPERATOR_TEST_CRASH_AFTER": hook} if hook else {}
        operator = self.start_operator(f"operator-{self.started}.log", env)
        if hook:
            self.hooks[operator] = hook
        return operator

    def run(self) -> None:
        try:
            successor: OperatorProcess | None = None
            while self.kills < self.target and not self.stopping.is_set():
                if not self._leads(self.current):
                    self.current, successor = successor or self._spawn(), None
                    continue
                successor = successor or self._spawn()
                # Long enough, on average, for an operator to get work done between kills even
                # on a loaded machine; a hooked one gets longer to reach a create call.
                wait = self.rng.uniform(0.5, 8.0 if self.current in self.hooks else 5.0)
                deadline = time.monotonic() + wait
                while time.monotonic() < deadline and self.current.popen.poll() is None:
                    self.stopping.wait(0.05)
                if self.current.popen.poll() is None:
                    self.current.popen.send_signal(signal.SIGKILL)
                    assert self.current.popen.wait(timeout=30) == -signal.SIGKILL
                elif not self._exited(self.current):
                    self.current, successor = successor, None
                    continue
                self.kills += 1
                self.current, successor = successor, None
            self._leads(self.current)
        except BaseException as error:  # reported by the test thread
            self.error = error

    def _leads(self, operator: OperatorProcess) -> bool:
        """Wait until ``operator`` leads; False if it exited first."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if operator.popen.poll() is not None:
                if self._exited(operator):
                    self.kills += 1
                return False
            try:
                if operator.leading():
                    return True
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"operator never led; see {operator.log}")

    def _exited(self, operator: OperatorProcess) -> bool:
        """Whether ``operator``, found exited, was killed by its crash hook (else it exited on
        its own)."""
        if operator.popen.returncode == -signal.SIGKILL and operator in self.hooks:
            self.hooked[self.hooks[operator]] += 1
            return True
        self.self_exits.append(operator)
        return False


@dataclasses.dataclass
class World:
    """What the scenario did, as Kubernetes knows it."""

    apps: Apps
    kinds: dict[str, Kind]
    live: dict[str, dict[str, str]] = dataclasses.field(
        default_factory=lambda: collections.defaultdict(dict)
    )
    """kind → resource name → its app."""
    deleted: dict[str, dict[str, str]] = dataclasses.field(
        default_factory=lambda: collections.defaultdict(dict)
    )
    """kind → deleted resource name → its Neon name."""
    counts: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    rows: dict[str, list[int]] = dataclasses.field(default_factory=dict)
    """app → the values its table must hold at the end."""
    paid: set[str] = dataclasses.field(default_factory=set)
    restored: dict[str, str] = dataclasses.field(default_factory=dict)
    """NeonRestore → the app or NeonBranch it rolls back."""
    inspected: dict[str, list[int]] = dataclasses.field(default_factory=dict)
    """Staged NeonRestore → the rows its inspect Secret showed."""

    def create(self, kind: str, name: str, app: str, spec: dict[str, Any]) -> None:
        self.kinds[kind].create(name, spec)
        self.live[kind][name] = app
        self.counts["creates"] += 1

    def delete(self, kind: str, name: str) -> None:
        app = self.live[kind].pop(name)
        self.kinds[kind].delete(name)
        self.deleted[kind][name] = self.apps.namespace + "-" + app if kind == "app" else name
        self.counts["deletes"] += 1


def wait_ready(
    kind: Kind,
    name: str,
    timeout: float,
    reason: str | None = None,
    fields: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Wait for ``name`` to be Ready (for this generation), with ``fields`` in its status."""

    def converged(obj: dict[str, Any] | None) -> bool:
        found = ready(obj) if obj is not None else None
        return (
            obj is not None
            and found is not None
            and found["status"] == "True"
            and (reason is None or found["reason"] == reason)
            and found.get("observedGeneration") == obj["metadata"].get("generation")
            and all(obj["status"].get(k) == v for k, v in (fields or {}).items())
        )

    obj = kind.wait(name, converged, f"Ready with {fields or {}}", timeout=timeout)
    assert obj is not None
    return obj


def awaiting_finalize(obj: dict[str, Any] | None) -> bool:
    found = ready(obj) if obj is not None else None
    return found is not None and found["reason"] == "AwaitingFinalize"


def sql(secret: dict[str, str] | None, text: str) -> list[tuple[Any, ...]]:
    assert secret is not None
    with psycopg.connect(
        secret["DATABASE_URL_UNPOOLED"], autocommit=True, connect_timeout=60
    ) as conn:
        cursor = conn.execute(text.encode())
        return cursor.fetchall() if cursor.description else []


def act(world: World, step: Step) -> None:
    """Make the change ``step`` says (waiting for what it needs)."""
    name, app = step.name, step.app
    of_app = {"appDatabaseRef": {"name": app}}
    if step.action == "create_app":
        world.create("app", name, app, {"tier": "free"})
    elif step.action == "create_branch":
        world.create("branch", name, app, of_app)
    elif step.action == "create_snapshot":
        world.create("snapshot", name, app, of_app)
    elif step.action in ("restore", "restore_staged"):
        spec = {"snapshotRef": {"name": f"{app}-snap"}, "oldBranchPolicy": "Delete"}
        if step.action == "restore_staged":
            spec["mode"] = "Staged"
        if step.target:
            spec["targetBranchRef"] = {"name": step.target}
        world.create("restore", name, app, spec)
        world.restored[name] = step.target or app
        world.counts["restores"] += 1
        world.rows[step.target or app] = [1]
    elif step.action == "finalize":
        restores = world.kinds["restore"]
        restores.wait(name, awaiting_finalize, "AwaitingFinalize", timeout=WAIT)
        inspected = sql(world.apps.secret(f"{name}-inspect"), "SELECT x FROM t ORDER BY x")
        world.inspected[name] = [row[0] for row in inspected]
        restores.patch(name, {"spec": {"finalize": True}})
    elif step.action == "write_first":
        wait_ready(world.kinds["app"], app, WAIT)
        sql(world.apps.secret(f"{app}-neon"), "CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
        world.rows[app] = [1]
    elif step.action == "write_second":
        wait_ready(world.kinds["snapshot"], name, WAIT)
        sql(world.apps.secret(f"{app}-neon"), "INSERT INTO t VALUES (2)")
        world.rows[app] = [1, 2]
    elif step.action == "move_tier":
        world.kinds["app"].patch(app, {"spec": {"tier": "paid"}})
        world.paid.add(app)
        world.counts["tier_moves"] += 1
    elif step.action == "delete_branch":
        world.delete("branch", name)
    elif step.action == "delete_snapshot":
        world.delete("snapshot", name)
    elif step.action == "delete_app":
        # As a GitOps prune would: the app and everything made of it, in any order.
        owned = [(kind, n) for kind in world.live for n, a in world.live[kind].items() if a == app]
        random.Random(step.key).shuffle(owned)
        for kind, n in owned:
            world.delete(kind, n)
        for gone in (app, *(n for kind, n in owned if kind == "branch")):
            world.rows.pop(gone, None)
        world.paid.discard(app)
    else:
        raise AssertionError(f"unknown step {step}")


def converge(world: World) -> dict[str, dict[str, Any]]:
    """Wait for every live resource to be Ready and every deleted one to be gone; the live
    resources' bodies by ``kind/name``."""
    bodies: dict[str, dict[str, Any]] = {}
    for kind, names in world.deleted.items():
        for name in names:
            world.kinds[kind].wait(name, lambda obj: obj is None, "deleted", timeout=SETTLE)
    for kind in ("app", "snapshot", "branch", "restore"):
        for name in world.live[kind]:
            reason = "Restored" if kind == "restore" else None
            bodies[f"{kind}/{name}"] = wait_ready(world.kinds[kind], name, SETTLE, reason)
    # A restored target records its new branch on its own; an app moved to paid its new org.
    wanted: dict[tuple[str, str], dict[str, str]] = collections.defaultdict(dict)
    for name, target in world.restored.items():
        if name in world.live["restore"]:
            kind, field = (
                ("app", "defaultBranchId")
                if target in world.live["app"]
                else (
                    "branch",
                    "branchId",
                )
            )
            wanted[kind, target][field] = bodies[f"restore/{name}"]["status"]["restoredBranchId"]
    for app in world.paid:
        wanted["app", app]["tier"] = "paid"
    for (kind, name), fields in wanted.items():
        bodies[f"{kind}/{name}"] = wait_ready(world.kinds[kind], name, SETTLE, fields=fields)
    return bodies


@dataclasses.dataclass
class Audit:
    """What the Neon inventory shows beyond the resources, by kind of problem."""

    lost: list[str] = dataclasses.field(default_factory=list)
    duplicated: list[str] = dataclasses.field(default_factory=list)
    orphaned: list[str] = dataclasses.field(default_factory=list)
    leaked: list[str] = dataclasses.field(default_factory=list)
    unmarked: list[str] = dataclasses.field(default_factory=list)

    def problems(self) -> dict[str, list[str]]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v}


def audit(world: World, bodies: dict[str, dict[str, Any]], neon: Any) -> Audit:
    """Compare Neon's projects, branches, computes and snapshots with the resources."""
    found = Audit()
    namespace = world.apps.namespace
    prefix = f"{namespace}-"
    orgs = {"free": neon.organizations["sponsored"], "paid": neon.organizations["paid"]}
    projects = [
        project
        for tier in ("sponsored", "paid")
        for project in neon.projects(tier, search=prefix)
        if project["name"].startswith(prefix)
    ]
    by_name = collections.defaultdict(list)
    for project in projects:
        by_name[project["name"]].append(project)
    leaked_projects = set(world.deleted["app"].values())
    for project_name, twins in by_name.items():
        app = project_name.removeprefix(prefix)
        if app not in world.live["app"]:
            where = found.leaked if project_name in leaked_projects else found.orphaned
            where += [f"project {p['id']} ({project_name})" for p in twins]
    uid = {key: body["metadata"]["uid"] for key, body in bodies.items()}
    restored = {world.restored[name] for name in world.live["restore"]}
    for app in world.live["app"]:
        status = bodies[f"app/{app}"]["status"]
        twins = by_name.get(prefix + app, [])
        if not twins:
            found.lost.append(f"project of app {app}")
            continue
        found.duplicated += [f"project {p['id']} (twin for {app})" for p in twins[1:]]
        if [p["id"] for p in twins] != [status["projectId"]]:
            found.duplicated.append(f"app {app}: status {status['projectId']} vs {twins}")
        project_id = status["projectId"]
        tier = "paid" if app in world.paid else "free"
        project = next(p for p in twins if p["id"] == project_id)
        if project["org_id"] != orgs[tier]:
            found.lost.append(f"project {project_id} of {app} in {project['org_id']}, not {tier}")
        audit_project(world, bodies, neon, app, project_id, uid, restored, found)
    return found


def audit_project(
    world: World,
    bodies: dict[str, dict[str, Any]],
    neon: Any,
    app: str,
    project_id: str,
    uid: dict[str, str],
    restored: set[str],
    found: Audit,
) -> None:
    listing = neon.get(f"/projects/{project_id}/branches")
    marks = {
        branch_id: dict(annotation.get("value", {}))
        for branch_id, annotation in listing.get("annotations", {}).items()
    }
    branches = listing["branches"]
    status = bodies[f"app/{app}"]["status"]
    expected = {status["defaultBranchId"]: f"app {app}"}
    default = [b["id"] for b in branches if b.get("default")]
    if default != [status["defaultBranchId"]]:
        found.lost.append(f"app {app}: default branch {default} vs {status['defaultBranchId']}")
    # A restore never re-marks the branch that replaces the default one (Neon branch annotations
    # are set at creation), so the uid is asked of an unrestored project only.
    if (
        app not in restored
        and marks.get(status["defaultBranchId"], {}).get("neon.operator.dev/uid")
        != uid[f"app/{app}"]
    ):
        found.unmarked.append(f"project {project_id} of {app}")
    endpoints_wanted = {status["endpointId"]: f"app {app}"}
    mine = [n for n, a in world.live["branch"].items() if a == app]
    for name in mine:
        br = bodies[f"branch/{name}"]["status"]
        named = [b for b in branches if b["name"] == name]
        if not any(b["id"] == br["branchId"] for b in named):
            found.lost.append(f"branch of NeonBranch {name} ({br['branchId']})")
        found.duplicated += [
            f"branch {b['id']} (twin for {name})" for b in named if b["id"] != br["branchId"]
        ]
        expected[br["branchId"]] = f"NeonBranch {name}"
        endpoints_wanted[br["endpointId"]] = f"NeonBranch {name}"
        if (
            name not in restored
            and marks.get(br["branchId"], {}).get("neon.operator.dev/uid") != uid[f"branch/{name}"]
        ):
            found.unmarked.append(f"branch {br['branchId']} of NeonBranch {name}")
    for name, owner in world.live["restore"].items():
        done = bodies[f"restore/{name}"]["status"]
        if owner == app and not done.get("oldBranchDeleted"):
            # Neon keeps a replaced branch that has children (a NeonBranch made from it).
            expected[done["targetBranchId"]] = f"old branch of NeonRestore {name}"
    deleted_branches = set(world.deleted["branch"].values())
    for branch in branches:
        if branch["id"] in expected:
            continue
        if branch["name"] in deleted_branches:
            found.leaked.append(f"branch {branch['id']} ({branch['name']})")
        elif branch["name"] not in mine:
            found.orphaned.append(f"branch {branch['id']} ({branch['name']}) of {app}")
    for endpoint in neon.get(f"/projects/{project_id}/endpoints")["endpoints"]:
        if endpoint["id"] not in endpoints_wanted:
            found.orphaned.append(f"compute {endpoint['id']} on {endpoint['branch_id']} of {app}")
    snapshots = neon.get(f"/projects/{project_id}/snapshots")["snapshots"]
    wanted_snaps = [n for n, a in world.live["snapshot"].items() if a == app]
    for name in wanted_snaps:
        snap_id = bodies[f"snapshot/{name}"]["status"]["snapshotId"]
        named = [s for s in snapshots if s["name"] == name]
        if not any(s["id"] == snap_id for s in named):
            found.lost.append(f"snapshot of NeonSnapshot {name} ({snap_id})")
        found.duplicated += [
            f"snapshot {s['id']} (twin for {name})" for s in named if s["id"] != snap_id
        ]
    deleted_snaps = set(world.deleted["snapshot"].values())
    for snap in snapshots:
        if snap["name"] in wanted_snaps:
            continue
        where = found.leaked if snap["name"] in deleted_snaps else found.orphaned
        where.append(f"snapshot {snap['id']} ({snap['name']}) of {app}")


@contextlib.contextmanager
def seeded(rerun: str, doing: str) -> Iterator[None]:
    """Failures while ``doing`` name the seed that reproduces them."""
    try:
        yield
    except Exception as error:
        raise AssertionError(f"{doing}: {type(error).__name__}: {error} ({rerun})") from error


@pytest.fixture
def faulty(local_stack: Any) -> Iterator[Callable[[bool], None]]:
    """Switch the emulator's random 503/423 on (True) or off (False); off at teardown."""
    admin = local_stack.emulator.api_url.rsplit("/api/v2", 1)[0] + "/admin/faults"

    def switch(on: bool) -> None:
        httpx.put(admin, json={**CALM, **(FAULTS if on else {})}).raise_for_status()

    try:
        yield switch
    finally:
        switch(False)


@pytest.mark.parametrize(
    "size",
    [pytest.param(CI, id="ci"), pytest.param(NIGHTLY, id="nightly", marks=pytest.mark.nightly)],
)
def test_operator_killed_at_random_moments_loses_duplicates_and_leaks_nothing(
    size: Size, neon, start_operator, apps_in, make_namespace, faulty
) -> None:
    seed = int(os.environ.get("NEON_CRASH_SEED") or random.SystemRandom().randrange(10**6))
    rerun = f"seed {seed}: rerun with NEON_CRASH_SEED={seed}"
    print(f"crash loop {rerun}")
    began = time.monotonic()
    loop_namespace = make_namespace("crashloop-")
    apps = apps_in(loop_namespace)
    world = World(
        apps,
        {
            "app": Kind(apps, "NeonAppDatabase", "neonappdatabases"),
            "branch": Kind(apps, "NeonBranch", "neonbranches"),
            "snapshot": Kind(apps, "NeonSnapshot", "neonsnapshots"),
            "restore": Kind(apps, "NeonRestore", "neonrestores"),
        },
    )
    steps = scenario(random.Random(seed), size.apps)
    first, _ = neon.requests_after(0)
    faulty(True)
    killer = Killer(
        lambda log, env: start_operator([loop_namespace], log, env, args=FAST_LEASE),
        size.kills,
        seed + 1,
    )
    killer.start()
    pace = random.Random(seed + 2)
    # Spread the steps over the killer's run (~8 s a kill) so that kills land among creates,
    # restores and deletes all along, not after them.
    gap = min(6.0, size.kills * 8.0 / len(steps))
    try:
        for step in steps:
            with seeded(rerun, f"step {step.key}"):
                act(world, step)
            time.sleep(pace.uniform(0.0, 2 * gap))
    except BaseException:
        killer.stopping.set()
        raise
    finally:
        killer.join(timeout=size.kills * 120)
        killer.stopping.set()
    assert killer.error is None, f"killer failed: {killer.error!r} ({rerun})"
    assert killer.kills == size.kills, f"{killer.kills} kills ({rerun})"
    _, answered = neon.requests_after(first)
    faults = sum(1 for r in answered if r["status"] in (423, 503))

    churned = time.monotonic()
    with seeded(rerun, "converging after the last restart"):
        bodies = converge(world)
    settled = time.monotonic()
    faulty(False)
    found = audit(world, bodies, neon)
    broken: list[str] = []
    for kind in ("app", "branch"):
        for name in world.live[kind]:
            secret = apps.secret(f"{name}-neon")
            try:
                assert sql(secret, "SELECT 1") == [(1,)]
            except Exception as error:  # any way a Secret fails to connect counts
                broken.append(f"Secret {name}-neon: {type(error).__name__}")
    for owner, want in world.rows.items():
        table = sql(apps.secret(f"{owner}-neon"), "SELECT x FROM t ORDER BY x")
        if [row[0] for row in table] != want:
            broken.append(f"{owner} holds rows {table}, not {want}")
    for name, rows in world.inspected.items():
        if rows != [1]:
            broken.append(f"NeonRestore {name}'s inspect Secret showed rows {rows}, not [1]")
        if name in world.live["restore"] and apps.secret(f"{name}-inspect") is not None:
            found.leaked.append(f"Secret {name}-inspect of finalized NeonRestore {name}")
    assert killer.current.popen.poll() is None, f"last operator exited ({rerun})"

    c = world.counts
    print(
        f"crash-loop seed={seed} kills={killer.kills} "
        f"hooked={sum(killer.hooked.values())}{dict(killer.hooked)} "
        f"self_exits={len(killer.self_exits)} "
        f"faults={faults} steps={len(steps)} creates={c['creates']} deletes={c['deletes']} "
        f"restores={c['restores']} tier_moves={c['tier_moves']} lost={len(found.lost)} "
        f"duplicated={len(found.duplicated)} orphaned={len(found.orphaned)} "
        f"leaked={len(found.leaked)} unmarked={len(found.unmarked)} broken={len(broken)} "
        f"churn={churned - began:.0f}s settle={settled - churned:.0f}s "
        f"wall={time.monotonic() - began:.0f}s"
    )
    assert found.problems() == {}, f"{found.problems()} ({rerun})"
    assert broken == [], f"{broken} ({rerun})"
    # Under load an operator may miss its renew deadline and exit to restart as a standby: a
    # restart like the others. Any other exit is a crash.
    crashed = [
        f"{op.log}: exit {op.popen.returncode}"
        for op in killer.self_exits
        if op.popen.returncode != 1 or "lost the Lease" not in op.log.read_text()
    ]
    assert crashed == [], f"operators exited on their own: {crashed} ({rerun})"
