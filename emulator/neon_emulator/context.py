"""Everything a request handler needs, bundled once per server and stored on the app."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from neon_emulator.dataplane import DataPlane
from neon_emulator.hosts import Addresses
from neon_emulator.operations import OperationRunner
from neon_emulator.ratelimit import RateLimiter
from neon_emulator.requesthistory import RequestHistory
from neon_emulator.settings import Knobs, Settings
from neon_emulator.store import Store


@dataclass
class Context:
    settings: Settings
    knobs: Knobs
    store: Store
    dataplane: DataPlane
    runner: OperationRunner
    limiter: RateLimiter
    addresses: Addresses
    requests: RequestHistory


CONTEXT = web.AppKey("neon_emulator.context", Context)


def of(request: web.Request) -> Context:
    return request.config_dict[CONTEXT]
