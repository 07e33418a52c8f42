"""``neon-emulator serve``: run the emulator until SIGINT/SIGTERM.

``bootstrap.json`` in the state directory appears once the socket is bound (with the real port
when ``--port 0``) and ``GET /healthz`` answers 200 from then on; launchers wait for both.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

from aiohttp import web

from neon_emulator import bootstrap
from neon_emulator.app import create_app
from neon_emulator.context import Context
from neon_emulator.dataplane import DataPlane, NoDataPlane
from neon_emulator.hosts import Addresses
from neon_emulator.operations import OperationRunner
from neon_emulator.ratelimit import RateLimiter
from neon_emulator.requesthistory import RequestHistory
from neon_emulator.settings import Faults, Knobs, RateLimits, Settings
from neon_emulator.store import Store


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="neon-emulator", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the Neon API v2")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--state-dir", type=Path, required=True)
    serve.add_argument(
        "--operation-latency",
        type=float,
        default=0.5,
        help="seconds for a mutation's operations to finish (Neon: ~0.5)",
    )
    serve.add_argument("--rate-limit-per-minute", type=int, default=700, help="0 disables")
    serve.add_argument("--burst-per-second", type=int, default=40, help="0 disables")
    serve.add_argument("--fault-5xx-probability", type=float, default=0.0)
    serve.add_argument("--fault-latency", type=float, default=0.0, help="seconds added")
    serve.add_argument("--fault-423-probability", type=float, default=0.0)
    serve.add_argument(
        "--host-domain",
        default="neon.tech",
        help="compute hosts are <ep-id>.<region>.<platform>.<host-domain>",
    )
    serve.add_argument(
        "--postgres-port",
        type=int,
        default=None,
        help="port to put in connection URIs; with --postgres, the port the proxy listens on "
        "(default: the previous run's, else a free one)",
    )
    serve.add_argument(
        "--postgres",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="real PostgreSQL behind every branch, started lazily on first connection (default: "
        "on when the server binaries are installed; --no-postgres: control plane only, "
        "connection URIs carry Neon-shaped hosts that do not connect)",
    )
    serve.add_argument(
        "--cold-start-delay",
        type=float,
        default=0.3,
        help="seconds a connection waits while a suspended compute wakes (with --postgres)",
    )
    serve.add_argument(
        "--suspend-timeout-default",
        type=float,
        default=300.0,
        help="seconds of inactivity before suspending when suspend_timeout_seconds is 0",
    )
    serve.add_argument(
        "--log-level",
        default="INFO",
        help="INFO (default) logs one line per API request; WARNING keeps only problems",
    )
    return root


def build_context(settings: Settings, knobs: Knobs, dataplane: DataPlane | None = None) -> Context:
    store = Store(settings.state_dir / "state.sqlite3")
    plane = dataplane or NoDataPlane()
    return Context(
        settings=settings,
        knobs=knobs,
        store=store,
        dataplane=plane,
        runner=OperationRunner(store, knobs, plane),
        limiter=RateLimiter(knobs.rate_limits),
        addresses=Addresses(settings, plane),
        requests=RequestHistory(),
    )


def _bound_port(site: web.TCPSite, requested: int) -> int:
    """The port actually bound (differs from ``requested`` when that was 0)."""
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    return int(sockets[0].getsockname()[1]) if sockets else requested


async def serve(settings: Settings, knobs: Knobs, dataplane: DataPlane | None = None) -> None:
    """Serve until SIGINT/SIGTERM; ``dataplane`` defaults to none (control plane only)."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    ctx = build_context(settings, knobs, dataplane)
    account = bootstrap.ensure_account(ctx.store)
    runner = web.AppRunner(create_app(ctx), access_log=None)
    await ctx.dataplane.start(ctx.store)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    port = _bound_port(site, settings.port)
    advertised = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    host = advertised if ":" not in advertised else f"[{advertised}]"
    ctx.addresses.serve_at(f"http://{host}:{port}")
    api_url = f"http://{host}:{port}{settings.api_prefix}"
    bootstrap.write(settings.state_dir / "bootstrap.json", api_url, account)
    logging.getLogger(__name__).warning("neon-emulator serving %s", api_url)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await ctx.dataplane.close()
        await runner.cleanup()


def _dataplane(args: argparse.Namespace, settings: Settings) -> DataPlane | None:
    """The data plane ``--postgres``/``--no-postgres`` asks for; without either, PostgreSQL
    when its binaries are installed (else the control plane alone, with a warning)."""
    if args.postgres is False:
        return None
    from neon_emulator.postgres import PlaneSettings, PostgresDataPlane, binaries

    try:
        binaries.find()
    except binaries.MissingBinaries as exc:
        if args.postgres:
            raise SystemExit(f"neon-emulator: {exc}") from None
        logging.getLogger(__name__).warning(
            "%s; serving the control plane only (connection URIs will not connect)", exc
        )
        return None

    advertised = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return PostgresDataPlane(
        PlaneSettings(
            root=settings.state_dir / "postgres",
            listen_host=settings.host,
            port=args.postgres_port or 0,
            advertised_host=advertised,
            host_domain=settings.host_domain,
            cold_start_delay=args.cold_start_delay,
            default_suspend_seconds=args.suspend_timeout_default,
        )
    )


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    settings = Settings(
        state_dir=args.state_dir,
        host=args.host,
        port=args.port,
        host_domain=args.host_domain,
        postgres_port=args.postgres_port,
    )
    knobs = Knobs(
        operation_latency=args.operation_latency,
        faults=Faults(
            error_5xx_probability=args.fault_5xx_probability,
            latency_seconds=args.fault_latency,
            locked_probability=args.fault_423_probability,
        ),
        rate_limits=RateLimits(
            per_minute=args.rate_limit_per_minute, burst_per_second=args.burst_per_second
        ),
    )
    asyncio.run(serve(settings, knobs, _dataplane(args, settings)))
    return 0
