"""Contract: the emulator's responses validate against Neon's official OpenAPI file.

The spec is ``public-v2-for-users.gen.yaml`` from npm ``@neondatabase/api-client@2.7.3``, fetched
with ``npm pack`` into ``~/.cache/neon-operator/spec/`` and checked against its known sha256 (no
npm means a loud failure, not a skip). Two tests use it:

* a scenario that walks every emulated operation with real ids and validates each response
  (success and error bodies) against the spec's schema for that status;
* schemathesis-generated requests for the same operations (a bounded number of examples each),
  with ids from a live project substituted into paths, checked for schema conformance, content
  type and the absence of 5xx.
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

pytestmark = pytest.mark.integration

PACKAGE = "@neondatabase/api-client@2.7.3"
SPEC_FILE = "public-v2-for-users.gen.yaml"
SPEC_SHA256 = "dacf72ea2d63110b3694c705313e0b2104e9652ae1be3fc01ceebe7b17059c44"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "neon-operator" / "spec"

NEON_AUTH_AND_DATA_API = [
    "createNeonAuth", "getNeonAuth", "disableNeonAuth", "createNeonAuthIntegration",
    "createNeonAuthProviderSDKKeys", "listNeonAuthIntegrations", "deleteNeonAuthIntegration",
    "transferNeonAuthProviderProject", "listBranchNeonAuthOauthProviders",
    "addBranchNeonAuthOauthProvider", "updateBranchNeonAuthOauthProvider",
    "deleteBranchNeonAuthOauthProvider", "listNeonAuthOauthProviders",
    "addNeonAuthOauthProvider", "updateNeonAuthOauthProvider", "deleteNeonAuthOauthProvider",
    "listBranchNeonAuthTrustedDomains", "addBranchNeonAuthTrustedDomain",
    "deleteBranchNeonAuthTrustedDomain", "listNeonAuthRedirectURIWhitelistDomains",
    "addNeonAuthDomainToRedirectURIWhitelist", "deleteNeonAuthDomainFromRedirectURIWhitelist",
    "createBranchNeonAuthNewUser", "deleteBranchNeonAuthUser", "updateNeonAuthUserRole",
    "createNeonAuthNewUser", "deleteNeonAuthUser", "getNeonAuthEmailAndPasswordConfig",
    "updateNeonAuthEmailAndPasswordConfig", "getNeonAuthEmailProvider",
    "updateNeonAuthEmailProvider", "getNeonAuthEmailServer", "updateNeonAuthEmailServer",
    "sendNeonAuthTestEmail", "getNeonAuthAllowLocalhost", "updateNeonAuthAllowLocalhost",
    "getNeonAuthPluginConfigs", "updateNeonAuthOrganizationPlugin",
    "updateNeonAuthMagicLinkPlugin", "getNeonAuthPhoneNumberPlugin",
    "updateNeonAuthPhoneNumberPlugin", "updateNeonAuthConfig", "getNeonAuthWebhookConfig",
    "updateNeonAuthWebhookConfig", "createProjectBranchDataAPI", "getProjectBranchDataAPI",
    "updateProjectBranchDataAPI", "deleteProjectBranchDataAPI",
]  # fmt: skip
"""Every Neon Auth and Data API operation of the spec (its own scenario below)."""

EMULATED = [
    "createProject", "listProjects", "listSharedProjects", "getProject", "updateProject",
    "deleteProject", "recoverProject", "listProjectOperations", "getProjectOperation",
    "getConnectionURI", "createProjectBranch", "listProjectBranches", "countProjectBranches",
    "getProjectBranch", "updateProjectBranch", "deleteProjectBranch", "restoreProjectBranch",
    "setDefaultProjectBranch", "finalizeRestoreBranch", "listProjectBranchEndpoints",
    "listProjectBranchDatabases", "createProjectBranchDatabase", "getProjectBranchDatabase",
    "updateProjectBranchDatabase", "deleteProjectBranchDatabase", "listProjectBranchRoles",
    "createProjectBranchRole", "getProjectBranchRole", "deleteProjectBranchRole",
    "getProjectBranchRolePassword", "resetProjectBranchRolePassword", "createProjectEndpoint",
    "listProjectEndpoints", "getProjectEndpoint", "updateProjectEndpoint",
    "deleteProjectEndpoint", "startProjectEndpoint", "suspendProjectEndpoint",
    "restartProjectEndpoint", "createSnapshot", "listSnapshots", "updateSnapshot",
    "deleteSnapshot", "restoreSnapshot", "transferProjectsFromOrgToOrg", "getOrganization",
    "listOrgApiKeys", "createOrgApiKey", "listApiKeys", "createApiKey", "getCurrentUserInfo",
    "getCurrentUserOrganizations", "getAuthDetails", "getActiveRegions",
    "getConsumptionHistoryPerProject", "getConsumptionHistoryPerProjectV2",
    "getConsumptionHistoryPerBranchV2", "revokeApiKey", "revokeOrgApiKey",
    *NEON_AUTH_AND_DATA_API,
]  # fmt: skip
"""Operations the emulator serves (all covered by the scenario)."""

EXAMPLES = 15
"""Generated requests per operation: enough to hit validation and success paths, quick to run."""

CONFIG_EXAMPLES = 5
"""For the Neon Auth and Data API operations: mostly small configuration objects on one
integration, which the scenario walks field by field; fewer examples keep the suite's time."""

NOT_FUZZED = ["revokeApiKey", "revokeOrgApiKey"]
"""A generated key id could revoke the key the fuzzing itself uses."""


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
def contract_schema(contract_emulator: Any) -> Any:
    raw = yaml.safe_load(neon_spec().read_text())
    raw["servers"] = [{"url": contract_emulator.api_url}]
    return schemathesis.openapi.from_dict(raw).include(operation_id=EMULATED)


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
        assert matches, f"no emulated operation matches {method} {path}"
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


def test_every_response_of_a_full_scenario_matches_the_spec(
    contract_emulator: Any, contract_schema: Any
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
        api.delete(f"/projects/{pid}/branches/{dev}")

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

    missing = set(EMULATED) - set(NEON_AUTH_AND_DATA_API) - set(validate.seen)
    assert not missing, f"scenario did not reach {sorted(missing)}"


def test_every_neon_auth_and_data_api_response_matches_the_spec(
    contract_emulator: Any, contract_schema: Any
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

    missing = set(NEON_AUTH_AND_DATA_API) - set(validate.seen)
    assert not missing, f"scenario did not reach {sorted(missing)}"


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


def _operation(schema: Any, operation_id: str) -> Any:
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.definition.raw.get("operationId") == operation_id:
            return operation
    raise LookupError(operation_id)


@pytest.mark.parametrize("operation_id", [o for o in EMULATED if o not in NOT_FUZZED])
def test_generated_requests_get_spec_conformant_responses(
    operation_id: str, contract_schema: Any, contract_emulator: Any, live_ids: dict[str, str]
) -> None:
    operation = _operation(contract_schema, operation_id)
    headers = {"Authorization": f"Bearer {contract_emulator.api_key}"}

    @settings(
        max_examples=CONFIG_EXAMPLES if operation_id in NEON_AUTH_AND_DATA_API else EXAMPLES,
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
