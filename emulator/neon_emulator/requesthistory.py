"""The API requests the emulator answered, kept in memory so a test or benchmark can count a
client's calls from the server's side (``GET /admin/requests``), not only from what the client
says it sent. (:mod:`neon_emulator.requestlog` writes the same requests to the log, for people.)

Bounded: the last :data:`CAPACITY` requests, each with a sequence number; a reader remembers the
last number it saw and asks for what came after it.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Final

__all__ = ["CAPACITY", "Entry", "RequestHistory"]

CAPACITY: Final = 100_000


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    method: str
    path: str
    """The request's path under the API prefix (``/projects/<id>``), without its query."""
    route: str
    """The route template it matched (``/projects/{project_id}``), or the path if none did."""
    status: int


class RequestHistory:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self._entries: collections.deque[Entry] = collections.deque(maxlen=capacity)
        self.last = 0
        """The sequence number of the latest request (0: none yet)."""

    def record(self, method: str, path: str, route: str, status: int) -> None:
        self.last += 1
        self._entries.append(Entry(self.last, method, path, route, status))

    def after(self, seq: int) -> list[Entry]:
        """The requests still held whose sequence number is above ``seq``, oldest first."""
        return [entry for entry in self._entries if entry.seq > seq]
