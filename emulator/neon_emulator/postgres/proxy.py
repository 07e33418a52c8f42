"""The front door: one loopback port for every endpoint, speaking the Postgres wire protocol up to
the startup message, the way Neon's proxy does.

1. ``SSLRequest`` → ``S`` and a TLS handshake (self-signed certificate; the client's SNI is kept);
   ``GSSENCRequest`` → ``N``; plaintext clients are welcome too.
2. The startup message names the endpoint: ``options=endpoint=<ep-id>`` (Neon's documented way
   for clients without SNI; removed before the server sees ``options``), else the first label of
   the SNI host name (``<ep-id>[-pooler].…``). Neither → Neon's own "Endpoint ID is not
   specified" error. Neon's time-travel options (``neon_timestamp:``, ``neon_lsn:``) are refused
   with ``0A000`` and a message that says how to get the same view (a branch at that point).
3. The :class:`Router` wakes the endpoint's compute (or refuses: unknown, disabled) and says where
   its PostgreSQL listens.
4. The proxy authenticates the client itself (SCRAM-SHA-256, or -PLUS with channel binding over
   TLS: :mod:`neon_emulator.postgres.authentication`) against the role's verifier in that
   server, then opens the session on the server's private socket, which trusts it; from then
   on bytes are piped both ways.
5. ``CancelRequest`` is forwarded to the server that issued the key (learned from
   ``BackendKeyData`` while piping).

Refusals are ``ErrorResponse`` messages with SQLSTATE codes, so drivers report them like any
server error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from neon_emulator.postgres import authentication
from neon_emulator.postgres.tls import SNI_ATTRIBUTE

logger = logging.getLogger(__name__)

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
PROTOCOL_3 = 3 << 16

NO_ENDPOINT = (
    "Endpoint ID is not specified. Either please upgrade the postgres client library (libpq) "
    "for SNI support or pass the endpoint ID (first part of the domain name) as a parameter: "
    "'?options=endpoint%3D<endpoint-id>'. See more at https://neon.tech/sni"
)


class Refused(Exception):
    """The connection is refused with this message and SQLSTATE ``code``."""

    def __init__(self, message: str, code: str = "08004") -> None:
        super().__init__(message)
        self.code = code


class Lease(Protocol):
    """One client connection as the data plane accounts for it."""

    def attach(self, close: Callable[[], None]) -> None:
        """Remember how to drop this connection (suspend, delete, disable)."""

    def touch(self, nbytes: int) -> None:
        """Bytes went through: the compute is active."""

    def release(self) -> None:
        """The connection ended."""


@dataclass
class Route:
    host: str
    port: int
    """The server's TCP address (cancel requests go there)."""

    socket: str
    """The server's private Unix socket, where it trusts the proxy's sessions."""

    lease: Lease
    secret: Callable[[str], Awaitable[str | None]]
    """A role's SCRAM verifier in that server (``None``: no such role or no SCRAM password)."""

    options: list[str] = field(default_factory=list)
    """Extra server options (``-c name=value``) for this session, e.g. read-only endpoints."""


class Router(Protocol):
    async def route(self, endpoint_id: str, pooled: bool, params: dict[str, str]) -> Route:
        """Wake the endpoint's compute and say where it listens, or raise :class:`Refused`."""


def error_response(message: str, code: str = "08004", severity: str = "FATAL") -> bytes:
    body = b"".join(
        tag + value.encode() + b"\0"
        for tag, value in ((b"S", severity), (b"V", severity), (b"C", code), (b"M", message))
    )
    body += b"\0"
    return b"E" + struct.pack("!I", len(body) + 4) + body


def parse_startup(payload: bytes) -> dict[str, str]:
    parts = payload.split(b"\0")
    params: dict[str, str] = {}
    for key, value in zip(parts[0::2], parts[1::2], strict=False):
        if not key:
            break
        params[key.decode(errors="replace")] = value.decode(errors="replace")
    return params


def encode_startup(version: int, params: dict[str, str]) -> bytes:
    body = struct.pack("!I", version)
    for key, value in params.items():
        body += key.encode() + b"\0" + value.encode() + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


def split_options(options: str) -> tuple[str | None, list[str]]:
    """``endpoint=<id>`` (or ``project=<id>``, Neon's older spelling) out of ``options``."""
    endpoint: str | None = None
    rest: list[str] = []
    for token in re.findall(r"(?:\\.|[^\s\\])+", options):
        key, sep, value = token.partition("=")
        if sep and key in ("endpoint", "project", "--endpoint", "--project"):
            endpoint = value
        else:
            rest.append(token)
    return endpoint, rest


TIME_TRAVEL = (
    "time-travel connections (options neon_timestamp:/neon_lsn:) are not emulated; create a "
    "branch at that point instead (POST /projects/{id}/branches with parent_timestamp or "
    "parent_lsn) and connect to it"
)


def time_travel(options: list[str]) -> bool:
    """Whether the client asks for Neon's time-travel view (``neon_timestamp:``/``neon_lsn:``),
    which the emulator refuses plainly rather than serving the branch's head instead."""
    return any(token.startswith(("neon_timestamp:", "neon_lsn:")) for token in options)


def endpoint_from_sni(server_name: str | None) -> str | None:
    if not server_name:
        return None
    label = server_name.split(".", 1)[0]
    return label if label.startswith("ep-") else None


def strip_pooler(endpoint_id: str) -> tuple[str, bool]:
    if endpoint_id.endswith("-pooler"):
        return endpoint_id[: -len("-pooler")], True
    return endpoint_id, False


