"""The Data API's data plane: a PostgREST-compatible subset at each Data API's URL.

Modules: :mod:`.provisioning` (roles, the ``auth`` schema, default grants, as Neon sets them up),
:mod:`.tokens` (JWT verification against Neon Auth's keys or an external JWKS),
:mod:`.grammar` (PostgREST's query string: ``select``, filters, ``order``, ``limit``/``offset``),
:mod:`.statements` (SQL built from it), :mod:`.failures` (PostgREST's error shapes and statuses)
and :mod:`.server` (the HTTP endpoint).
"""
