"""What tests of the operator (ours, and a platform team's own) drive reconcilers with.

* :class:`~neon_operator.testing.kube.InMemoryKube` -- the :class:`~neon_operator.kube.Kube`
  protocol over a dict, with the apiserver semantics reconcilers rely on (404 and 409, a
  ``resourceVersion`` per write, ``generation`` bumped by spec changes only, the status
  subresource, finalizers, ownerReferences and their garbage collection, label selectors), plus
  the calls a person or kopf would make (create, edit, delete, drop a finalizer).

Nothing here imports kopf or the emulator: reconcilers stay testable without either, and the
layering contract (``lint-imports``) holds for this package too.
"""

from neon_operator.testing.kube import InMemoryKube, RecordedEvent

__all__ = ["InMemoryKube", "RecordedEvent"]
