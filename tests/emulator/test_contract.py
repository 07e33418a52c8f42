"""Contract: the emulator's responses validate against Neon's official OpenAPI file.

The spec is ``public-v2-for-users.gen.yaml`` from npm ``@neondatabase/api-client@2.7.3``, fetched
with ``npm pack`` into ``~/.cache/neon-operator/spec/`` and checked against its known sha256 (no
npm means a loud failure, not a skip). Two tests use it:

* two scenarios (Neon Auth and the Data API apart) that walk every served operation with real
  ids and validate each response (success and error bodies) against the spec's schema for that
  status; they fail when a served operation is not reached;
* schemathesis-generated requests for the same operations (a bounded number of examples each),
  with ids from a live project substituted into paths, checked for schema conformance, content
  type and the absence of 5xx.

"Served" is read from the emulator's own route table (``neon_emulator.app.API_ROUTES``), so a new
route is checked the moment it exists. A third test reports ``operations served / in spec`` in the
terminal summary and checks that ``emulator/README.md`` lists exactly the operations not served.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks
from schemathesis.specs.openapi.checks import (  # type: ignore[import-untyped]
    content_type_conformance,
    response_schema_conformance,
)

from neon_emulator import app

pytestmark = pytest.mark.integration

PACKAGE = "@neondatabase/api-client@2.7.3"
SPEC_FILE = "public-v2-for-users.gen.yaml"
SPEC_SHA256 = "dacf72ea2d63110b3694c705313e0b2104e9652ae1be3fc01ceebe7b17059c44"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "neon-operator" / "spec"

EXAMPLES = 15
"""Generated requests per operation: enough to hit validation and success paths, quick to run."""

CONFIG_EXAMPLES = 5
"""For the Neon Auth and Data API operations: mostly small configuration objects on one
integration, which the scenario walks field by field; fewer examples keep the suite's time."""

ROUTES = sorted({f"{r.method} {r.path}" for table in app.API_ROUTES for r in table})
"""Every ``METHOD /path`` the emulator serves under ``/api/v2``."""

NOT_FUZZED = ["DELETE /api_keys/{key_id}", "DELETE /organizations/{org_id}/api_keys/{key_id}"]
"""A generated key id could revoke the key the fuzzing itself uses."""

README = Path(__file__).parents[2] / "emulator" / "README.md"


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def operation_ids(raw: dict[str, Any]) -> dict[str, str]:
    """``METHOD /path-shape`` → operationId for every operation in the spec."""
    found = {}
    for path, operations in raw["paths"].items():
        for method, operation in operations.items():
            if isinstance(operation, dict) and "operationId" in operation:
                found[f"{method.upper()} {_shape(path)}"] = operation["operationId"]
    return found


def served(raw: dict[str, Any]) -> set[str]:
    """operationIds of the spec the emulator has a route for."""
    ids = operation_ids(raw)
    unknown = [route for route in ROUTES if _spaced(route) not in ids]
    assert not unknown, f"emulator routes that are not in Neon's spec: {unknown}"
    return {ids[_spaced(route)] for route in ROUTES}


def _spaced(route: str) -> str:
    method, _, path = route.partition(" ")
    return f"{method} {_shape(path)}"


def in_neon_auth_family(route: str) -> bool:
    """Neon Auth and Data API operations (``…/auth…`` but not ``GET /auth``, ``…/data-api/…``):
    their own scenario, fewer generated examples, counted apart."""
    return "/data-api/" in route or ("/auth" in route and not route.endswith(" /auth"))


def neon_auth_family(raw: dict[str, Any]) -> set[str]:
    return {op for route, op in operation_ids(raw).items() if in_neon_auth_family(route)}


