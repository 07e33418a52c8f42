"""The committed `crds/` equal a fresh generation from the models."""

from __future__ import annotations

import pathlib

import pytest

from neon_operator import crds

pytestmark = pytest.mark.unit

ROOT = pathlib.Path(__file__).resolve().parents[2]
REGENERATE = "run `neon-operator crds` from the repository root and commit the result"


@pytest.mark.parametrize("directory", ["crds", "helm/neon-operator/crds", "deploy/base/crds"])
def test_committed_crds_match_the_models(directory: str) -> None:
    rendered = crds.render()
    committed = {
        path.name: path.read_text(encoding="utf-8") for path in (ROOT / directory).glob("*.yaml")
    }

    missing = sorted(rendered.keys() - committed.keys())
    stale = sorted(committed.keys() - rendered.keys())
    changed = sorted(
        name for name in rendered.keys() & committed.keys() if rendered[name] != committed[name]
    )

    outdated = {"missing": missing, "stale": stale, "changed": changed}
    assert outdated == {"missing": [], "stale": [], "changed": []}, (
        f"{directory}/ is out of date: {REGENERATE}"
    )


def test_write_produces_exactly_the_rendered_files(tmp_path: pathlib.Path) -> None:
    (tmp_path / "gone.neon.operator.dev.yaml").write_text("stale")
    (tmp_path / "README.md").write_text("kept")

    written = crds.write(tmp_path)

    assert sorted(path.name for path in written) == sorted(crds.render())
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([*crds.render(), "README.md"])


def test_the_argocd_config_map_carries_the_health_check_for_every_kind() -> None:
    from neon_operator import argocd

    script = (ROOT / argocd.SCRIPT).read_text(encoding="utf-8")
    committed = (ROOT / argocd.CONFIG_MAP).read_text(encoding="utf-8")
    assert committed == argocd.render_config_map(script), f"{argocd.CONFIG_MAP}: {REGENERATE}"
