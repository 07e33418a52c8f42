"""The wrapper module replaces every staging module of k8s.io/kubernetes with its release."""

from __future__ import annotations

import pathlib

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
