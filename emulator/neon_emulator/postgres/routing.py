"""Proxy routing: what a client connection to an endpoint reaches (the proxy's
:class:`~neon_emulator.postgres.proxy.Router`).

An endpoint on a deleted project, or of a deleted branch, does not exist; a ``disabled`` one
refuses connections. A connection waits while the endpoint's branch is still getting its data
(a new branch, a restore) or its compute is being restarted by an operation (a finalized
restore moves it): until then it would see data other than what the API already answered
with. Then the compute wakes if suspended (:mod:`.activity`), and the proxy gets the server's
private socket, a lease for the connection, and the role secrets to authenticate against.
Read-only endpoints connect to the same server with ``default_transaction_read_only=on``.
"""

from __future__ import annotations

import asyncio
import logging
import time

from neon_emulator import operations, records
from neon_emulator.postgres import proxy
from neon_emulator.postgres.activity import Activity
from neon_emulator.postgres.lifecycle import Clusters

logger = logging.getLogger(__name__)

NOT_FOUND = (
    "The requested endpoint could not be found, or you don't have access to it. "
    "Please check the provided ID and try again."
)
DATA_INTENTS = frozenset({"create_branch", "restore_branch"})
"""Operations that give a branch its data: connections to it wait until they are done."""
ENDPOINT_INTENTS = frozenset({"suspend_compute", "start_compute"})
"""Operations that restart an endpoint's compute: connections to it wait until they are done."""
SETTLE_TIMEOUT = 120.0
"""Seconds a connection waits for such operations before it is refused."""


class Routing:
    def __init__(self, clusters: Clusters, activity: Activity) -> None:
        self.clusters = clusters
        self.activity = activity

    async def route(self, endpoint_id: str, pooled: bool, params: dict[str, str]) -> proxy.Route:
        await self._settled(endpoint_id)
        store = self.clusters.store
        endpoint = store.endpoints.get(endpoint_id)
        project = store.projects.get(endpoint.project_id) if endpoint else None
        if endpoint is None or project is None or project.deleted_at is not None:
            raise proxy.Refused(NOT_FOUND, "XX000")
        if endpoint.disabled:
            raise proxy.Refused(f"endpoint {endpoint_id} is disabled", "XX000")
        branch = self.clusters.branch(endpoint.branch_id)
        if branch is None or branch.deleted:
            raise proxy.Refused(NOT_FOUND, "XX000")
        try:
            await self.activity.awake(endpoint, branch)
            cluster = await self.clusters.ensure_running(branch)
        except Exception as exc:
            logger.exception("could not start compute for %s", endpoint_id)
            raise proxy.Refused(f"Couldn't connect to compute node: {exc}", "08006") from exc
        assert cluster.port is not None
        options = ["-c", "default_transaction_read_only=on"] if endpoint.type == "read_only" else []
        return proxy.Route(
            host="127.0.0.1",
            port=cluster.port,
            socket=cluster.socket,
            lease=self.activity.lease(endpoint, branch),
            secret=cluster.role_secret,
            options=options,
        )

    def _unsettled(self, endpoint_id: str) -> bool:
        store = self.clusters.store
        endpoint = store.endpoints.get(endpoint_id)
        if endpoint is None:
            return False
        return any(
            op.status in records.RUNNING_STATUSES
            and op.intent != operations.OBSERVED
            and (
                (op.intent in DATA_INTENTS and op.branch_id == endpoint.branch_id)
                or (op.intent in ENDPOINT_INTENTS and op.endpoint_id == endpoint_id)
            )
            for op in store.operations.in_project(endpoint.project_id)
        )

    async def _settled(self, endpoint_id: str) -> None:
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while self._unsettled(endpoint_id):
            if time.monotonic() > deadline:
                raise proxy.Refused(
                    f"Couldn't connect to compute node: endpoint {endpoint_id} is still being "
                    "prepared (its operations are running)",
                    "08006",
                )
            await asyncio.sleep(0.02)
