"""Route handlers, one module per kind of resource (each exposes a ``routes`` table).

Handlers are thin: parse and validate the request, look things up on behalf of the caller
(:mod:`neon_emulator.lookups`), change records (often through
:mod:`neon_emulator.provisioning`), submit operations, and render with
:mod:`neon_emulator.views`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web


def reply(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


def no_content() -> web.Response:
    """Neon's answer to deleting something that is already gone."""
    return web.Response(status=204)
