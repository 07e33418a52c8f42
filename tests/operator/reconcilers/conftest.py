"""Reconcilers in-process: the in-memory Kube, the real emulator over loopback HTTP, no kopf.

Fixtures:

* ``neon`` -- a Neon emulator served in this test's event loop on a free loopback port (control
  plane only, operations finish in 20 ms, no rate limits), with its own state directory. Tests
  look at Neon through ``neon.api``, a plain ``httpx`` client, never through the operator's own
  client (that is what is under test).
* ``op`` -- :class:`Operator`: the reconcilers with a :class:`~neon_operator.testing.InMemoryKube`
  holding a NeonConfig ``default`` (tiers ``free`` and ``paid``) and its API key Secret. It does
  what kopf does around a reconciler: adds the finalizer, hands the reconciler the current body,
  and on deletion runs the delete step and then removes the finalizer.

The tier these tests form is ``tests/operator/reconcilers`` (marker ``integration``: they talk to
the emulator over HTTP); flows that need a real apiserver (CEL, RBAC, watches, the controller
manager's garbage collector) stay in ``tests/e2e``.
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from neon_emulator import bootstrap
from neon_emulator.app import create_app
from neon_emulator.cli import build_context
from neon_emulator.settings import Knobs, RateLimits, Settings
from neon_operator import kube, neon
from neon_operator.accounts import Accounts
from neon_operator.models import NeonConfig
from neon_operator.reconcilers import appdatabase, branch, neonconfig, restore, schedule, snapshot
from neon_operator.reconcilers.context import Context
from neon_operator.settings import Settings as OperatorSettings
from neon_operator.testing import InMemoryKube

NAMESPACE = "apps"
KEY_SECRET = ("neon-operator-system", "neon-api-key")
FAST_POLL = neon.PollPolicy(initial_interval=0.01, factor=1.5, max_interval=0.05, timeout=20)
RECONCILERS: dict[str, Any] = {
    appdatabase.PLURAL: appdatabase,
    branch.PLURAL: branch,
    snapshot.PLURAL: snapshot,
    restore.PLURAL: restore,
    schedule.PLURAL: schedule,
}


@dataclasses.dataclass
class EmulatedNeon:
    """A running emulator and a plain HTTP client of its API (bootstrap key)."""

    api_url: str
    api_key: str
    organizations: dict[str, str]
    """The operator's tiers (``free``, ``paid``) → the emulator's sponsored and paid orgs."""
    api: httpx.AsyncClient

    async def get(self, path: str, **params: Any) -> Any:
        response = await self.api.get(path, params=params)
        response.raise_for_status()
        return response.json()

    async def status_of(self, path: str) -> int:
        return (await self.api.get(path)).status_code

    async def projects(self, org: str, name: str | None = None) -> list[dict[str, Any]]:
        found = (await self.get("/projects", org_id=self.organizations[org]))["projects"]
        return [p for p in found if name is None or p["name"] == name]

    async def branches(self, project_id: str) -> list[dict[str, Any]]:
        return list((await self.get(f"/projects/{project_id}/branches"))["branches"])

    async def create_project(self, org: str, **fields: Any) -> dict[str, Any]:
        body = {"project": {"org_id": self.organizations[org], **fields}}
        response = await self.api.post("/projects", json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created


@pytest.fixture
async def neon_api(tmp_path: Path) -> AsyncIterator[EmulatedNeon]:
    """The emulator, served by this test's event loop (see the module docstring)."""
    settings = Settings(state_dir=tmp_path / "neon")
    settings.state_dir.mkdir()
    knobs = Knobs(operation_latency=0.02, rate_limits=RateLimits(per_minute=0, burst_per_second=0))
    ctx = build_context(settings, knobs)
    account = bootstrap.ensure_account(ctx.store)
    runner = web.AppRunner(create_app(ctx), access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    await web.SockSite(runner, sock).start()
    base = f"http://127.0.0.1:{port}"
    ctx.addresses.serve_at(base)
    api_url = base + settings.api_prefix
    headers = {"Authorization": f"Bearer {account.api_key}"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=10) as api:
        tiers = {"free": account.organizations["sponsored"], "paid": account.organizations["paid"]}
        yield EmulatedNeon(api_url, account.api_key, tiers, api)
    await runner.cleanup()
    await ctx.dataplane.close()
    sock.close()


class Crash(BaseException):
    """What the crash hook raises: the process "dies" right after a Neon call (no handler of
    the reconcilers catches a BaseException, as none survives a SIGKILL)."""


class Operator:
    """The reconcilers around an :class:`InMemoryKube`, driven the way kopf drives them."""

    Crash = Crash

    def __init__(self, neon_api: EmulatedNeon) -> None:
        self.kube = InMemoryKube()
        self.neon = neon_api
        self.settings = OperatorSettings(retry_delay=1.0)
        self.accounts = Accounts(self.kube, client_factory=self._client)
        self.ctx = Context(kube=self.kube, accounts=self.accounts, settings=self.settings)
        self.kube.create_secret(*KEY_SECRET, {"apiKey": neon_api.api_key})
        self.kube.create(
            "neonconfigs",
            {
                "apiVersion": "neon.operator.dev/v1alpha1",
                "kind": "NeonConfig",
                "metadata": {"name": "default"},
                "spec": {
                    "apiUrl": neon_api.api_url,
                    "apiKeySecretRef": {
                        "namespace": KEY_SECRET[0],
                        "name": KEY_SECRET[1],
                        "key": "apiKey",
                    },
                    "organizations": dict(neon_api.organizations),
                    "defaults": {"compute": {"minCu": 0.25, "maxCu": 1}},
                    "allowedNamespaces": ["*"],
                },
            },
        )

    def _client(self, config: NeonConfig, api_key: str) -> neon.NeonClient:
        return neon.NeonClient(
            api_key,
            base_url=config.spec.api_url,
            poll=FAST_POLL,
            limiters=neon.LimiterRegistry(),
            limits=neon.RateLimits(per_minute=0, burst_per_second=0),
        )

    def crash_after(self, step: str) -> None:
        """Make the next Neon call named ``step`` the last thing this "process" does."""

        def crash(done: str) -> None:
            if done == step:
                self.ctx.crash_after = lambda _: None
                raise Crash(step)

        self.ctx.crash_after = crash

    def apply(self, plural: str, name: str, spec: dict[str, Any], **metadata: Any) -> None:
        """Create the object as a person would, with the finalizer kopf adds at once."""
        body = {
            "apiVersion": "neon.operator.dev/v1alpha1",
            "kind": RECONCILERS[plural].KIND,
            "metadata": {"name": name, "finalizers": [self.settings.finalizer], **metadata},
            "spec": spec,
        }
        self.kube.create(plural, body, namespace=NAMESPACE)

    def edit(self, plural: str, name: str, patch: dict[str, Any]) -> None:
        """``kubectl patch --type merge``."""
        assert self.kube.patch(plural, name, patch, namespace=NAMESPACE) is not None

    def body(self, plural: str, name: str) -> dict[str, Any]:
        found = self.kube.get(plural, name, namespace=NAMESPACE)
        assert found is not None, f"{plural}/{name} is gone"
        return found

    def status(self, plural: str, name: str) -> dict[str, Any]:
        return dict(self.body(plural, name).get("status") or {})

    def condition(self, plural: str, name: str, type_: str = "Ready") -> dict[str, Any]:
        conditions = self.status(plural, name).get("conditions") or []
        return next((c for c in conditions if c["type"] == type_), {})

    def ref(self, plural: str, name: str) -> kube.ObjectRef:
        meta = self.body(plural, name)["metadata"]
        kind = RECONCILERS[plural].KIND
        return kube.ObjectRef(
            kind=kind, plural=plural, name=name, namespace=NAMESPACE, uid=meta["uid"]
        )

    def exists(self, plural: str, name: str) -> bool:
        return self.kube.get(plural, name, namespace=NAMESPACE) is not None

    async def reconcile(self, plural: str, name: str, **options: Any) -> Any:
        """One run of the kind's change handler on the current body (after adding the
        finalizer, as kopf does the first time it sees an object); what the reconciler
        returned."""
        finalizers = self.body(plural, name)["metadata"].get("finalizers") or []
        if self.settings.finalizer not in finalizers:
            self.edit(
                plural, name, {"metadata": {"finalizers": [*finalizers, self.settings.finalizer]}}
            )
        return await RECONCILERS[plural].reconcile(self.ctx, self.body(plural, name), **options)

    async def check_config(self, name: str = "default") -> None:
        """One run of the NeonConfig handler."""
        body = self.kube.get("neonconfigs", name)
        assert body is not None
        await neonconfig.reconcile(self.ctx, body)

    async def delete(self, plural: str, name: str) -> None:
        """``kubectl delete`` and one run of the delete handler; the finalizer goes only when
        that returns normally (an exception propagates and leaves the object being deleted)."""
        self.kube.delete(plural, name, namespace=NAMESPACE)
        await RECONCILERS[plural].delete(self.ctx, self.body(plural, name))
        self.kube.remove_finalizer(plural, name, self.settings.finalizer, namespace=NAMESPACE)

    async def secret(self, name: str) -> dict[str, str]:
        found = await self.kube.read_secret(NAMESPACE, name)
        assert found is not None, f"Secret {name} does not exist"
        return found.data

    def reasons(self, name: str) -> list[str]:
        """The reasons of the Events about objects named ``name``, oldest first."""
        return [event.reason for event in self.kube.events_about(name)]


@pytest.fixture
async def op(neon_api: EmulatedNeon) -> AsyncIterator[Operator]:
    operator = Operator(neon_api)
    yield operator
    await operator.accounts.close()
