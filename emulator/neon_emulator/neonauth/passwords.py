"""Password hashes as Better Auth stores them in ``neon_auth.account.password``: scrypt (N=16384,
r=16, p=1, 64 bytes) of the NFKC-normalized password, salted with 16 random bytes, written
``<salt hex>:<key hex>``. The scrypt itself is the standard library's (OpenSSL).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import unicodedata

N, R, P, LENGTH = 16384, 16, 1, 64
MAX_MEMORY = 128 * N * R * 2


def _key(password: str, salt: str) -> bytes:
    normalized = unicodedata.normalize("NFKC", password).encode()
    return hashlib.scrypt(
        normalized, salt=salt.encode(), n=N, r=R, p=P, dklen=LENGTH, maxmem=MAX_MEMORY
    )


async def hash_password(password: str) -> str:
    salt = secrets.token_hex(16)
    key = await asyncio.get_running_loop().run_in_executor(None, _key, password, salt)
    return f"{salt}:{key.hex()}"


async def verify_password(stored: str, password: str) -> bool:
    salt, _, expected = stored.partition(":")
    if not salt or not expected:
        return False
    key = await asyncio.get_running_loop().run_in_executor(None, _key, password, salt)
    return hmac.compare_digest(key.hex(), expected)
