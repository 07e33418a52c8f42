"""Neon Auth's building blocks without a server: JWTs and their JWKS, Better Auth's password
hashes, trusted origins (pure logic)."""

from __future__ import annotations

import time

import jwt
import pytest

from neon_emulator import records
from neon_emulator.neonauth import keys, origins, passwords

pytestmark = pytest.mark.unit


def test_a_jwt_verifies_with_its_jwks_and_not_with_another() -> None:
    private = keys.new_signing_key()
    token = keys.sign({"sub": "u1", "role": "authenticated"}, private, issuer="http://h:1")
    claims = keys.verify(token, keys.public_jwks(private), audience="http://h:1")
    assert (claims["sub"], claims["iss"], claims["aud"]) == ("u1", "http://h:1", "http://h:1")
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert jwt.get_unverified_header(token)["alg"] == "EdDSA"
    assert "d" not in keys.public_jwks(private)["keys"][0]
    other = keys.new_signing_key()
    other["kid"] = private["kid"]
    with pytest.raises(keys.InvalidToken, match="JWSInvalidSignature"):
        keys.verify(token, keys.public_jwks(other))
    with pytest.raises(keys.InvalidToken, match="audience"):
        keys.verify(token, keys.public_jwks(private), audience="https://elsewhere")


def test_an_expired_jwt_is_refused() -> None:
    private = keys.new_signing_key()
    payload = {"sub": "u1", "exp": int(time.time()) - 5, "iat": int(time.time()) - 100}
    token = jwt.encode(payload, jwt.PyJWK(private).key, algorithm="EdDSA")
    with pytest.raises(keys.InvalidToken, match="expired"):
        keys.verify(token, keys.public_jwks(private))


async def test_password_hashes_are_better_auth_scrypt() -> None:
    stored = await passwords.hash_password("correct horse")
    salt, key = stored.split(":")
    assert (len(salt), len(key)) == (32, 128)
    assert await passwords.verify_password(stored, "correct horse")
    assert not await passwords.verify_password(stored, "wrong horse")


def _auth(domains: list[str], allow_localhost: bool) -> records.NeonAuth:
    return records.NeonAuth(
        project_id="p",
        branch_id="b",
        auth_provider="better_auth",
        auth_provider_project_id="x",
        pub_client_key="",
        secret_server_key="",
        db_name="neondb",
        created_at="",
        allow_localhost=allow_localhost,
        domains=[{"domain": d, "auth_provider": "better_auth"} for d in domains],
    )


def test_trusted_origins_are_own_origin_trusted_domains_and_localhost_when_allowed() -> None:
    own = "http://127.0.0.1:8080"
    auth = _auth(["https://app.example.com", "https://*.preview.example.com"], True)
    assert origins.trusted(auth, own, "/dashboard")
    assert origins.trusted(auth, own, "http://127.0.0.1:8080/x")
    assert origins.trusted(auth, own, "https://app.example.com/welcome")
    assert origins.trusted(auth, own, "https://pr-1.preview.example.com/")
    assert not origins.trusted(auth, own, "http://app.example.com/")
    assert not origins.trusted(auth, own, "https://evil.com/?https://app.example.com")
    assert not origins.trusted(auth, own, "//evil.com/")
    assert origins.trusted(auth, own, "http://localhost:3000/")
    assert not origins.trusted(_auth([], False), own, "http://localhost:3000/")
