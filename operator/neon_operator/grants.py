"""Which namespaces may use a NeonConfig: its grant, decided alike at admission and in the operator.

A NeonConfig holds an API key and the organizations it pays for, and whoever may create a
NeonAppDatabase can name any NeonConfig in ``spec.configRef``. So a NeonConfig serves only the
namespaces it grants::

    spec:
      allowedNamespaces: [team-a, "apps-*"]     # names or globs: * any run, ? one character
      namespaceSelector:                        # and/or labels of the Namespace
        matchLabels: {neon.operator.dev/config: paid}

A namespace is granted when it matches an entry of ``allowedNamespaces`` or the selector selects
its labels (``namespaceSelector: {}`` selects every namespace, as in Kubernetes). **A NeonConfig
with neither field grants no namespace**: a second NeonConfig (another organization, another
key) made without tenancy in mind fails closed instead of serving every tenant. Only cluster
admins write NeonConfigs; tenants with ``edit`` cannot read or change them.

Enforced twice, with the same rule:

* at admission, by the ValidatingAdmissionPolicy :data:`neon_operator.admission.GRANT_POLICY`
  (the CEL in :func:`cel_granted`), when a NeonAppDatabase is created or its ``configRef``
  changes. Every other kind reaches Neon through its NeonAppDatabase (same namespace).
* in the operator, by :meth:`neon_operator.accounts.Accounts.get` with the resource's namespace:
  a grant revoked later turns every resource of that namespace ``Ready=False`` with reason
  ``NeonConfigNotGranted`` at its next reconcile or resync, retried every ``retryDelay`` at no
  Neon cost. Deleting a resource still deletes what the operator made for it in Neon: only
  the operator writes the ids in status, so revoking never strands a project.

A namespace's labels are read only when the selector decides, and cached for a short while
(:class:`NamespaceLabels`): steady state costs no apiserver reads per reconcile.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable, Mapping
from typing import Final, Protocol

from neon_operator.models import READY, NamespaceSelector, NeonConfigSpec, SelectorOperator, Status

__all__ = [
    "REASON",
    "NamespaceLabels",
    "cel_granted",
    "decided_by_name",
    "describe",
    "granted",
    "message",
    "revoked",
    "selects",
]

REASON: Final = "NeonConfigNotGranted"
"""The condition reason of a resource whose namespace its NeonConfig does not grant."""

LABELS_TTL: Final = 30.0
"""Seconds a Namespace's labels are trusted before they are read again."""


def matches_name(pattern: str, namespace: str) -> bool:
    """Whether ``namespace`` matches one ``allowedNamespaces`` entry (a name or a glob)."""
    return fnmatch.fnmatchcase(namespace, pattern)


def selects(selector: NamespaceSelector, labels: Mapping[str, str]) -> bool:
    """Whether ``selector`` selects a Namespace carrying ``labels`` (Kubernetes' semantics)."""
    if any(labels.get(key) != value for key, value in selector.match_labels.items()):
        return False
    for requirement in selector.match_expressions:
        present = requirement.key in labels
        chosen = present and labels[requirement.key] in requirement.values
        ok = {
            SelectorOperator.IN: chosen,
            SelectorOperator.NOT_IN: not chosen,
            SelectorOperator.EXISTS: present,
            SelectorOperator.DOES_NOT_EXIST: not present,
        }[requirement.operator]
        if not ok:
            return False
    return True


def decided_by_name(spec: NeonConfigSpec, namespace: str) -> bool | None:
    """The answer when the namespace's name settles it; ``None`` when its labels must decide."""
    if any(matches_name(pattern, namespace) for pattern in spec.allowed_namespaces or ()):
        return True
    return None if spec.namespace_selector is not None else False


def granted(spec: NeonConfigSpec, namespace: str, labels: Mapping[str, str]) -> bool:
    """Whether a NeonConfig with ``spec`` serves ``namespace`` (whose labels are ``labels``)."""
    by_name = decided_by_name(spec, namespace)
    if by_name is not None:
        return by_name
    assert spec.namespace_selector is not None
    return selects(spec.namespace_selector, labels)


