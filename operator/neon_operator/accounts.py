"""From a NeonConfig's name to a usable Neon account: a client with its key, the tier map, defaults.

Every NeonAppDatabase names a NeonConfig (``spec.configRef``, default ``default``). Resolving it
takes a read of the NeonConfig and of the Secret holding the API key; :class:`Accounts` caches
the result per NeonConfig so that tens of thousands of resources share one client (and one rate
limiter) per key instead of reading the Secret on every reconcile. The NeonConfig handlers call
:meth:`Accounts.refresh` when a NeonConfig changes and periodically (so a rotated key in the
Secret is picked up); a dependent that meets a rejected key calls :meth:`Accounts.forget`.

A key Neon rejects (401) is remembered by its digest (every client reports its own answers to
:class:`Accounts`): from then on every dependent of that NeonConfig gets
:class:`AccountProblem` ``ApiKeyRejected`` without a Neon call, so thousands of resources
retrying cost Neon nothing (no retry storm), until the Secret holds another key or the
NeonConfig's own check finds the key accepted. A key replaced in its Secret is noticed within
:data:`RECHECK_SECONDS` of use (and at once after a rejection). A replaced client is closed
only after :attr:`Accounts.retire_after` seconds, since reconciles still running may hold it.

:meth:`Accounts.get` also checks the NeonConfig's grant (:mod:`neon_operator.grants`): a resource
may use a NeonConfig only if its namespace is granted. Deleting passes ``namespace=None``: what
the operator made in Neon for a resource is cleaned up even after its grant was revoked.

What can be wrong is an :class:`AccountProblem` whose ``reason`` and ``message`` go straight
into the dependents' ``Ready=False`` condition: they say which object to fix and how.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import math
import re
import time
from collections.abc import Callable
from typing import Any

import pydantic

from neon_operator import errors, grants, kube
from neon_operator.capacity import Capacity, in_flight_for
from neon_operator.fencing import Fence
from neon_operator.models import NeonConfig
from neon_operator.neon import ApiCall, CallLog, NeonClient, PollPolicy, RateLimits
from neon_operator.transfers import TransferBatcher

__all__ = [
    "KEY_REPLACED",
    "RECHECK_SECONDS",
    "REJECTED",
    "REJECTED_RECHECK_SECONDS",
    "Account",
    "AccountProblem",
    "Accounts",
    "budget_of",
]

PLURAL = "neonconfigs"

REJECTED = "ApiKeyRejected"
"""Reason of a key Neon answered 401 for."""
KEY_REPLACED = "ApiKeyReplaced"
"""Reason of the quick retry of a reconcile that met a key already replaced in its Secret
(nothing is reported: the next attempt uses the new key)."""
RECHECK_SECONDS = 30.0
"""How often a NeonConfig's key Secret is read again at most, to notice a replaced key without
a restart or a watch on Secrets: one read per NeonConfig, whatever the number of resources."""
REJECTED_RECHECK_SECONDS = 5.0
"""The same while the key is known rejected (a valid key put back shows sooner); dependents
retrying in between cost nothing at all."""

_KEY_SHAPE = re.compile(r"[\x21-\x7e]+")
"""What an API key can be: it travels in an HTTP header (printable ASCII, no spaces)."""


class AccountProblem(Exception):
    """The NeonConfig cannot be used; ``reason`` is a condition reason, ``message`` what to do."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclasses.dataclass(frozen=True)
class Account:
    """A NeonConfig resolved: its parsed object and a client holding its key."""

    config: NeonConfig
    client: NeonClient
    key_digest: str
    """Digest of the API key (to notice a rotated key without keeping a second copy)."""
    transfers: TransferBatcher
    """Coalesces this key's tier changes into Neon's 400-project transfer calls."""
    capacity: Capacity
    """Creates in flight and full organizations (:mod:`neon_operator.capacity`)."""

    @property
    def name(self) -> str:
        return self.config.metadata.name

    def org_for(self, tier: str) -> str:
        """The organization of ``tier``; :class:`AccountProblem` if the map lacks it."""
        organizations = self.config.spec.organizations
        if tier not in organizations:
            known = ", ".join(sorted(organizations))
            raise AccountProblem(
                "UnknownTier",
                f"spec.tier {tier!r} is not a tier of NeonConfig {self.name!r} "
                f"(known tiers: {known}); use one of them or add it to the NeonConfig's "
                "spec.organizations",
            )
        return organizations[tier]

    def tier_of(self, org_id: str) -> str | None:
        """The tier whose organization is ``org_id``, if any."""
        return next((t for t, o in self.config.spec.organizations.items() if o == org_id), None)


