"""Neon Auth's data plane: a Better Auth-shaped server at each integration's base URL.

Modules: :mod:`.keys` (Ed25519 signing keys, JWTs, JWKS), :mod:`.passwords` (Better Auth's scrypt
hashes), :mod:`.schema` (the ``neon_auth`` tables Neon provisions in the branch database),
:mod:`.directory` (users, accounts and sessions in those tables), :mod:`.origins` (trusted
domains and ``allow_localhost``), :mod:`.defaults` (the configuration a new integration starts
with) and :mod:`.server` (the HTTP endpoints).
"""