def neon_spec() -> Path:
    """The official spec, from the npm cache dir or freshly packed; fails loudly without npm."""
    target = CACHE / SPEC_FILE
    if not target.exists() or hashlib.sha256(target.read_bytes()).hexdigest() != SPEC_SHA256:
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is required to fetch the Neon OpenAPI spec (npm pack " + PACKAGE + ")")
        CACHE.mkdir(parents=True, exist_ok=True)
        packed = (
            subprocess.run(
                [npm, "pack", PACKAGE, "--silent"],
                cwd=CACHE,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        with tarfile.open(CACHE / packed) as archive:
            member = archive.getmember(f"package/{SPEC_FILE}")
            extracted = archive.extractfile(member)
            assert extracted is not None
            target.write_bytes(extracted.read())
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    assert digest == SPEC_SHA256, f"unexpected spec content (sha256 {digest})"
    return target


@pytest.fixture(scope="module")
def contract_emulator(emulator_factory: Any) -> Any:
    return emulator_factory("--operation-latency", "0")


@pytest.fixture(scope="module")
def raw_spec() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(neon_spec().read_text())
    return loaded


@pytest.fixture(scope="module")
def contract_schema(contract_emulator: Any, raw_spec: dict[str, Any]) -> Any:
    raw = {**raw_spec, "servers": [{"url": contract_emulator.api_url}]}
    return schemathesis.openapi.from_dict(raw).include(operation_id=sorted(served(raw_spec)))


class Validator:
    """Validates every response an ``httpx`` client receives against the spec operation it hit."""

    def __init__(self, schema: Any, api_url: str) -> None:
        self._prefix = httpx.URL(api_url).path.rstrip("/")
        self._operations: list[tuple[re.Pattern[str], str, Any]] = []
        for result in schema.get_all_operations():
            operation = result.ok()
            pattern = "/".join(
                "[^/]+" if part.startswith("{") else re.escape(part)
                for part in operation.path.split("/")
            )
            self._operations.append(
                (re.compile(f"^{pattern}$"), operation.method.upper(), operation)
            )
        self.seen: dict[str, set[int]] = {}

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        path = response.request.url.path.removeprefix(self._prefix)
        method = response.request.method
        matches = [
            op for regex, verb, op in self._operations if verb == method and regex.match(path)
        ]
        assert matches, f"no served operation matches {method} {path}"
        operation = min(matches, key=lambda op: op.path.count("{"))
        operation.validate_response(response)
        operation_id = operation.definition.raw["operationId"]
        self.seen.setdefault(operation_id, set()).add(response.status_code)


def validated_client(emu: Any, validate: Validator) -> httpx.Client:
    """A client on the emulator's API whose every response ``validate`` checks."""
    return httpx.Client(
        base_url=emu.api_url,
        headers={"Authorization": f"Bearer {emu.api_key}"},
        event_hooks={"response": [validate]},
        timeout=30,
    )


def _settle(api: httpx.Client, project_id: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ops = api.get(f"/projects/{project_id}/operations", params={"limit": 1000}).json()
        if all(
            op["status"] in {"finished", "skipped", "cancelled", "failed"}
            for op in ops["operations"]
        ):
            return
        time.sleep(0.01)
    raise AssertionError("operations did not finish")


def _walk_organization(api: httpx.Client, emu: Any, paid: str, sponsored: str) -> None:
    """Members and invitations, billing, VPC endpoints of an organization."""
    org = f"/organizations/{paid}"
    api.post(
        f"{org}/invitations", json={"invitations": [{"email": "pat@example.com", "role": "member"}]}
    )
    api.get(f"{org}/invitations")
    with emu.admin() as admin:
        admin.post("/admin/users", json={"email": "pat@example.com"}).raise_for_status()
    members = api.get(f"{org}/members", params={"sort_by": "email", "limit": 1}).json()
    api.get(f"{org}/members", params={"cursor": members["pagination"]["next"]})
    listed = api.get(f"{org}/members").json()["members"]
    pat = next(m["member"]["id"] for m in listed if m["user"]["email"] == "pat@example.com")
    api.get(f"{org}/members/{pat}")
    api.patch(f"{org}/members/{pat}", json={"role": "admin"})
    api.delete(f"{org}/members/{pat}")
    api.get(f"{org}/members/{pat}")

    limit = f"{org}/billing/spending_limit"
    api.get(limit)
    api.put(limit, json={"spending_limit_cents": 10_000})
    api.delete(limit)
    api.get(f"/organizations/{sponsored}/billing/spending_limit")

    region = f"{org}/vpc/region/aws-us-east-2/vpc_endpoints"
    api.post(f"{region}/vpce-0123456789abcdef0", json={"label": "ci"})
    api.post(f"{region}/vpce-0fedcba987654321f", json={"label": "gone"})
    api.get(f"{org}/vpc/vpc_endpoints")
    api.get(region)
    api.get(f"{region}/vpce-0123456789abcdef0")
    api.delete(f"{region}/vpce-0fedcba987654321f")
    api.post(f"{region}/vpce-0fedcba987654321f", json={"label": "again"})


def _walk_project_extras(api: httpx.Client, emu: Any, pid: str, main: str, sponsored: str) -> None:
    """Sharing, JWKS, VPC restrictions, backup schedules, platform services, transfer requests."""
    with emu.admin() as admin:
        sam = admin.post("/admin/users", json={"email": "sam@example.com"}).json()
    api.get(f"/projects/{pid}/permissions")
    granted = api.post(f"/projects/{pid}/permissions", json={"email": "sam@example.com"}).json()
    with emu.client(key=sam["api_key"]) as as_sam:
        as_sam.event_hooks["response"] = api.event_hooks["response"]
        as_sam.get("/projects/shared")
        as_sam.get(f"/projects/{pid}")
    api.delete(f"/projects/{pid}/permissions/{granted['id']}")

    jwks = api.post(
        f"/projects/{pid}/jwks",
        json={"jwks_url": "https://auth.example.com/.well-known/jwks.json", "provider_name": "x"},
    ).json()["jwks"]
    api.get(f"/projects/{pid}/jwks")
    api.delete(f"/projects/{pid}/jwks/{jwks['id']}")

    restriction = f"/projects/{pid}/vpc_endpoints/vpce-0123456789abcdef0"
    api.post(restriction, json={"label": "ci"})
    api.get(f"/projects/{pid}/vpc_endpoints")
    api.delete(restriction)

    schedule = f"/projects/{pid}/branches/{main}/backup_schedule"
    api.get(schedule)
    api.put(schedule, json={"schedule": [{"frequency": "daily", "hour": 3}]})
    api.get(f"/projects/{pid}/branches/{main}/schema", params={"db_name": "neondb"})  # 422
    api.get(
        f"/projects/{pid}/branches/{main}/compare_schema",
        params={"db_name": "neondb", "base_branch_id": main, "base_lsn": "0/1"},
    )
    api.get(f"/projects/{pid}/branches/{main}/storage")
    api.get(f"/projects/{pid}/available_preload_libraries")
    api.get(f"/projects/{pid}/advisors", params={"min_severity": "WARN"})
    api.get(f"/projects/{pid}/branches/{main}/ai_gateway")

    claimed = api.post(
        "/projects", json={"project": {"org_id": emu.organizations["paid"], "name": "claim"}}
    ).json()["project"]["id"]
    ticket = api.post(f"/projects/{claimed}/transfer_requests", json={"ttl_seconds": 60}).json()
    api.put(f"/projects/{claimed}/transfer_requests/{ticket['id']}", json={"org_id": sponsored})
    api.put(f"/projects/{claimed}/transfer_requests/{ticket['id']}", json={"org_id": sponsored})


def test_every_response_of_a_full_scenario_matches_the_spec(
    contract_emulator: Any, contract_schema: Any, raw_spec: dict[str, Any]
) -> None:
    emu = contract_emulator
    validate = Validator(contract_schema, emu.api_url)
    paid, sponsored = emu.organizations["paid"], emu.organizations["sponsored"]
    api = validated_client(emu, validate)
    with api:
        api.get("/users/me")
        api.get("/users/me/organizations")
        api.get("/auth")
        api.get("/regions")
        api.get(f"/organizations/{paid}")
        key = api.post("/api_keys", json={"key_name": "contract"}).json()
        api.get("/api_keys")
        api.delete(f"/api_keys/{key['id']}")
        org_key = api.post(f"/organizations/{paid}/api_keys", json={"key_name": "c"}).json()
        api.get(f"/organizations/{paid}/api_keys")
        api.delete(f"/organizations/{paid}/api_keys/{org_key['id']}")
        _walk_organization(api, emu, paid, sponsored)

        created = api.post(
            "/projects", json={"project": {"org_id": paid, "name": "contract"}}
        ).json()
        pid, main = created["project"]["id"], created["branch"]["id"]
        endpoint = created["endpoints"][0]["id"]
        op_id = created["operations"][0]["id"]
        api.post(f"/projects/{pid}/branches", json={})  # 423 while provisioning
        _settle(api, pid)
        api.get("/projects", params={"org_id": paid, "limit": 1, "search": "contract"})
        api.get("/projects/shared")
        api.get(f"/projects/{pid}")
        api.get(f"/projects/{pid}/operations")
        api.get(f"/projects/{pid}/operations/{op_id}")
        api.patch(f"/projects/{pid}", json={"project": {"name": "contract-2"}})
        api.get(
            f"/projects/{pid}/connection_uri",
            params={"database_name": "neondb", "role_name": "neondb_owner", "pooled": "true"},
        )
        _walk_project_extras(api, emu, pid, main, sponsored)

        dev = api.post(
            f"/projects/{pid}/branches",
            json={"branch": {"name": "dev"}, "endpoints": [{"type": "read_write"}]},
        ).json()["branch"]["id"]
        _settle(api, pid)
        api.get(f"/projects/{pid}/branches", params={"limit": 1})
        api.get(f"/projects/{pid}/branches/count")
        api.get(f"/projects/{pid}/branches/{dev}")
        api.patch(f"/projects/{pid}/branches/{dev}", json={"branch": {"name": "dev-2"}})
        api.get(f"/projects/{pid}/branches/{dev}/endpoints")
        api.post(
            f"/projects/{pid}/branches/{dev}/restore",
            json={"source_branch_id": main, "preserve_under_name": "dev-old"},
        )
        _settle(api, pid)

        roles = f"/projects/{pid}/branches/{main}/roles"
        api.post(roles, json={"role": {"name": "app"}})
        _settle(api, pid)
        api.get(roles)
        api.get(f"{roles}/app")
        api.get(f"{roles}/app/reveal_password")
        api.post(f"{roles}/app/reset_password")
        _settle(api, pid)
        dbs = f"/projects/{pid}/branches/{main}/databases"
        api.post(dbs, json={"database": {"name": "shop", "owner_name": "app"}})
        _settle(api, pid)
        api.get(dbs)
        api.get(f"{dbs}/shop")
        api.patch(f"{dbs}/shop", json={"database": {"owner_name": "neondb_owner"}})
        _settle(api, pid)
        api.delete(f"{dbs}/shop")
        _settle(api, pid)
        api.delete(f"{roles}/app")
        api.delete(f"{roles}/app")
        _settle(api, pid)

        replica = api.post(
            f"/projects/{pid}/endpoints",
            json={"endpoint": {"branch_id": main, "type": "read_only"}},
        ).json()["endpoint"]["id"]
        _settle(api, pid)
        api.get(f"/projects/{pid}/endpoints")
        api.get(f"/projects/{pid}/endpoints/{endpoint}")
        api.patch(
            f"/projects/{pid}/endpoints/{endpoint}",
            json={"endpoint": {"autoscaling_limit_max_cu": 2}},
        )
        _settle(api, pid)
        api.post(f"/projects/{pid}/endpoints/{endpoint}/restart")
        _settle(api, pid)
        api.post(f"/projects/{pid}/endpoints/{endpoint}/suspend")
        _settle(api, pid)
        api.post(f"/projects/{pid}/endpoints/{endpoint}/start")
        _settle(api, pid)
        api.delete(f"/projects/{pid}/endpoints/{replica}")
        _settle(api, pid)

        snapshot = api.post(
            f"/projects/{pid}/branches/{main}/snapshot", params={"name": "s1"}
        ).json()["snapshot"]["id"]
        _settle(api, pid)
        api.get(f"/projects/{pid}/snapshots")
        api.patch(f"/projects/{pid}/snapshots/{snapshot}", json={"snapshot": {"name": "s2"}})
        restored = api.post(
            f"/projects/{pid}/snapshots/{snapshot}/restore", json={"name": "preview"}
        ).json()["branch"]["id"]
        _settle(api, pid)
        api.post(f"/projects/{pid}/branches/{restored}/finalize_restore", json={})
        _settle(api, pid)
        api.post(
            f"/projects/{pid}/snapshots/{snapshot}/restore",
            json={"finalize_restore": True, "target_branch_id": restored},
        )
        _settle(api, pid)
        api.delete(f"/projects/{pid}/snapshots/{snapshot}")
        _settle(api, pid)
        api.post(f"/projects/{pid}/branches/{dev}/set_as_default")
        api.post(f"/projects/{pid}/branches/{restored}/set_as_default")
        api.delete(f"/projects/{pid}/branches/{dev}")
        _settle(api, pid)
        api.get(f"/projects/{pid}/branches", params={"include_deleted": "true"})
        api.post(f"/projects/{pid}/branches/{dev}/recover")
        api.post(f"/projects/{pid}/branches/{dev}/recover")  # 400: not deleted
        api.delete(f"/projects/{pid}/branches/{dev}", params={"hard_delete": "true"})
        _settle(api, pid)
        api.delete(f"/projects/{pid}/branches/{dev}")
        api.post(f"/projects/{pid}/branches/{dev}/recover")  # 404: deleted permanently

        now = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime())
        earlier = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(time.time() - 7200))
        window = {"from": earlier, "to": now, "granularity": "hourly", "org_id": paid}
        api.get("/consumption_history/projects", params=window)
        api.get(
            "/consumption_history/v2/projects", params={**window, "metrics": "compute_unit_seconds"}
        )
        api.get(
            "/consumption_history/v2/branches",
            params={**window, "metrics": "compute_unit_seconds", "project_ids": pid},
        )
        api.get("/consumption_history/projects", params={**window, "org_id": sponsored})

        api.post(
            f"/organizations/{paid}/projects/transfer",
            json={"destination_org_id": sponsored, "project_ids": [pid]},
        )
        api.delete(f"/projects/{pid}")
        api.post(f"/projects/{pid}/recover")
        api.get("/projects/nope-nope-00000000")

    missing = served(raw_spec) - neon_auth_family(raw_spec) - set(validate.seen)
    assert not missing, f"served operations the scenario does not exercise: {sorted(missing)}"


def test_every_neon_auth_and_data_api_response_matches_the_spec(
    contract_emulator: Any, contract_schema: Any, raw_spec: dict[str, Any]
) -> None:
    emu = contract_emulator
    validate = Validator(contract_schema, emu.api_url)
    api = validated_client(emu, validate)
    with api:
        created = api.post(
            "/projects", json={"project": {"org_id": emu.organizations["paid"], "name": "auth"}}
        ).json()
        pid, main = created["project"]["id"], created["branch"]["id"]
        _settle(api, pid)
        auth = f"/projects/{pid}/branches/{main}/auth"
        legacy = f"/projects/{pid}/auth"
        api.get(auth)  # 404 before enabling
        api.post(auth, json={"auth_provider": "better_auth"})
        api.post(auth, json={"auth_provider": "better_auth"})  # 409
        api.get(auth)
        api.get(f"{legacy}/integrations")
        api.post("/projects/auth/keys", json={"project_id": pid, "auth_provider": "better_auth"})

        api.get(f"{auth}/oauth_providers")
        api.post(f"{auth}/oauth_providers", json={"id": "microsoft"})
        api.patch(
            f"{auth}/oauth_providers/microsoft", json={"client_id": "x", "client_secret": "y"}
        )
        api.delete(f"{auth}/oauth_providers/microsoft")
        api.get(f"{legacy}/oauth_providers")
        api.post(f"{legacy}/oauth_providers", json={"id": "vercel"})
        api.patch(f"{legacy}/oauth_providers/vercel", json={"client_id": "v"})
        api.delete(f"{legacy}/oauth_providers/vercel")

        domain = {"domain": "https://app.example.com", "auth_provider": "better_auth"}
        gone = {"domains": [{"domain": "https://app.example.com"}], "auth_provider": "better_auth"}
        api.post(f"{auth}/domains", json=domain)
        api.get(f"{auth}/domains")
        api.request("DELETE", f"{auth}/domains", json=gone)
        api.post(f"{legacy}/domains", json=domain)
        api.get(f"{legacy}/domains")
        api.request("DELETE", f"{legacy}/domains", json=gone)
        api.post(f"{auth}/domains", json={"domain": "not a url", "auth_provider": "better_auth"})

        user = api.post(f"{auth}/users", json={"email": "a@example.com", "name": "A"}).json()
        api.post(f"{auth}/users", json={"email": "a@example.com"})  # 409
        api.put(f"{auth}/users/{user['id']}/role", json={"roles": ["admin"]})
        api.delete(f"{auth}/users/{user['id']}")
        legacy_user = api.post(
            "/projects/auth/user",
            json={"project_id": pid, "auth_provider": "better_auth", "email": "b@example.com"},
        ).json()
        api.delete(f"{legacy}/users/{legacy_user['id']}")
        api.delete(f"{legacy}/users/{legacy_user['id']}")  # 404

        api.get(f"{auth}/email_and_password")
        api.patch(f"{auth}/email_and_password", json={"require_email_verification": True})
        api.get(f"{auth}/email_provider")
        smtp = {
            "type": "standard", "host": "smtp.example.com", "port": 587, "username": "u",
            "password": "p", "sender_email": "no-reply@example.com", "sender_name": "App",
        }  # fmt: skip
        api.patch(f"{auth}/email_provider", json=smtp)
        api.get(f"{legacy}/email_server")
        api.patch(f"{legacy}/email_server", json={"type": "shared"})
        api.post(f"{auth}/send_test_email", json={**smtp, "recipient_email": "me@example.com"})
        api.get(f"{auth}/allow_localhost")
        api.patch(f"{auth}/allow_localhost", json={"allow_localhost": False})
        api.get(f"{auth}/plugins")
        api.patch(f"{auth}/plugins/organization", json={"organization_limit": 3})
        api.patch(f"{auth}/plugins/magic-link", json={"enabled": True, "expires_in": 30})
        api.get(f"{auth}/plugins/phone-number")
        api.patch(f"{auth}/plugins/phone-number", json={"enabled": True})
        api.patch(f"{auth}/config", json={"name": "My app"})
        api.get(f"{auth}/webhooks")
        api.put(
            f"{auth}/webhooks",
            json={"enabled": True, "webhook_url": "https://hooks.example.com/auth",
                  "enabled_events": ["user.created"]},
        )  # fmt: skip
        api.put(f"{auth}/webhooks", json={"enabled": True})  # 400: no URL

        transfer = api.post(
            "/projects/auth/transfer_ownership",
            json={"project_id": pid, "auth_provider": "better_auth"},
        ).json()
        assert httpx.get(transfer["url"]).status_code == 200  # the URL works as returned
        api.get(auth)  # owned_by user, transfer finished

        data_api = f"/projects/{pid}/branches/{main}/data-api/neondb"
        api.get(data_api)  # 404
        api.post(data_api, json={"auth_provider": "external"})  # 400: no jwks_url
        api.post(data_api, json={"auth_provider": "neon_auth", "add_default_grants": True})
        api.get(data_api)
        api.patch(data_api, json={"settings": {"db_max_rows": 10}})
        api.delete(data_api)

        api.request("DELETE", auth, json={"delete_data": False})
        stack = api.post(
            "/projects/auth/create",
            json={"project_id": pid, "branch_id": main, "auth_provider": "stack"},
        ).json()
        assert httpx.get(stack["jwks_url"]).json()["keys"]  # served by the emulator
        api.request("DELETE", f"{legacy}/integration/stack", json={"delete_data": True})

    missing = served(raw_spec) & neon_auth_family(raw_spec) - set(validate.seen)
    assert not missing, f"served operations the scenario does not exercise: {sorted(missing)}"


def not_served_in_readme() -> set[str]:
    """operationIds in the first column of the table under ``## What is not served``."""
    text = README.read_text()
    section = text.split("## What is not served", 1)[1].split("\n## ", 1)[0]
    listed: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            listed.update(re.findall(r"`([a-z][A-Za-z0-9]+)`", line.split("|")[1]))
    return listed


def test_served_operations_are_counted_and_the_others_documented(
    raw_spec: dict[str, Any], terminal_summary: Any
) -> None:
    every = set(operation_ids(raw_spec).values())
    serving = served(raw_spec)
    family = neon_auth_family(raw_spec)
    terminal_summary(
        f"neon-emulator operations served / in spec ({SPEC_FILE}): "
        f"{len(serving)} / {len(every)} -- Neon Auth and Data API "
        f"{len(serving & family)} / {len(family)}, the rest {len(serving - family)} / "
        f"{len(every - family)}"
    )
    documented = not_served_in_readme()
    assert not documented & serving, f"README lists as not served: {sorted(documented & serving)}"
    undocumented = every - serving - documented
    assert not undocumented, f"not served and missing from README: {sorted(undocumented)}"
    assert documented <= every, f"README names unknown operations: {sorted(documented - every)}"


@pytest.fixture
def live_ids(contract_emulator: Any) -> dict[str, str]:
    """Ids of a project that exists right now (recreated when fuzzing deleted it)."""
    emu = contract_emulator
    with emu.client() as api:
        listed = api.get(
            "/projects", params={"org_id": emu.organizations["paid"], "search": "fuzz-target"}
        ).json()
        if listed["projects"]:
            pid = listed["projects"][0]["id"]
        else:
            pid = api.post(
                "/projects",
                json={"project": {"org_id": emu.organizations["paid"], "name": "fuzz-target"}},
            ).json()["project"]["id"]
            _settle(api, pid)
        branches = api.get(f"/projects/{pid}/branches").json()["branches"]
        endpoints = api.get(f"/projects/{pid}/endpoints").json()["endpoints"]
    main = next(b for b in branches if b["default"])
    return {
        "project_id": pid,
        "branch_id": main["id"],
        "endpoint_id": endpoints[0]["id"] if endpoints else "ep-none-none-a5000000",
        "org_id": emu.organizations["paid"],
        "source_org_id": emu.organizations["paid"],
        "database_name": "neondb",
        "role_name": "neondb_owner",
    }


def _operation(schema: Any, route: str) -> Any:
    for result in schema.get_all_operations():
        operation = result.ok()
        if _spaced(f"{operation.method.upper()} {operation.path}") == _spaced(route):
            return operation
    raise LookupError(route)


@pytest.mark.parametrize("route", [r for r in ROUTES if r not in NOT_FUZZED])
def test_generated_requests_get_spec_conformant_responses(
    route: str, contract_schema: Any, contract_emulator: Any, live_ids: dict[str, str]
) -> None:
    operation = _operation(contract_schema, route)
    headers = {"Authorization": f"Bearer {contract_emulator.api_key}"}

    @settings(
        max_examples=CONFIG_EXAMPLES if in_neon_auth_family(route) else EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def exchange(case: Any) -> None:
        for name in list(case.path_parameters or {}):
            if name in live_ids:
                case.path_parameters[name] = live_ids[name]
        case.call_and_validate(
            base_url=contract_emulator.api_url,
            headers=headers,
            checks=[
                checks.not_a_server_error,
                response_schema_conformance,
                content_type_conformance,
            ],
        )

    exchange()
