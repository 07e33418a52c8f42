"""The operator's Kubernetes requests are counted by verb and resource, never by name."""

from __future__ import annotations

import pytest

from neon_operator.kubecalls import describe

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("method", "path", "watch", "expected"),
    [
        ("GET", "/api/v1/namespaces/team-a/secrets/todo-neon", False, ("get", "secrets")),
        ("GET", "/api/v1/namespaces/team-a/secrets", False, ("list", "secrets")),
        ("GET", "/api/v1/secrets", True, ("watch", "secrets")),
        ("POST", "/api/v1/namespaces/team-a/events", False, ("create", "events")),
        ("PUT", "/api/v1/namespaces/team-a/secrets/todo-neon", False, ("update", "secrets")),
        (
            "PATCH",
            "/apis/neon.operator.dev/v1alpha1/namespaces/team-a/neonappdatabases/todo/status",
            False,
            ("patch", "neonappdatabases/status"),
        ),
        (
            "GET",
            "/apis/neon.operator.dev/v1alpha1/neonconfigs/default",
            False,
            ("get", "neonconfigs"),
        ),
        ("GET", "/api/v1/namespaces/team-a", False, ("get", "namespaces")),
    ],
)
def test_a_request_is_described_by_verb_and_resource(
    method: str, path: str, watch: bool, expected: tuple[str, str]
) -> None:
    assert describe(method, path, watch=watch) == expected
