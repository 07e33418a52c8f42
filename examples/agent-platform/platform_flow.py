"""An agent platform's backend, driving neon-operator through the Kubernetes API only.

Copy what you need. Each function is one thing a platform does for its users; ``main`` runs the
whole life of one user's app, the way an agent session would:

1. sign up a free user            -> a namespace of their own, labelled with their tier
2. create their app's database    -> a NeonAppDatabase (tier ``free``: the sponsored org)
3. the app writes                 -> through ``DATABASE_URL`` from the connection Secret
4. checkpoint                     -> a NeonSnapshot
5. more writes                    -> the agent keeps working
6. revert to the checkpoint       -> a NeonRestore (one step: the Secret keeps working)
7. upgrade to paid                -> ``spec.tier: paid`` (Neon transfers the project)
8. delete                         -> the NeonAppDatabase (``deletionPolicy: Delete``), then the
                                     namespace

Needs the ``kubernetes`` client (and ``psycopg`` for the "app" that writes). Run it against any
cluster with the operator and a NeonConfig named ``default`` mapping ``free`` and ``paid``, e.g.
the local stack::

    neon-operator dev up --state-dir /tmp/neon-dev
    export KUBECONFIG=/tmp/neon-dev/kubeconfig
    neon-operator run &
    python examples/agent-platform/platform_flow.py
"""

from __future__ import annotations

import argparse
import base64
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from kubernetes import client, config
from kubernetes.client.rest import ApiException

GROUP, VERSION = "neon.operator.dev", "v1alpha1"
TIMEOUT = 180.0