ClientFactory = Callable[[NeonConfig, str], NeonClient]
"""Makes the client of a NeonConfig and key; each client must have a :class:`CallLog` of its
own (:class:`Accounts` learns from it what Neon answered to that key)."""


@dataclasses.dataclass
class _Rejection:
    """A key Neon rejected: its digest, what dependents are told, when the Secret was read."""

    digest: str
    problem: AccountProblem
    checked: float


class _KeyCalls(CallLog):
    """One client's own :class:`CallLog` (its observers see only its calls), recording every
    call in the shared log too."""

    def __init__(self, shared: CallLog) -> None:
        super().__init__()
        self._shared = shared

    def record(self, call: ApiCall) -> None:
        self._shared.record(call)
        super().record(call)


def _digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


def _rejected(config: NeonConfig) -> AccountProblem:
    ref = config.spec.api_key_secret_ref
    return AccountProblem(
        REJECTED,
        f"Neon rejected the API key in Secret {ref.namespace}/{ref.name} (key {ref.key!r}) of "
        f"NeonConfig {config.metadata.name!r}: put a valid key into that Secret; the operator "
        "picks it up without a restart",
    )


def budget_of(config: NeonConfig, share: float = 1.0) -> RateLimits:
    """The request budget this process spends on ``config``'s key: ``share`` of its
    ``spec.rateLimit`` (shards sharing a key take ``1/N`` each), at least one request a minute
    and one a second; 0 (no limit) stays 0."""
    if not 0 < share <= 1:
        raise ValueError(f"a budget share is in (0, 1], not {share}")
    budget = config.spec.rate_limit

    def part(limit: int) -> int:
        return max(1, int(limit * share)) if limit > 0 else 0

    return RateLimits(
        per_minute=part(budget.requests_per_minute),
        burst_per_second=part(budget.burst_per_second),
    )


