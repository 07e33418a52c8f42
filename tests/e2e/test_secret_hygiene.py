"""Secret hygiene (#12): every flow at log level DEBUG, then a scan of everything the operator
writes where people and tools look -- its log, Events, the custom resources in full (status,
conditions, labels, kopf's annotations) and ``/metrics`` -- for every secret it handled.

An operator of its own serves a private namespace and two private NeonConfigs (one with a fresh
API key, one with a key Neon rejects), so its log holds this test's flows only. The flows: a
NeonConfig accepted and one rejected, NeonAppDatabases created (free tier, Neon Auth with a
custom OAuth client secret, the Data API), moved to the paid tier with new compute settings and a
rotated password at once, adopted from an existing project, refused a Secret it does not own and
then adopting it, its Secret edited and repaired; a NeonBranch with its own Neon Auth and Data
API; a NeonSnapshot, a NeonRestore and a NeonSnapshotSchedule; the OAuth client secret rotated,
once while Neon answers with a 400 that quotes the request body (emulator fault injection), as
Neon's schema validation does; users signed up for JWTs; then everything deleted.

The secrets: the API keys, every value of every Secret in the namespace but the public ones
(passwords, connection URIs, SDK keys, OAuth client secrets, a foreign Secret's key), every
password the emulator reveals for the roles, the passwords rotated away, users' JWTs. Each is
searched for plain, percent-encoded and base64-encoded (:mod:`neon_operator.testing.leaks`);
there must be no hit.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from neon_operator.testing import leaks

pytestmark = pytest.mark.e2e

GROUP, VERSION = "neon.operator.dev", "v1alpha1"
TIMEOUT = 150.0
ADOPT = "neon.operator.dev/adopt"
PLURALS = {
    "NeonAppDatabase": "neonappdatabases",
    "NeonBranch": "neonbranches",
    "NeonSnapshot": "neonsnapshots",
    "NeonRestore": "neonrestores",
    "NeonSnapshotSchedule": "neonsnapshotschedules",
}
PUBLIC_KEYS = frozenset(
    {
        "PGHOST",
        "PGHOST_UNPOOLED",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGOPTIONS",
        "NEON_AUTH_BASE_URL",
        "NEXT_PUBLIC_NEON_AUTH_URL",
        "NEON_AUTH_JWKS_URL",
        "NEON_DATA_API_URL",
        "NEXT_PUBLIC_STACK_PROJECT_ID",
    }
)
"""Secret keys whose values are not secret (hosts, names, public URLs, ids): status may show
them. Every other value of every Secret in the namespace is searched for."""


def wait_for(what: str, check: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.25)
    return found


class Cluster:
    """The private namespace: objects of every kind of the operator (conftest's ``Objects``),
    and its Secrets."""

    def __init__(self, apps: Any, objects_in: Callable[[str, str, str], Any]) -> None:
        self.apps, self.namespace = apps, apps.namespace
        self.core, self.custom = apps.core, apps.objects
        self.kinds = {kind: objects_in(self.namespace, kind, p) for kind, p in PLURALS.items()}

    def create(self, kind: str, name: str, spec: dict[str, Any]) -> None:
        self.kinds[kind].create(name, spec)

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        return self.kinds[kind].get(name)  # type: ignore[no-any-return]

    def patch(self, kind: str, name: str, body: dict[str, Any]) -> None:
        self.kinds[kind].patch(name, body)

    def wait_ready(
        self, kind: str, name: str, status: str = "True", reason: str | None = None
    ) -> dict[str, Any]:
        return dict(self.kinds[kind].wait_condition(name, status, reason))

    def secret(self, name: str) -> dict[str, str] | None:
        return self.apps.secret(name)  # type: ignore[no-any-return]

    def everything(self) -> dict[str, dict[str, Any]]:
        """Every object of the operator's namespaced kinds, in full, by ``Kind/name``."""
        found = {}
        for kind, plural in PLURALS.items():
            listed = self.custom.list_namespaced_custom_object(
                GROUP, VERSION, self.namespace, plural
            )
            for item in listed["items"]:
                found[f"{kind}/{item['metadata']['name']}"] = dict(item)
        return found

    def snapshot(self, config_names: dict[str, str]) -> dict[str, dict[str, Any]]:
        """:meth:`everything`, and the NeonConfigs ``config_names`` in full."""
        found = self.everything()
        listed = self.custom.list_cluster_custom_object(GROUP, VERSION, "neonconfigs")
        for item in listed["items"]:
            if item["metadata"]["name"] in config_names.values():
                found[f"NeonConfig/{item['metadata']['name']}"] = dict(item)
        return found

    def secrets(self) -> dict[str, dict[str, str]]:
        listed = self.core.list_namespaced_secret(self.namespace)
        return {
            item.metadata.name: {
                k: base64.b64decode(v).decode() for k, v in (item.data or {}).items()
            }
            for item in listed.items
        }


def ready(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    for found in (obj or {}).get("status", {}).get("conditions", []):
        if found["type"] == "Ready":
            return dict(found)
    return None


class Collected:
    """The secrets seen so far (label → value) and the texts to scan (where → text)."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.texts: dict[str, str] = {}
        self.snapshots = 0

    def secret(self, kind: str, where: str, value: str | None) -> None:
        if value and value not in self.secrets.values():
            label, number = f"{kind}: {where}", 1
            while label in self.secrets:  # e.g. a Secret's value before and after a rotation
                number += 1
                label = f"{kind}: {where} #{number}"
            self.secrets[label] = value

    def secret_data(self, name: str, data: dict[str, str]) -> None:
        for key, value in data.items():
            if key in PUBLIC_KEYS:
                continue
            kind = "password" if "PASSWORD" in key else "secret value"
            if "://" in value:
                kind = "connection URI"
                self.secret("password", f"in {name}.{key}", urllib.parse.urlsplit(value).password)
            elif value.startswith(("pck_", "ssk_")):
                kind = "auth SDK key"
            self.secret(kind, f"{name}.{key}", value)

    def objects(self, stage: str, objects: dict[str, dict[str, Any]]) -> None:
        for name, obj in objects.items():
            self.texts[f"{name} ({stage})"] = json.dumps(obj)
            self.snapshots += 1

    def counts(self) -> dict[str, int]:
        kinds: dict[str, int] = {}
        for label in self.secrets:
            kind = label.split(":", 1)[0]
            kinds[kind] = kinds.get(kind, 0) + 1
        return kinds


@pytest.fixture
def faults(neon: Any) -> Iterator[Callable[[dict[str, float]], None]]:
    """Set the emulator's injected faults; they are turned off again afterwards."""
    admin = str(neon.http.base_url).rstrip("/").removesuffix("/api/v2") + "/admin/faults"

    def put(knobs: dict[str, float]) -> None:
        neon.http.put(admin, json=knobs).raise_for_status()

    yield put
    put({"echo_body_probability": 0.0, "error_5xx_probability": 0.0, "locked_probability": 0.0})


def neon_config(name: str, secret: str, namespace: str, neon: Any, api_url: str) -> Any:
    """A NeonConfig for ``namespace`` alone, with the key in Secret ``secret`` there."""
    organizations = neon.organizations
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "NeonConfig",
        "metadata": {"name": name},
        "spec": {
            "apiUrl": api_url,
            "apiKeySecretRef": {"namespace": namespace, "name": secret},
            "organizations": {"free": organizations["sponsored"], "paid": organizations["paid"]},
            "allowedNamespaces": [namespace],
        },
    }


def test_every_flow_at_debug_leaves_no_secret_in_logs_events_objects_or_metrics(
    local_stack: Any,
    neon: Any,
    make_namespace: Callable[[str], str],
    start_operator: Callable[..., Any],
    apps_in: Callable[[str], Any],
    objects_in: Callable[[str, str, str], Any],
    faults: Callable[[dict[str, float]], None],
    app_client: Any,
) -> None:
    namespace = make_namespace("hygiene-")
    cluster = Cluster(apps_in(namespace), objects_in)
    core, custom = cluster.core, cluster.custom
    collected = Collected()
    collected.secret("API key", "the emulator's bootstrap key", local_stack.emulator.api_key())

    # -- two NeonConfigs of our own: a fresh key, and one Neon rejects ---------------------
    created_key = neon.post("/api_keys", {"key_name": namespace})
    api_key = created_key["key"]
    bogus_key = "napi_" + secrets.token_hex(30)
    collected.secret("API key", "a fresh key", api_key)
    collected.secret("API key", "a rejected key", bogus_key)
    for name, key in (("neon-api-key", api_key), ("bogus-api-key", bogus_key)):
        core.create_namespaced_secret(
            namespace, {"metadata": {"name": name}, "stringData": {"apiKey": key}}
        )
    config_names = {"good": namespace, "bogus": f"{namespace}-bogus"}
    for which, secret_name in (("good", "neon-api-key"), ("bogus", "bogus-api-key")):
        api_url = local_stack.emulator.api_url
        body = neon_config(config_names[which], secret_name, namespace, neon, api_url)
        custom.create_cluster_custom_object(GROUP, VERSION, "neonconfigs", body)
    config = {"configRef": {"name": config_names["good"]}}
    operator = start_operator([namespace], "hygiene.log", args=("--neon-resync-interval", "1"))
    try:
        _flows(cluster, collected, neon, config, config_names, faults, app_client)
        for name in config_names.values():  # deleted while the operator watches
            custom.delete_cluster_custom_object(GROUP, VERSION, "neonconfigs", name)
        wait_for("the NeonConfigs deleted", lambda: not _neon_configs(custom, config_names))
        collected.texts["/metrics"] = operator.metrics()
    finally:
        operator.stop()
        for name in _neon_configs(custom, config_names):
            custom.delete_cluster_custom_object(GROUP, VERSION, "neonconfigs", name)
        neon.http.delete(f"/api_keys/{created_key['id']}")

    log = operator.log.read_bytes()
    collected.texts["operator log"] = log.decode(errors="replace")
    events = [
        *core.list_namespaced_event(namespace).items,
        *(
            event
            for event in core.list_namespaced_event("default").items
            if event.involved_object.name in config_names.values()
        ),
    ]
    for event in events:
        collected.texts[f"Event {event.metadata.namespace}/{event.metadata.name}"] = json.dumps(
            event.to_dict(), default=str
        )

    found = leaks.find(collected.secrets, collected.texts)
    print(
        f"scanned {len(log)} bytes of DEBUG log, {len(events)} Events, "
        f"{collected.snapshots} object snapshots, "
        f"{len(collected.texts['/metrics'])} bytes of /metrics "
        f"for {len(collected.secrets)} secrets: {collected.counts()}"
    )
    print("secrets searched for:", *sorted(collected.secrets), sep="\n  ")
    assert len(events) > 10
    assert collected.snapshots > 10
    assert len(log) > 100_000
    distinct = sorted({f"{leak.label} ({leak.form}) in {leak.where}" for leak in found})
    assert distinct[:30] == [], f"{len(found)} hits, {len(distinct)} distinct"


def _neon_configs(custom: Any, names: dict[str, str]) -> list[str]:
    """Which of the NeonConfigs ``names`` still exist."""
    listed = custom.list_cluster_custom_object(GROUP, VERSION, "neonconfigs")["items"]
    return [obj["metadata"]["name"] for obj in listed if obj["metadata"]["name"] in names.values()]


def _flows(
    cluster: Cluster,
    collected: Collected,
    neon: Any,
    config: dict[str, Any],
    config_names: dict[str, str],
    faults: Callable[[dict[str, float]], None],
    app_client: Any,
) -> None:
    namespace, core = cluster.namespace, cluster.core
    collected.secret("user password", "of every user signed up", "correct horse")
    oauth = [secrets.token_urlsafe(24) for _ in range(3)]
    for number, value in enumerate(oauth):
        collected.secret("OAuth client secret", f"github, version {number + 1}", value)
    core.create_namespaced_secret(
        namespace, {"metadata": {"name": "github-oauth"}, "stringData": {"secret": oauth[0]}}
    )
    foreign = secrets.token_urlsafe(32)
    collected.secret("secret value", "a foreign Secret's key", foreign)
    core.create_namespaced_secret(
        namespace, {"metadata": {"name": "squatted"}, "stringData": {"tls.key": foreign}}
    )
    existing = neon.post(
        "/projects",
        {"project": {"name": f"{namespace}-legacy", "org_id": neon.organizations["paid"]}},
    )
    for uri in existing["connection_uris"]:
        collected.secret("connection URI", "of the project to adopt", uri["connection_uri"])
        password = urllib.parse.urlsplit(uri["connection_uri"]).password
        collected.secret("password", "of the project to adopt", password)

    # -- creation: free tier with auth and the Data API; adoption; a conflict; a bad key ---
    github = {
        "id": "github",
        "clientId": "gh-client",
        "clientSecretRef": {"name": "github-oauth", "key": "secret"},
    }
    cluster.create(
        "NeonAppDatabase",
        "main",
        {
            **config,
            "tier": "free",
            "compute": {"minCu": 0.25, "maxCu": 1},
            "auth": {"oauth": [github, {"id": "google"}], "allowLocalhost": True},
            "dataApi": {"authProvider": "neon_auth"},
        },
    )
    cluster.create("NeonAppDatabase", "mover", {**config, "tier": "free"})
    cluster.create(
        "NeonAppDatabase",
        "adopter",
        {**config, "tier": "paid", "adoptProjectId": existing["project"]["id"]},
    )
    cluster.create(
        "NeonAppDatabase", "squatter", {**config, "connectionSecret": {"name": "squatted"}}
    )
    cluster.create("NeonAppDatabase", "rejected", {"configRef": {"name": config_names["bogus"]}})
    cluster.wait_ready("NeonAppDatabase", "rejected", "False", "ApiKeyRejected")
    cluster.wait_ready("NeonAppDatabase", "squatter", "False", "SecretConflict")
    for name in ("main", "mover", "adopter"):
        cluster.wait_ready("NeonAppDatabase", name)
    collected.objects("created", cluster.snapshot(config_names))
    for name, data in cluster.secrets().items():
        collected.secret_data(name, data)

    # -- changes, all at once: tier + compute + password rotation; adoption of the Secret; a
    #    branch with its own auth; snapshot, restore, schedule; users; an edited Secret ------
    cluster.patch(
        "NeonAppDatabase",
        "mover",
        {"spec": {"tier": "paid", "compute": {"maxCu": 2}, "passwordRotation": "r1"}},
    )
    core.patch_namespaced_secret(
        "squatted", namespace, {"metadata": {"annotations": {ADOPT: "NeonAppDatabase/squatter"}}}
    )
    cluster.create(
        "NeonBranch", "preview", {"appDatabaseRef": {"name": "main"}, "auth": {}, "dataApi": {}}
    )
    cluster.create("NeonSnapshot", "checkpoint", {"appDatabaseRef": {"name": "adopter"}})
    cluster.create(
        "NeonSnapshotSchedule",
        "minutely",
        {"appDatabaseRef": {"name": "adopter"}, "schedule": "* * * * *", "keep": 1},
    )
    auth = cluster.secret("main-neon-auth")
    assert auth is not None
    collected.secret("JWT", "ann", app_client.sign_up(auth["NEON_AUTH_BASE_URL"], "ann@x.org")[1])
    guessed = secrets.token_urlsafe(16)
    collected.secret("password", "written over the Secret by hand", guessed)
    original = cluster.secret("main-neon")
    core.patch_namespaced_secret("main-neon", namespace, {"stringData": {"PGPASSWORD": guessed}})
    wait_for("the edited Secret is repaired", lambda: cluster.secret("main-neon") == original)

    cluster.wait_ready("NeonSnapshot", "checkpoint")
    cluster.create(
        "NeonRestore",
        "rollback",
        {"snapshotRef": {"name": "checkpoint"}, "oldBranchPolicy": "Delete"},
    )
    cluster.wait_ready("NeonAppDatabase", "squatter")
    cluster.wait_ready("NeonBranch", "preview")
    preview = cluster.secret("preview-neon-auth")
    assert preview is not None
    collected.secret(
        "JWT", "bob", app_client.sign_up(preview["NEON_AUTH_BASE_URL"], "bob@x.org")[1]
    )
    moved = cluster.wait_ready("NeonAppDatabase", "mover")
    assert moved["status"]["tier"] == "paid"
    assert moved["status"]["passwordRotation"] == "r1"
    cluster.wait_ready("NeonRestore", "rollback", "True", "Restored")

    # The OAuth client secret rotated, reaching Neon.
    main = (cluster.get("NeonAppDatabase", "main") or {})["status"]
    project, branch = main["projectId"], main["defaultBranchId"]
    providers = f"/projects/{project}/branches/{branch}/auth/oauth_providers"

    def github_secret() -> str | None:
        found = {p["id"]: p for p in neon.get(providers)["providers"]}
        return found.get("github", {}).get("client_secret")

    core.patch_namespaced_secret("github-oauth", namespace, {"stringData": {"secret": oauth[1]}})
    wait_for("GitHub's client secret rotated", lambda: github_secret() == oauth[1])

    # A scheduled snapshot (within a minute of the schedule's creation), then the schedule goes.
    def scheduled() -> bool:
        return any(
            name.startswith("NeonSnapshot/minutely")
            and ready(obj) is not None
            and ready(obj)["status"] == "True"  # type: ignore[index]
            for name, obj in cluster.everything().items()
        )

    wait_for("a scheduled snapshot", scheduled, timeout=120)
    collected.objects("changed", cluster.snapshot(config_names))
    for name, data in cluster.secrets().items():
        collected.secret_data(name, data)
    _reveal_passwords(cluster, neon, collected)
    cluster.custom.delete_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURALS["NeonSnapshotSchedule"], "minutely"
    )

    # -- Neon refuses the next rotation with a 400 that quotes the body (client secret) -------
    faults({"echo_body_probability": 1.0})
    try:
        core.patch_namespaced_secret(
            "github-oauth", namespace, {"stringData": {"secret": oauth[2]}}
        )
        cluster.wait_ready("NeonAppDatabase", "main", "False", "NeonRejected")
    finally:
        faults({"echo_body_probability": 0.0})
    collected.objects("refused", cluster.snapshot(config_names))

    # -- deletes (the app whose key Neon rejected keeps whatever it may have made) ----------
    cluster.patch("NeonAppDatabase", "rejected", {"spec": {"deletionPolicy": "Retain"}})
    for kind in ("NeonRestore", "NeonSnapshot", "NeonBranch", "NeonAppDatabase"):
        for name in [n.split("/", 1)[1] for n in cluster.everything() if n.startswith(kind + "/")]:
            cluster.custom.delete_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURALS[kind], name
            )
    wait_for("every object deleted", lambda: cluster.everything() == {})


def _reveal_passwords(cluster: Cluster, neon: Any, collected: Collected) -> None:
    """Every role password the emulator holds for the namespace's projects and branches."""
    for name, obj in cluster.everything().items():
        status = obj.get("status", {})
        project = status.get("projectId")
        branch = status.get("branchId") or status.get("defaultBranchId")
        if not name.startswith(("NeonAppDatabase/", "NeonBranch/")) or not project or not branch:
            continue
        roles = neon.get(f"/projects/{project}/branches/{branch}/roles")["roles"]
        for role in roles:
            revealed = neon.http.get(
                f"/projects/{project}/branches/{branch}/roles/{role['name']}/reveal_password"
            )
            if revealed.status_code == 200:
                collected.secret("password", f"revealed for {name}", revealed.json()["password"])
