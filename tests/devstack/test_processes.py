"""A component that fails to start is named, with the tail of its log."""

from __future__ import annotations

import pathlib

import pytest

from neon_operator.devstack import processes

pytestmark = pytest.mark.unit


def test_a_process_that_exits_while_starting_is_reported_with_its_log_tail(
    tmp_path: pathlib.Path,
) -> None:
    process = processes.spawn(
        "kube-apiserver",
        ["sh", "-c", "echo 'error: invalid flag --nope' >&2; exit 3"],
        tmp_path / "kube-apiserver.log",
    )
    with pytest.raises(processes.StartupError) as failure:
        processes.wait_until(process, lambda: False, timeout=30)
    message = str(failure.value)
    assert message.startswith("kube-apiserver exited before it was ready")
    assert "error: invalid flag --nope" in message


def test_a_process_that_never_becomes_ready_is_stopped_by_the_caller(
    tmp_path: pathlib.Path,
) -> None:
    process = processes.spawn("etcd", ["sleep", "30"], tmp_path / "etcd.log")
    with pytest.raises(processes.StartupError, match="etcd was not ready after 0s"):
        processes.wait_until(process, lambda: False, timeout=0.2)
    processes.stop(process.pid, process.popen)
    assert not process.alive()
