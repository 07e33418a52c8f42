"""Session-wide test plumbing: tier markers and the one local stack shared by the e2e tier.

Every test carries exactly one tier marker (``unit``, ``integration`` or ``e2e``); a test without
one fails collection, so ``pytest -m unit`` and friends always select the whole suite between them.
The e2e tier shares one real control plane (etcd, kube-apiserver, kube-controller-manager, with
the CRDs installed) and the Neon emulator, started once per session.
"""

from __future__ import annotations

import pathlib
import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client, config
from kubernetes.client import ApiClient

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


@pytest.fixture(scope="session")
def local_stack(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[devstack.Stack]:
    """The real control plane + CRDs + controller-manager + emulator, once per session."""
    state_dir = tmp_path_factory.mktemp("stack")
    running = devstack.up(state_dir)
    pytestconfig.stash[_VERSION_KEY] = running.kubernetes_version
    try:
        yield running
    finally:
        running.stop()


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
def namespace(kube_api: ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace per test, deleted afterwards (without waiting for it to go)."""
    name = "t-" + uuid.uuid4().hex[:10]
    core = client.CoreV1Api(kube_api)
    core.create_namespace(
        {"metadata": {"name": name, "annotations": {"test": request.node.nodeid}}}
    )
    try:
        yield name
    finally:
        core.delete_namespace(name)