class Platform:
    """The platform's side: users, their apps' databases, checkpoints, tiers."""

    def __init__(self, api: client.ApiClient, namespace_prefix: str = "user-") -> None:
        self.core = client.CoreV1Api(api)
        self.objects = client.CustomObjectsApi(api)
        self.prefix = namespace_prefix

    # -- users -----------------------------------------------------------------------------

    def sign_up(self, user_id: str, tier: str = "free") -> str:
        """A namespace for the user's apps; returns its name."""
        namespace = f"{self.prefix}{user_id}"
        labels = {"platform.example.com/user": user_id, "platform.example.com/tier": tier}
        self.core.create_namespace({"metadata": {"name": namespace, "labels": labels}})
        return namespace

    def close_account(self, namespace: str) -> None:
        self.core.delete_namespace(namespace)

    # -- databases -------------------------------------------------------------------------

    def create_database(self, namespace: str, app: str, tier: str = "free") -> dict[str, Any]:
        """One Neon project for the app, scaled to zero after 5 idle minutes; waits for Ready."""
        self._create(
            namespace,
            "neonappdatabases",
            "NeonAppDatabase",
            app,
            {
                "tier": tier,
                "compute": {"minCu": 0.25, "maxCu": 1, "suspendTimeoutSeconds": 300},
                "connectionSecret": {"name": f"{app}-db"},
                "deletionPolicy": "Delete",
            },
        )
        return self.wait_ready(namespace, "neonappdatabases", app)

    def database_url(self, namespace: str, app: str) -> str:
        """What the app gets through ``envFrom``: the pooled connection string."""
        secret = self.core.read_namespaced_secret(f"{app}-db", namespace)
        return base64.b64decode(secret.data["DATABASE_URL"]).decode()

    def change_tier(self, namespace: str, app: str, tier: str) -> dict[str, Any]:
        """Move the app's project to the tier's organization (Neon's transfer); waits for it."""
        self.objects.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, "neonappdatabases", app, {"spec": {"tier": tier}}
        )
        self.core.patch_namespace(
            namespace, {"metadata": {"labels": {"platform.example.com/tier": tier}}}
        )
        return self.wait_ready(
            namespace,
            "neonappdatabases",
            app,
            also=lambda body: body.get("status", {}).get("tier") == tier,
        )

    def delete_database(self, namespace: str, app: str) -> None:
        """Delete the NeonAppDatabase; the operator deletes the Neon project, then it is gone."""
        self.objects.delete_namespaced_custom_object(
            GROUP, VERSION, namespace, "neonappdatabases", app
        )
        self._wait(lambda: self._get(namespace, "neonappdatabases", app) is None, "deleted")

    # -- checkpoints -----------------------------------------------------------------------

    def checkpoint(self, namespace: str, app: str, name: str) -> dict[str, Any]:
        """A NeonSnapshot of the app's default branch; waits until Neon has taken it."""
        self._create(
            namespace, "neonsnapshots", "NeonSnapshot", name, {"appDatabaseRef": {"name": app}}
        )
        return self.wait_ready(namespace, "neonsnapshots", name)

    def revert(self, namespace: str, checkpoint: str, name: str) -> dict[str, Any]:
        """Roll the app's default branch back to ``checkpoint`` in one step; connection
        strings stay the same, the replaced branch is deleted."""
        self._create(
            namespace,
            "neonrestores",
            "NeonRestore",
            name,
            {"snapshotRef": {"name": checkpoint}, "mode": "Finalize", "oldBranchPolicy": "Delete"},
        )
        return self.wait_ready(namespace, "neonrestores", name)

    # -- plumbing --------------------------------------------------------------------------

    def wait_ready(
        self,
        namespace: str,
        plural: str,
        name: str,
        also: Callable[[dict[str, Any]], bool] = lambda body: True,
    ) -> dict[str, Any]:
        """Wait for ``Ready=True`` on the current generation; fail fast when ``Stalled``."""
        found: dict[str, Any] = {}

        def done() -> bool:
            body = self._get(namespace, plural, name) or {}
            found.update(body)
            conditions = {c["type"]: c for c in body.get("status", {}).get("conditions", [])}
            stalled = conditions.get("Stalled", {})
            if stalled.get("status") == "True":
                raise RuntimeError(f"{plural}/{name} is stalled: {stalled.get('message')}")
            ready = conditions.get("Ready", {})
            return (
                ready.get("status") == "True"
                and ready.get("observedGeneration") == body["metadata"]["generation"]
                and also(body)
            )

        self._wait(done, f"{plural}/{name} Ready")
        return found

    def _create(
        self, namespace: str, plural: str, kind: str, name: str, spec: dict[str, Any]
    ) -> None:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": kind,
            "metadata": {"name": name},
            "spec": spec,
        }
        self.objects.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, body)

    def _get(self, namespace: str, plural: str, name: str) -> dict[str, Any] | None:
        try:
            return dict(
                self.objects.get_namespaced_custom_object(GROUP, VERSION, namespace, plural, name)
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    @staticmethod
    def _wait(check: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not check():
            if time.monotonic() > deadline:
                raise TimeoutError(f"not {what} after {TIMEOUT:.0f}s")
            time.sleep(0.5)


def todos(url: str) -> list[str]:
    with psycopg.connect(url, connect_timeout=30) as db:
        return [row[0] for row in db.execute("select title from todos order by id")]


def write(url: str, *titles: str) -> None:
    with psycopg.connect(url, connect_timeout=30) as db:
        db.execute("create table if not exists todos (id serial primary key, title text)")
        for title in titles:
            db.execute("insert into todos (title) values (%s)", (title,))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", default=None)
    parser.add_argument("--namespace-prefix", default="user-")
    parser.add_argument("--user", default=uuid.uuid4().hex[:8])
    args = parser.parse_args(argv)
    platform = Platform(config.new_client_from_config(args.kubeconfig), args.namespace_prefix)

    namespace = platform.sign_up(args.user)
    print(f"1. signed up user {args.user}: namespace {namespace}, tier free")
    try:
        app = platform.create_database(namespace, "todo")
        print(
            f"2. app database ready: project {app['status']['projectId']} in organization "
            f"{app['status']['orgId']} (tier {app['status']['tier']})"
        )
        url = platform.database_url(namespace, "todo")
        write(url, "write the spec", "scaffold the app")
        print(f"3. the app wrote: {todos(url)}")
        snap = platform.checkpoint(namespace, "todo", "before-refactor")
        print(f"4. checkpoint {snap['status']['snapshotId']} taken")
        write(url, "refactor everything (oops)")
        print(f"5. more writes: {todos(url)}")
        platform.revert(namespace, "before-refactor", "undo-refactor")
        reverted = todos(url)
        assert reverted == ["write the spec", "scaffold the app"], reverted
        print(f"6. reverted to the checkpoint, same DATABASE_URL: {reverted}")
        paid = platform.change_tier(namespace, "todo", "paid")
        assert todos(url) == reverted
        print(
            f"7. upgraded to paid: project now in organization {paid['status']['orgId']}, "
            "data and connection string unchanged"
        )
        platform.delete_database(namespace, "todo")
        print("8. app database deleted (and its Neon project)")
    finally:
        platform.close_account(namespace)
    print("done")


if __name__ == "__main__":
    main()