class Proxy:
    def __init__(
        self,
        router: Router,
        tls: ssl.SSLContext | None,
        host: str,
        port: int,
        certificate_pem: str | None = None,
    ) -> None:
        self._router = router
        self._tls = tls
        self._certificate_pem = certificate_pem
        self._host = host
        self._requested_port = port
        self._server: asyncio.Server | None = None
        self._cancel_keys: dict[bytes, tuple[str, int]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self._host, self._requested_port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, TimeoutError):
            pass
        except Exception:
            logger.exception("proxy connection failed")
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    async def _read_message(self, reader: asyncio.StreamReader) -> tuple[int, bytes]:
        header = await asyncio.wait_for(reader.readexactly(8), 30)
        length, code = struct.unpack("!II", header)
        if length < 8 or length > 10_000:
            raise ConnectionError("bad startup packet length")
        payload = await asyncio.wait_for(reader.readexactly(length - 8), 30)
        return code, payload

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        code, payload = await self._read_message(reader)
        server_name: str | None = None
        while code in (SSL_REQUEST, GSSENC_REQUEST):
            encrypted = writer.get_extra_info("ssl_object") is not None
            if code == SSL_REQUEST and self._tls is not None and not encrypted:
                writer.write(b"S")
                await writer.drain()
                await writer.start_tls(self._tls)
                ssl_object = writer.get_extra_info("ssl_object")
                server_name = getattr(ssl_object, SNI_ATTRIBUTE, None)
            else:
                writer.write(b"N")
                await writer.drain()
            code, payload = await self._read_message(reader)
        if code == CANCEL_REQUEST:
            await self._forward_cancel(payload)
            return
        if code >> 16 != 3:
            writer.write(error_response("unsupported frontend protocol", "08P01"))
            await writer.drain()
            return
        params = parse_startup(payload)
        from_options, rest = split_options(params.get("options", ""))
        endpoint = from_options or endpoint_from_sni(server_name)
        if time_travel(rest):
            writer.write(error_response(TIME_TRAVEL, "0A000"))
            await writer.drain()
            return
        if endpoint is None:
            writer.write(error_response(NO_ENDPOINT, "08004"))
            await writer.drain()
            return
        endpoint_id, pooled = strip_pooler(endpoint)
        try:
            route = await self._router.route(endpoint_id, pooled, params)
        except Refused as exc:
            writer.write(error_response(str(exc), exc.code))
            await writer.drain()
            return
        try:
            user = params.get("user", "")
            tls = writer.get_extra_info("ssl_object") is not None
            try:
                await authentication.authenticate(
                    reader,
                    writer,
                    user,
                    await route.secret(user),
                    self._certificate_pem if tls else None,
                )
            except authentication.Failed as exc:
                writer.write(error_response(str(exc), exc.code))
                await writer.drain()
                return
            await self._pipe(reader, writer, code, params, rest, route)
        finally:
            route.lease.release()

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        version: int,
        params: dict[str, str],
        options: list[str],
        route: Route,
    ) -> None:
        forwarded = dict(params)
        options = options + route.options
        if options:
            forwarded["options"] = " ".join(options)
        else:
            forwarded.pop("options", None)
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(route.socket)
        except OSError as exc:
            writer.write(error_response(f"Couldn't connect to compute node: {exc}", "08006"))
            await writer.drain()
            return
        lease = route.lease

        def close() -> None:
            writer.transport.abort()
            up_writer.transport.abort()

        lease.attach(close)
        keys: list[bytes] = []
        try:
            up_writer.write(encode_startup(version, forwarded))
            await up_writer.drain()
            upstream = asyncio.create_task(self._copy(reader, up_writer, lease))
            downstream = asyncio.create_task(
                self._copy_from_server(up_reader, writer, lease, keys, (route.host, route.port))
            )
            _, pending = await asyncio.wait(
                {upstream, downstream}, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(BaseException):
                    await task
        finally:
            for key in keys:
                self._cancel_keys.pop(key, None)
            up_writer.close()

    async def _copy(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, lease: Lease
    ) -> None:
        with contextlib.suppress(ConnectionError, OSError, ssl.SSLError):
            while True:
                chunk = await source.read(65536)
                if not chunk:
                    break
                lease.touch(len(chunk))
                sink.write(chunk)
                await sink.drain()
        with contextlib.suppress(Exception):
            sink.close()

    async def _copy_from_server(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        lease: Lease,
        keys: list[bytes],
        address: tuple[str, int],
    ) -> None:
        """Pass server messages through, noting ``BackendKeyData`` until ``ReadyForQuery``."""
        ended = (ConnectionError, OSError, ssl.SSLError, asyncio.IncompleteReadError)
        with contextlib.suppress(*ended):
            while True:
                header = await source.readexactly(5)
                kind = header[:1]
                (length,) = struct.unpack("!I", header[1:])
                body = await source.readexactly(length - 4)
                if kind == b"K":
                    keys.append(body)
                    self._cancel_keys[body] = address
                sink.write(header + body)
                await sink.drain()
                if kind in (b"Z", b"E"):
                    break
        await self._copy(source, sink, lease)

    async def _forward_cancel(self, payload: bytes) -> None:
        address = self._cancel_keys.get(payload)
        if address is None:
            return
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection(*address)
            writer.write(struct.pack("!II", 16, CANCEL_REQUEST) + payload)
            await writer.drain()
            writer.close()