def describe(spec: NeonConfigSpec) -> str:
    """What a NeonConfig grants, for people: ``namespaces matching a, b-*; …``."""
    parts = []
    if spec.allowed_namespaces:
        parts.append("namespaces " + ", ".join(spec.allowed_namespaces))
    selector = spec.namespace_selector
    if selector is not None:
        terms = [f"{key}={value}" for key, value in sorted(selector.match_labels.items())]
        for requirement in selector.match_expressions:
            values = ",".join(requirement.values)
            terms.append(f"{requirement.key} {requirement.operator.value} ({values})".strip())
        parts.append(
            "namespaces labelled " + ", ".join(terms) if terms else "every namespace (selector {})"
        )
    return "; ".join(parts) if parts else "no namespace"


def message(config: str, namespace: str, spec: NeonConfigSpec) -> str:
    """The ``NeonConfigNotGranted`` message: what is wrong, and the two ways to fix it."""
    if spec.allowed_namespaces is None and spec.namespace_selector is None:
        grants = "it grants no namespace: it sets neither spec.allowedNamespaces nor "
        grants += "spec.namespaceSelector"
    else:
        grants = f"it grants {describe(spec)}"
    return (
        f"NeonConfig {config!r} is not granted to namespace {namespace!r} ({grants}): a cluster "
        f"admin adds {namespace!r} to the NeonConfig's spec.allowedNamespaces (or labels the "
        "namespace to match its spec.namespaceSelector), or point spec.configRef.name at a "
        "NeonConfig granted to this namespace"
    )


STOPPED_ON_CONFIG: Final = frozenset({REASON, "ApiKeyRejected"})
"""Reasons a resource stops on its NeonConfig that lift without a change of the resource: its
grant revoked, its key rejected (see :mod:`neon_operator.accounts`)."""


def revoked(status: Status) -> bool:
    """Whether a resource last stopped on its NeonConfig (:data:`STOPPED_ON_CONFIG`): its next
    resync must reconcile in full (not only check its Secret), so that it turns Ready again
    once the grant or a valid key is back."""
    ready = status.condition(READY)
    return ready is not None and ready.reason in STOPPED_ON_CONFIG


class LabelSource(Protocol):
    """Where :class:`NamespaceLabels` reads labels (:class:`neon_operator.kube.Kube` does)."""

    async def read_namespace_labels(self, name: str) -> dict[str, str] | None: ...


class NamespaceLabels:
    """Namespaces' labels, read when a selector needs them and trusted for ``ttl`` seconds.

    A label removed from a namespace therefore revokes its grant within ``ttl`` plus one resync.
    A namespace that does not exist has no labels.
    """

    def __init__(
        self,
        source: LabelSource,
        *,
        ttl: float = LABELS_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, dict[str, str]]] = {}

    async def get(self, namespace: str) -> dict[str, str]:
        now = self._clock()
        cached = self._cache.get(namespace)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        labels = await self._source.read_namespace_labels(namespace) or {}
        self._cache[namespace] = (now, labels)
        return labels


def cel_granted(config: str, namespace: str, labels: str) -> str:
    """The grant rule as CEL over a NeonConfig ``config``, a namespace name ``namespace`` and
    its labels map ``labels`` (each a CEL expression): what the admission policy evaluates.

    Globs become anchored regular expressions: a namespace pattern holds only ``a-z 0-9 - * ?``,
    none of them special to RE2 outside ``*`` and ``?``.
    """
    spec = f"{config}.spec"
    selector = f"{spec}.namespaceSelector"
    by_name = (
        f"(has({spec}.allowedNamespaces) && {spec}.allowedNamespaces.exists(p, "
        f"{namespace}.matches('^' + p.replace('*', '[-a-z0-9]*').replace('?', '[-a-z0-9]') "
        "+ '$')))"
    )
    match_labels = (
        f"(!has({selector}.matchLabels) || {selector}.matchLabels.all(k, "
        f"k in {labels} && {labels}[k] == {selector}.matchLabels[k]))"
    )
    chosen = f"(e.key in {labels} && {labels}[e.key] in e.values)"
    expressions = (
        f"(!has({selector}.matchExpressions) || {selector}.matchExpressions.all(e, "
        f"e.operator == 'In' ? {chosen} : e.operator == 'NotIn' ? !{chosen} : "
        f"e.operator == 'Exists' ? e.key in {labels} : !(e.key in {labels})))"
    )
    by_labels = f"(has({selector}) && {match_labels} && {expressions})"
    return f"{by_name} || {by_labels}"
