"""Session-wide test plumbing: tier markers and the one local stack shared by the e2e tier.

Every test carries exactly one tier marker (``unit``, ``integration`` or ``e2e``); a test without
one fails collection, so ``pytest -m unit`` and friends always select the whole suite between them.
The e2e tier shares one real control plane (etcd, kube-apiserver, kube-controller-manager, with
the CRDs installed) and the Neon emulator, started once per session.
"""

from __future__ import annotations

import asyncio
import base64
import heapq
import itertools
import json
import pathlib
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from kubernetes import client, config
from kubernetes.client import ApiClient
from postgrest import SyncPostgrestClient

from neon_operator.devstack import image, progress
from neon_operator.devstack import stack as devstack

TIERS = ("unit", "integration", "e2e")
_VERSION_KEY = pytest.StashKey[str]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        tiers = [tier for tier in TIERS if item.get_closest_marker(tier)]
        if len(tiers) != 1:
            raise pytest.UsageError(
                f"{item.nodeid} must carry exactly one tier marker of {TIERS}, has {tiers}; "
                "set `pytestmark = pytest.mark.<tier>` in the module"
            )


def progress_reporter(config: pytest.Config) -> progress.Reporter:
    """Progress lines of long builds, shown on the terminal through pytest's output capture."""
    capture = config.pluginmanager.getplugin("capturemanager")

    def report(line: str) -> None:
        with capture.global_and_fixture_disabled():
            print(line, file=sys.stderr, flush=True)

    return report


@pytest.fixture(scope="session")
def local_stack(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[devstack.Stack]:
    """The real control plane + CRDs + controller-manager + emulator, once per session."""
    state_dir = tmp_path_factory.mktemp("stack")
    running = devstack.up(state_dir, report=progress_reporter(pytestconfig))
    pytestconfig.stash[_VERSION_KEY] = running.kubernetes_version
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def operator_image(pytestconfig: pytest.Config) -> image.Image:
    """The operator image built from this checkout's Dockerfile (cached; ``make image``)."""
    return image.ensure_image(report=progress_reporter(pytestconfig))


@pytest.fixture(scope="session")
def kubeconfig(local_stack: devstack.Stack) -> pathlib.Path:
    return local_stack.kubeconfig


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    version = terminalreporter.config.stash.get(_VERSION_KEY, None)
    if version is not None:
        terminalreporter.write_line(f"e2e tier talked to a real kube-apiserver {version}")


@pytest.fixture(scope="session")
def kube_api(kubeconfig: pathlib.Path) -> Iterator[ApiClient]:
    """An admin client of the session's real apiserver."""
    api = config.new_client_from_config(config_file=str(kubeconfig))
    try:
        yield api
    finally:
        api.close()


@pytest.fixture
def make_namespace(
    kube_api: ApiClient, request: pytest.FixtureRequest
) -> Iterator[Callable[..., str]]:
    """``make_namespace(prefix, labels=None)``: a new namespace ``<prefix><random>``, annotated
    with the test's id; every one made is deleted after the test (without waiting for it to go).
    The session operator of the e2e tier serves ``t-*``: another prefix is for a test's own."""
    core = client.CoreV1Api(kube_api)
    made: list[str] = []

    def make(prefix: str, labels: dict[str, str] | None = None) -> str:
        name = prefix + uuid.uuid4().hex[:10]
        metadata = {"name": name, "labels": labels or {}}
        core.create_namespace(
            {"metadata": {**metadata, "annotations": {"test": request.node.nodeid}}}
        )
        made.append(name)
        return name

    try:
        yield make
    finally:
        for name in made:
            core.delete_namespace(name)


@pytest.fixture
def namespace(make_namespace: Callable[..., str]) -> str:
    """A fresh namespace per test, served by the e2e session operator (``t-*``)."""
    return make_namespace("t-")


class AppClient:
    """What an app does with Neon Auth and the Data API: sign a user up and get their JWT as
    its SDK does, and query the Data API as them with the official PostgREST client."""

    def __init__(self) -> None:
        self._open: list[SyncPostgrestClient] = []

    def sign_up(self, base_url: str, email: str) -> tuple[str, str]:
        """A new user's (id, JWT) through the auth server at ``base_url``."""
        created = httpx.post(
            f"{base_url}/sign-up/email",
            json={"name": email.split("@")[0], "email": email, "password": "correct horse"},
        )
        assert created.status_code == 200, created.text
        session = created.json()["token"]
        token = httpx.get(f"{base_url}/token", headers={"Authorization": f"Bearer {session}"})
        assert token.status_code == 200, token.text
        return created.json()["user"]["id"], token.json()["token"]

    def rest(self, url: str, token: str | None = None) -> SyncPostgrestClient:
        """The PostgREST client of the Data API at ``url`` as ``token``'s user (anonymous
        without one); closed after the test."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._open.append(SyncPostgrestClient(url, headers=headers))
        return self._open[-1]

    @staticmethod
    def forged(token: str) -> str:
        """``token`` claiming another user (``sub``) under its original signature."""
        header, payload, signature = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["sub"] = "someone-else"
        body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        return f"{header}.{body}.{signature}"

    def close(self) -> None:
        while self._open:
            self._open.pop().aclose()


@pytest.fixture
def app_client() -> Iterator[AppClient]:
    """An :class:`AppClient`; its PostgREST clients are closed after the test."""
    found = AppClient()
    try:
        yield found
    finally:
        found.close()


@pytest.fixture
def bind_edit(kube_api: ApiClient) -> Callable[[str, dict[str, str]], None]:
    """``bind_edit(namespace, subject)``: bind the built-in ``edit`` ClusterRole to the RBAC
    ``subject`` in ``namespace`` (RoleBinding ``tenant-edit``), as an admin hands a tenant its
    namespace; it goes with the namespace."""
    rbac = client.RbacAuthorizationV1Api(kube_api)

    def bind(namespace: str, subject: dict[str, str]) -> None:
        edit = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"}
        body = {"metadata": {"name": "tenant-edit"}, "roleRef": edit, "subjects": [subject]}
        rbac.create_namespaced_role_binding(namespace, body)

    return bind


class VirtualTime:
    """A clock and a sleep for many concurrent callers: a sleeper wakes when virtual time
    reaches its deadline, and time moves only through :meth:`advance`."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(seconds, 0.0), next(self._order), future))
        await future

    async def settle(self) -> None:
        """Let every runnable caller run until it blocks."""
        for _ in range(50):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, waking sleepers in deadline order."""
        until = self.now + seconds
        await self.settle()
        while self._sleepers and self._sleepers[0][0] <= until:
            at, _, future = heapq.heappop(self._sleepers)
            if future.done():  # the sleeper was cancelled
                continue
            self.now = max(self.now, at)
            future.set_result(None)
            await self.settle()
        self.now = until

    async def run(self, tasks: list[asyncio.Task[Any]], step: float = 0.25) -> None:
        """Advance in ``step``s until every task is done."""
        while not all(task.done() for task in tasks):
            await self.advance(step)


@pytest.fixture
def virtual_time() -> VirtualTime:
    """A :class:`VirtualTime` for logic that sleeps (inject ``.clock`` and ``.sleep``)."""
    return VirtualTime()
