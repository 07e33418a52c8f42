"""The wrapper module replaces every staging module of k8s.io/kubernetes with its release."""

from __future__ import annotations

import fcntl
import pathlib
import threading

import pytest

from neon_operator.devstack import binaries

pytestmark = pytest.mark.unit

GO_MOD = """\
module k8s.io/kubernetes

require (
\tk8s.io/api v0.0.0
\tgithub.com/google/cel-go v0.26.0
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/apiextensions-apiserver => ./staging/src/k8s.io/apiextensions-apiserver
\tgithub.com/example/fork => github.com/example/fork v1.2.3
)
"""


def test_staging_modules_map_to_their_published_v0_versions() -> None:
    assert binaries.staging_replacements(GO_MOD, "v1.36.3") == {
        "k8s.io/api": "v0.36.3",
        "k8s.io/apiextensions-apiserver": "v0.36.3",
    }


def test_the_cache_directory_can_be_moved_with_an_environment_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    monkeypatch.setenv("NEON_OPERATOR_CACHE", str(tmp_path))
    assert binaries.cache_root() == tmp_path


def test_a_session_waiting_for_another_processs_build_says_so(tmp_path: pathlib.Path) -> None:
    lock = tmp_path / "build.lock"
    lines: list[str] = []
    waiting = threading.Event()

    def report(line: str) -> None:
        lines.append(line)
        waiting.set()

    def wait_for_the_lock() -> None:
        with binaries.locked(lock, report=report):
            lines.append("holding")

    with lock.open("a") as other_build:  # another open file: flock treats it as another owner
        fcntl.flock(other_build, fcntl.LOCK_EX)
        waiter = threading.Thread(target=wait_for_the_lock)
        waiter.start()
        assert waiting.wait(timeout=30)
        assert lines == [
            f"[neon-operator] waiting for another process's build to finish ({lock} is held) ..."
        ]
        fcntl.flock(other_build, fcntl.LOCK_UN)
        waiter.join(timeout=30)
    assert lines[-1] == "holding"
    assert lines[-2].startswith("[neon-operator] the other build finished in ")


def test_a_free_build_lock_is_taken_without_a_word(tmp_path: pathlib.Path) -> None:
    lines: list[str] = []
    with binaries.locked(tmp_path / "build.lock", report=lines.append):
        pass
    assert lines == []
