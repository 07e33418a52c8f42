"""``--max-workers``: how many objects of one kind kopf processes at once (its queueing
``worker_limit``); the others wait as queued watch events. Bounds the operator's memory in a
burst (bench/results/scale.md); ``tests/e2e/test_workers.py`` shows a burst still converges with
one worker."""

from __future__ import annotations

import pytest

from neon_operator import cli, runner
from neon_operator.settings import Settings

pytestmark = pytest.mark.unit


def test_kopf_processes_at_most_max_workers_objects_of_a_kind_at_once() -> None:
    assert runner.kopf_settings(Settings()).queueing.worker_limit == 128
    assert runner.kopf_settings(Settings(max_workers=7)).queueing.worker_limit == 7


def test_an_idle_worker_gives_its_place_up_within_a_tenth_of_a_second() -> None:
    assert runner.kopf_settings(Settings()).queueing.idle_timeout == 0.1


@pytest.mark.parametrize("workers", ["0", "-3", "1.5", "many"])
def test_the_cli_refuses_fewer_than_one_worker(workers: str) -> None:
    with pytest.raises(SystemExit):
        cli._parser().parse_args(["run", "--max-workers", workers])


def test_the_cli_passes_max_workers_on() -> None:
    assert cli._parser().parse_args(["run", "--max-workers", "16"]).max_workers == 16
    assert cli._parser().parse_args(["run"]).max_workers is None  # Settings' default
