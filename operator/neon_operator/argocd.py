"""Argo CD health checks for our kinds: ``deploy/argocd/argocd-cm.yaml`` from ``health.lua``.

Argo CD reads custom health checks from its ``argocd-cm`` ConfigMap, one key per kind:
``resource.customizations.health.<group>_<kind>`` holding a Lua script. One script serves all
our kinds (they share their status conventions), so the ConfigMap is generated from it by
``neon-operator crds``, and a test keeps the two in step. Users merge the file into their
``argocd-cm`` (a kustomize patch, or ``kubectl patch configmap argocd-cm -n argocd
--patch-file deploy/argocd/argocd-cm.yaml``).
"""

from __future__ import annotations

from typing import Final

import yaml

from neon_operator.crds import KINDS
from neon_operator.models import GROUP

__all__ = ["CONFIG_MAP", "SCRIPT", "config_map_key", "render_config_map"]

SCRIPT: Final = "deploy/argocd/health.lua"
CONFIG_MAP: Final = "deploy/argocd/argocd-cm.yaml"


def config_map_key(kind: str) -> str:
    """The ``argocd-cm`` key Argo CD reads a health check of ``kind`` from."""
    return f"resource.customizations.health.{GROUP}_{kind}"


class _Literal(str):
    """A string YAML writes as a ``|`` block, so the Lua stays readable in the ConfigMap."""


def _literal(dumper: yaml.SafeDumper, value: _Literal) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style="|")


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Literal, _literal)


def render_config_map(script: str) -> str:
    """The ``argocd-cm`` patch carrying ``script`` as every kind's health check."""
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argocd-cm", "namespace": "argocd"},
        "data": {config_map_key(kind.kind): _Literal(script) for kind in KINDS},
    }
    header = (
        f"# Generated from {SCRIPT} by `neon-operator crds`; do not edit.\n"
        "# Argo CD health checks for every neon.operator.dev kind: merge into argocd-cm, e.g.\n"
        f"#   kubectl patch configmap argocd-cm -n argocd --patch-file {CONFIG_MAP}\n"
    )
    return header + yaml.dump(config_map, Dumper=_Dumper, sort_keys=False, width=100)
