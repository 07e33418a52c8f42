"""The image the chart runs, as built from the Dockerfile (``make image``): what is in it.

The operator image runs ``neon-operator run`` as a non-root user and carries nothing else: no
compiler, no pip, no emulator and no PostgreSQL (those belong to the local stack and CI).
"""

from __future__ import annotations

import pytest

from neon_operator.devstack import image

pytestmark = pytest.mark.e2e

SITE_PACKAGES = "opt/neon-operator/lib/python3.11/site-packages"


def test_the_image_is_an_oci_archive_named_as_the_chart_names_it(
    operator_image: image.Image,
) -> None:
    assert operator_image.archive.is_file()
    assert operator_image.archive.stat().st_size > 0
    assert operator_image.reference.startswith(f"{image.IMAGE_REPOSITORY}:")


def test_the_image_runs_the_operator_as_a_named_non_root_user(
    operator_image: image.Image,
) -> None:
    config = operator_image.config()
    assert config["User"] == "65532:65532"
    assert config["Entrypoint"] == ["neon-operator"]
    assert config["Cmd"] == ["run", "--all-namespaces"]
    passwd = (operator_image.rootfs / "etc" / "passwd").read_text().splitlines()
    assert any(line.startswith("nonroot:x:65532:65532:") for line in passwd)
    program = operator_image.rootfs / "opt" / "neon-operator" / "bin" / "neon-operator"
    assert program.is_file()
    # The operator's files are root's: the user it runs as cannot change its own code.
    venv = program.parents[1]
    assert {path.stat().st_uid for path in [venv, *venv.rglob("*")]} == {0}


def test_the_image_carries_no_compiler_pip_emulator_or_postgresql(
    operator_image: image.Image,
) -> None:
    rootfs = operator_image.rootfs
    for tool in ("gcc", "cc", "c++", "make", "postgres", "initdb", "psql", "pg_ctl"):
        found = [
            d
            for d in ("usr/bin", "usr/local/bin", "opt/neon-operator/bin")
            if (rootfs / d / tool).exists()
        ]
        assert found == [], f"{tool} in {found}"
    assert not list((rootfs / "usr" / "lib").glob("postgresql*"))
    site = rootfs / SITE_PACKAGES
    assert (site / "neon_operator").is_dir()
    assert not (site / "neon_emulator").exists()
    assert not list(site.glob("pip*"))
    assert not list(site.glob("psycopg*"))
