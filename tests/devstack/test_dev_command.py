"""`neon-operator dev up|down` starts and stops the whole local stack from the command line."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest
import yaml

from neon_operator.devstack import processes

pytestmark = pytest.mark.e2e


def neon_operator(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "neon_operator.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_dev_up_writes_kubeconfig_and_stack_file_and_dev_down_stops_everything(
    tmp_path: pathlib.Path,
) -> None:
    up = neon_operator("dev", "up", "--state-dir", str(tmp_path))
    assert up.returncode == 0, up.stderr
    described = json.loads((tmp_path / "stack.json").read_text())
    try:
        assert pathlib.Path(described["kubeconfig"]) == tmp_path.resolve() / "kubeconfig"
        kubeconfig = yaml.safe_load((tmp_path / "kubeconfig").read_text())
        assert kubeconfig["clusters"][0]["cluster"]["server"].startswith("https://127.0.0.1:")
        emulator = described["emulator"]
        assert emulator["api_url"].startswith("http://127.0.0.1:")
        assert pathlib.Path(emulator["api_key_file"]).read_text().strip()
        assert set(emulator["organizations"]) == {"sponsored", "paid"}
        pids = described["pids"]
        assert set(pids) >= {"etcd", "kube-apiserver", "kube-controller-manager", "emulator"}
        assert all(processes.pid_alive(pid) for pid in pids.values())

        again = neon_operator("dev", "up", "--state-dir", str(tmp_path))
        assert again.returncode == 1
        assert "already running" in again.stderr
    finally:
        down = neon_operator("dev", "down", "--state-dir", str(tmp_path))
    assert down.returncode == 0, down.stderr
    assert not any(processes.pid_alive(pid) for pid in pids.values())
    assert not (tmp_path / "stack.json").exists()
