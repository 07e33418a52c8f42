"""JWTs as Neon Auth issues them: EdDSA (Ed25519), signed with the integration's key, verifiable
with the public key served at ``<base_url>/.well-known/jwks.json``; 15 minutes of validity; the
user's fields plus ``sub``, ``role: "authenticated"``, and ``iss``/``aud`` = the origin of the
base URL (Neon's documented payload). The JOSE work is PyJWT's.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

ALGORITHM = "EdDSA"
LIFETIME_SECONDS = 15 * 60
PUBLIC_FIELDS = ("kty", "crv", "x", "kid", "alg")


def new_signing_key() -> dict[str, Any]:
    """A fresh private Ed25519 JWK with a ``kid``."""
    jwk: dict[str, Any] = json.loads(OKPAlgorithm.to_jwk(Ed25519PrivateKey.generate()))
    jwk.update(kid=str(uuid.uuid4()), alg=ALGORITHM)
    return jwk


def public_jwks(private: dict[str, Any]) -> dict[str, Any]:
    """The JWKS that verifies tokens signed with ``private`` (no private part in it)."""
    return {"keys": [{k: private[k] for k in PUBLIC_FIELDS if k in private}]}


def sign(claims: dict[str, Any], private: dict[str, Any], *, issuer: str) -> str:
    now = int(time.time())
    payload = {
        "iat": now,
        **claims,
        "exp": now + LIFETIME_SECONDS,
        "iss": issuer,
        "aud": issuer,
    }
    key = jwt.PyJWK(private).key
    return jwt.encode(payload, key, algorithm=ALGORITHM, headers={"kid": private["kid"]})


class InvalidToken(Exception):
    """The token cannot be trusted; the message says why (never the token)."""


def verify(token: str, jwks: dict[str, Any], *, audience: str | None = None) -> dict[str, Any]:
    """The claims of ``token`` if a key of ``jwks`` signed it and it is current (and, when
    ``audience`` is given, meant for it)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken("JWT could not be decoded") from None
    try:
        keys = jwt.PyJWKSet.from_dict(jwks).keys
    except jwt.PyJWTError:
        raise InvalidToken("the JWKS holds no usable key") from None
    kid = header.get("kid")
    candidates = [k for k in keys if kid is None or k.key_id in (kid, None)]
    if not candidates:
        raise InvalidToken("no key in the JWKS matches the token's kid")
    options = {"verify_aud": audience is not None, "require": ["exp"]}
    last: Exception | None = None
    for candidate in candidates:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                candidate.key,
                algorithms=[candidate.algorithm_name],
                audience=audience,
                options=options,  # type: ignore[arg-type]
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("JWT expired") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("JWT not in audience") from None
        except jwt.PyJWTError as exc:
            last = exc
            continue
        return claims
    raise InvalidToken(_describe(last))


def _describe(exc: Exception | None) -> str:
    if isinstance(exc, jwt.InvalidSignatureError):
        return "JWSError JWSInvalidSignature"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"JWT is missing the {exc.claim!r} claim"
    return "JWT could not be verified"