class Accounts:
    """Resolves and caches :class:`Account` per NeonConfig name."""

    def __init__(
        self,
        kube_api: kube.Kube,
        *,
        calls: CallLog | None = None,
        operation_timeout: float = 300.0,
        client_factory: ClientFactory | None = None,
        fence: Fence | None = None,
        budget_share: float = 1.0,
    ) -> None:
        self._kube = kube_api
        self._budget_share = budget_share
        self._fence = fence if fence is not None else Fence.unfenced()
        self.calls = calls if calls is not None else CallLog()
        self._operation_timeout = operation_timeout
        self._factory = client_factory or self._client
        self._cache: dict[str, Account] = {}
        self._lock = asyncio.Lock()
        self.namespace_labels = grants.NamespaceLabels(kube_api)
        self._rejections: dict[str, _Rejection] = {}
        self._seen: dict[str, float] = {}
        """When each cached account's key was last read from its Secret."""
        self._retired: list[tuple[float, NeonClient]] = []
        self.retire_after = operation_timeout + 60.0
        """Seconds a replaced client stays open for the reconciles that still hold it (one
        may wait up to ``operation_timeout`` for Neon's operations)."""
        self.clock: Callable[[], float] = time.monotonic

    def _client(self, config: NeonConfig, api_key: str) -> NeonClient:
        return NeonClient(
            api_key,
            base_url=config.spec.api_url,
            limits=budget_of(config, self._budget_share),
            poll=PollPolicy(timeout=self._operation_timeout),
            calls=_KeyCalls(self.calls),
            write_guard=self._fence.check,
        )

    def answered(self, name: str, digest: str, status: int) -> None:
        """Neon answered ``status`` to the key of NeonConfig ``name`` whose digest is
        ``digest``: a 401 marks the key rejected (and drops its account), a success clears
        the mark."""
        rejection = self._rejections.get(name)
        if status == 401:
            cached = self._cache.get(name)
            if cached is None or cached.key_digest != digest:
                return  # already marked, or a key since replaced: the cached one is not bad
            # Not checked yet: the next lookup reads the Secret, which may hold a new key by now.
            self._rejections[name] = _Rejection(digest, _rejected(cached.config), -math.inf)
            del self._cache[name]
            self._retire(cached.client)
        elif status < 400 and rejection is not None and rejection.digest == digest:
            del self._rejections[name]

    def _retire(self, client: NeonClient) -> None:
        self._retired.append((self.clock(), client))

    async def _close_retired(self, *, everything: bool = False) -> None:
        now = self.clock()
        due = [c for at, c in self._retired if everything or now - at >= self.retire_after]
        self._retired = [(at, c) for at, c in self._retired if c not in due]
        for client in due:
            await client.aclose()

    async def get(self, name: str, *, namespace: str | None) -> Account:
        """The account of NeonConfig ``name`` for a resource of ``namespace``, loading it on
        first use; :class:`AccountProblem` ``NeonConfigNotGranted`` if the NeonConfig does not
        grant that namespace. ``namespace=None`` skips the grant: only for deleting what the
        operator already made in Neon."""
        account = await self._account(name)
        if namespace is not None:
            await self._check_grant(account, namespace)
        return account

    async def _account(self, name: str) -> Account:
        cached = self._cache.get(name)
        if cached is not None and self.clock() - self._seen.get(name, 0.0) < RECHECK_SECONDS:
            return cached
        async with self._lock:
            cached = self._cache.get(name)
            if cached is not None and await self._key_unchanged(name, cached):
                return cached
            rejection = self._rejections.get(name)
            if rejection is not None and (
                self.clock() - rejection.checked < REJECTED_RECHECK_SECONDS
            ):
                raise rejection.problem
            body = await self._kube.read_cluster_object(PLURAL, name)
            return await self._load(name, body)

    async def replaced(self, name: str) -> errors.RetryLater | None:
        """Neon just rejected a key of NeonConfig ``name``: if its Secret holds another key by
        now, a quick :class:`~neon_operator.errors.RetryLater` for the caller to raise (the next
        attempt uses the new key; nothing to report), else ``None``."""
        try:
            await self._account(name)
        except AccountProblem:
            return None
        return errors.RetryLater(
            KEY_REPLACED,
            f"the API key of NeonConfig {name!r} was replaced in its Secret; retrying with it",
            delay=1.0,
        )

    async def _key_unchanged(self, name: str, cached: Account) -> bool:
        """Whether the Secret still holds ``cached``'s key (read at most every
        :data:`RECHECK_SECONDS`); otherwise the caller loads the NeonConfig again."""
        if self.clock() - self._seen.get(name, 0.0) < RECHECK_SECONDS:
            return True
        ref = cached.config.spec.api_key_secret_ref
        secret = await self._kube.read_secret(ref.namespace, ref.name)
        key = secret.data.get(ref.key, "").strip() if secret is not None else ""
        if _digest(key) != cached.key_digest:
            return False
        self._seen[name] = self.clock()
        return True

    async def _check_grant(self, account: Account, namespace: str) -> None:
        spec = account.config.spec
        allowed = grants.decided_by_name(spec, namespace)
        if allowed is None:
            labels = await self.namespace_labels.get(namespace)
            allowed = grants.granted(spec, namespace, labels)
        if not allowed:
            raise AccountProblem(grants.REASON, grants.message(account.name, namespace, spec))

    async def refresh(self, name: str, body: dict[str, Any] | None) -> Account:
        """Re-resolve NeonConfig ``name`` from ``body`` (as just seen; ``None`` = deleted).
        A key known to be rejected is handed out anyway: this is how the NeonConfig's own check
        asks Neon about it again."""
        async with self._lock:
            return await self._load(name, body, probe=True)

    async def forget(self, name: str) -> None:
        """Drop the cached account (e.g. its key was rejected); the next :meth:`get` reloads.
        Its client is closed later: reconciles still running may hold it."""
        account = self._cache.pop(name, None)
        if account is not None:
            self._retire(account.client)

    async def close(self) -> None:
        for name in list(self._cache):
            await self.forget(name)
        await self._close_retired(everything=True)

    async def _load(
        self, name: str, body: dict[str, Any] | None, *, probe: bool = False
    ) -> Account:
        await self._close_retired()
        try:
            return await self._resolve(name, body, probe=probe)
        except AccountProblem:
            await self.forget(name)
            raise

    async def _resolve(
        self, name: str, body: dict[str, Any] | None, *, probe: bool = False
    ) -> Account:
        if body is None:
            raise AccountProblem(
                "NeonConfigNotFound",
                f"NeonConfig {name!r} does not exist: create it (see "
                "deploy/examples/neonconfig.yaml) or point spec.configRef.name at an existing one",
            )
        try:
            config = NeonConfig.model_validate(body)
        except pydantic.ValidationError as error:
            raise AccountProblem(
                "NeonConfigInvalid", f"NeonConfig {name!r} cannot be parsed: {error}"
            ) from None
        ref = config.spec.api_key_secret_ref
        where = f"Secret {ref.namespace}/{ref.name}"
        secret = await self._kube.read_secret(ref.namespace, ref.name)
        if secret is None:
            raise AccountProblem(
                "ApiKeySecretNotFound",
                f"{where} named by NeonConfig {name!r} spec.apiKeySecretRef does not exist: "
                f"create it with the Neon API key under key {ref.key!r}",
            )
        api_key = secret.data.get(ref.key, "").strip()
        if not api_key:
            raise AccountProblem(
                "ApiKeyMissing",
                f"{where} has no (or an empty) key {ref.key!r} for NeonConfig {name!r}: "
                "put the Neon API key there",
            )
        if not _KEY_SHAPE.fullmatch(api_key):
            raise AccountProblem(
                "ApiKeyMalformed",
                f"{where} key {ref.key!r} for NeonConfig {name!r} does not hold an API key "
                "(printable ASCII without spaces, as Neon's napi_… keys): put the Neon API key "
                "there, without quotes or line breaks",
            )
        digest = _digest(api_key)
        rejection = self._rejections.get(name)
        if rejection is not None and rejection.digest == digest and not probe:
            rejection.checked = self.clock()
            rejection.problem = _rejected(config)
            raise rejection.problem
        known_bad = rejection is not None and rejection.digest == digest
        cached = self._cache.get(name)
        if cached is not None and _same_client(cached, config, digest):
            self._cache[name] = dataclasses.replace(cached, config=config)
            self._seen[name] = self.clock()
            return self._cache[name]
        client = self._factory(config, api_key)

        def answered(call: ApiCall) -> None:
            if call.status is not None:
                self.answered(name, digest, call.status)

        client.calls.subscribe(answered)
        account = Account(
            config=config,
            client=client,
            key_digest=digest,
            transfers=TransferBatcher(client),
            capacity=Capacity(in_flight_for(client.limiter.limits)),
        )
        if known_bad:
            # A probe of a key known rejected: not cached, so no dependent picks it up while
            # the probe runs (its success clears the mark, and the next lookup loads it).
            self._retire(client)
            return account
        if cached is not None:
            self._retire(cached.client)
        self._cache[name] = account
        self._seen[name] = self.clock()
        return account


def _same_client(cached: Account, config: NeonConfig, digest: str) -> bool:
    """Whether ``cached``'s client still fits: same key, API URL and request budget (a change of
    grants, tiers or defaults keeps the client and its rate limiter)."""
    before, after = cached.config.spec, config.spec
    return (
        cached.key_digest == digest
        and before.api_url == after.api_url
        and before.rate_limit == after.rate_limit
    )
