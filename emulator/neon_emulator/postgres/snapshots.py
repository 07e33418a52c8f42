"""Snapshot seeds: a snapshot's data is a seed under ``projects/<project>/snapshots/<snapshot>/``,
captured like a branch point (:mod:`.capture`: pinned "now", an LSN or a timestamp); restoring
one makes a new branch whose seed is the snapshot's (hard links: seeds are never written); its
endpoints start it on first connection. Deleting a snapshot drops its seed.
"""

from __future__ import annotations

from neon_emulator import records
from neon_emulator.postgres import branches, clusters
from neon_emulator.postgres.branches import SeedDir
from neon_emulator.postgres.capture import Capture
from neon_emulator.postgres.lifecycle import Clusters


class Snapshots:
    def __init__(self, clusters: Clusters, capture: Capture) -> None:
        self.clusters = clusters
        self.capture = capture

    def seed(self, project_id: str, snapshot_id: str) -> SeedDir:
        return branches.snapshot_seed(self.clusters.settings.root, project_id, snapshot_id)

    async def create_snapshot(self, op: records.Operation) -> None:
        """``create_snapshot``: capture the branch at the snapshot's point; its real LSN and
        size go on the snapshot record."""
        store = self.clusters.store
        branch = self.clusters.branch(op.branch_id)
        snapshot = store.snapshots.get(str(op.subject.get("snapshot_id")))
        if branch is None or snapshot is None:
            return
        seed = self.seed(branch.project_id, snapshot.id)
        lsn = await self.capture.capture(branch, self.capture.point(op.subject), seed)
        snapshot = store.snapshots.get(snapshot.id)
        if snapshot is not None:
            if lsn:
                snapshot.lsn = lsn
            snapshot.full_size = branches.tree_size(seed.own) if seed.own.exists() else 0
            store.snapshots.put(snapshot)

    async def delete_snapshot(self, op: records.Operation) -> None:
        """``delete_snapshot``: drop the snapshot's seed."""
        clusters.remove_tree(self.seed(op.project_id, str(op.subject.get("snapshot_id"))).directory)

    async def restore_into(self, branch: records.Branch, snapshot_id: str) -> None:
        """``create_branch`` from a snapshot: the snapshot's seed becomes the branch's."""
        server = await self.clusters.server()
        seed = self.seed(branch.project_id, snapshot_id)
        await branches.adopt_seed(server, seed, self.clusters.files(branch).seed)
