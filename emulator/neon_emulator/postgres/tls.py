"""The front door's TLS: a self-signed certificate made at first start and kept in the state dir.

Clients that ask for ``sslmode=require`` get TLS (they do not verify the certificate, exactly as
with Neon under ``require``); the server name they send (SNI) is how Neon's proxy learns the
endpoint, so the handshake records it for :mod:`neon_emulator.postgres.proxy`.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SNI_ATTRIBUTE = "neon_emulator_sni"
"""Attribute set on the handshake's ``SSLObject`` holding the server name the client sent."""


def ensure_certificate(directory: Path, domain: str) -> tuple[Path, Path]:
    """``(cert, key)`` paths, generated once (valid ten years for localhost and ``*.domain``)."""
    cert_path = directory / "tls.crt"
    key_path = directory / "tls.key"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "neon-emulator")])
    now = datetime.datetime.now(datetime.UTC)
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.DNSName(f"*.{domain}"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)

    def remember_sni(
        connection: ssl.SSLSocket | ssl.SSLObject, server_name: str | None, _: ssl.SSLContext
    ) -> None:
        setattr(connection, SNI_ATTRIBUTE, server_name)

    context.sni_callback = remember_sni
    return context
