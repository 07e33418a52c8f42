"""Reconcilers: the operator's logic, one module per kind, free of kopf.

Each takes a :class:`~neon_operator.reconcilers.context.Context` and a resource body, talks to
Neon and Kubernetes through the context, writes the resource's status and Events, and ends
normally when converged or with a :mod:`neon_operator.errors` exception saying when to retry.
"""
