"""The proxy authenticates clients itself, as Neon's proxy does: SCRAM-SHA-256, and
SCRAM-SHA-256-PLUS over TLS with ``tls-server-end-point`` channel binding on the proxy's own
certificate (so ``channel_binding=require`` works although the proxy terminates TLS).

The exchange follows PostgreSQL's (``AuthenticationSASL`` → ``SASLInitialResponse`` →
``AuthenticationSASLContinue`` → ``SASLResponse`` → ``AuthenticationSASLFinal``); the SCRAM
arithmetic is PyPI ``scramp``'s. The secret checked against is the role's own SCRAM verifier in
the branch's ``pg_authid`` -- the password the API reports, or one a client set with SQL -- so
the proxy and a direct login agree on who may connect. An unknown role or one without a SCRAM
password goes through the same exchange with a throwaway secret and fails the same way
(PostgreSQL's answer to user enumeration). After success the proxy opens the backend session on
a socket only the emulator can reach, where the server trusts it
(:mod:`neon_emulator.postgres.clusters`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import secrets
import struct

import scramp

logger = logging.getLogger(__name__)

SASL = 10
SASL_CONTINUE = 11
SASL_FINAL = 12
PLAIN = "SCRAM-SHA-256"
PLUS = "SCRAM-SHA-256-PLUS"
CHANNEL_BINDING = "tls-server-end-point"

AuthInfo = tuple[bytes, bytes, bytes, int]
"""What ``scramp`` checks a proof against: salt, StoredKey, ServerKey, iteration count."""


class Failed(Exception):
    """The client did not authenticate; the message and SQLSTATE go back to it."""

    def __init__(self, message: str, code: str = "28P01") -> None:
        super().__init__(message)
        self.code = code


def parse_verifier(verifier: str | None) -> AuthInfo | None:
    """``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` (``pg_authid``) → parts."""
    if not verifier or not verifier.startswith(f"{PLAIN}$"):
        return None
    try:
        _, head, keys = verifier.split("$")
        iterations, salt = head.split(":")
        stored_key, server_key = keys.split(":")
        return (
            base64.b64decode(salt, validate=True),
            base64.b64decode(stored_key, validate=True),
            base64.b64decode(server_key, validate=True),
            int(iterations),
        )
    except (ValueError, binascii.Error):
        return None


def _throwaway() -> AuthInfo:
    info = scramp.ScramMechanism(PLAIN).make_auth_info(secrets.token_urlsafe(24))
    return info[0], info[1], info[2], info[3]


def _message(code: int, payload: bytes = b"") -> bytes:
    body = struct.pack("!I", code) + payload
    return b"R" + struct.pack("!I", len(body) + 4) + body


async def _read(reader: asyncio.StreamReader, expected: bytes = b"p") -> bytes:
    header = await asyncio.wait_for(reader.readexactly(5), 30)
    (length,) = struct.unpack("!I", header[1:])
    if header[:1] != expected or not 4 <= length <= 10_000:
        raise Failed("expected a SASL response message", "08P01")
    return await asyncio.wait_for(reader.readexactly(length - 4), 30)


def _set_client_first(server: scramp.core.ScramServer, client_first: str) -> None:
    """libpq leaves the SCRAM user name empty (``n=,``: PostgreSQL takes the startup packet's),
    which ``scramp`` refuses to parse. It parses a stand-in, then signs with the message the
    client really sent: the proof covers the bare client-first message as sent."""
    header_end = client_first.find(",", client_first.find(",") + 1) + 1
    bare = client_first[header_end:]
    if not bare.startswith("n=,"):
        server.set_client_first(client_first)
        return
    server.set_client_first(client_first[:header_end] + "n=*" + bare[2:])
    server.client_first_bare = bare


async def authenticate(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    user: str,
    verifier: str | None,
    certificate_pem: str | None,
) -> None:
    """Run the SCRAM exchange for ``user`` against ``verifier``; raise :class:`Failed` unless
    the client proved it knows the password. ``certificate_pem``: the TLS certificate the
    client sees (``None`` without TLS: no ``-PLUS``)."""
    info = parse_verifier(verifier) or _throwaway()
    mechanisms = [PLUS, PLAIN] if certificate_pem else [PLAIN]
    writer.write(_message(SASL, b"".join(m.encode() + b"\0" for m in mechanisms) + b"\0"))
    await writer.drain()

    initial = await _read(reader)
    name, sep, rest = initial.partition(b"\0")
    mechanism = name.decode(errors="replace")
    if not sep or mechanism not in mechanisms or len(rest) < 4:
        raise Failed(f"SASL authentication mechanism {mechanism!r} is not supported", "08P01")
    (size,) = struct.unpack("!i", rest[:4])
    client_first = rest[4 : 4 + size].decode() if size > 0 else ""
    binding = (CHANNEL_BINDING, certificate_pem) if certificate_pem else None
    server = scramp.ScramMechanism(mechanism).make_server(lambda _: info, channel_binding=binding)
    failure = f'password authentication failed for user "{user}"'
    try:
        _set_client_first(server, client_first)
        writer.write(_message(SASL_CONTINUE, server.get_server_first().encode()))
        await writer.drain()
        server.set_client_final((await _read(reader)).decode())
    except scramp.ScramException as exc:
        logger.info("SCRAM exchange for %r failed: %s", user, exc)
        raise Failed(failure) from exc
    if verifier is None or parse_verifier(verifier) is None:
        raise Failed(failure)  # a throwaway secret cannot have been proved, but never let it in
    writer.write(_message(SASL_FINAL, server.get_server_final().encode()))
    await writer.drain()
