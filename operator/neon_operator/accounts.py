"""From a NeonConfig's name to a usable Neon account: a client with its key, the tier map, defaults.

Every NeonAppDatabase names a NeonConfig (``spec.configRef``, default ``default``). Resolving it
takes a read of the NeonConfig and of the Secret holding the API key; :class:`Accounts` caches
the result per NeonConfig so that tens of thousands of resources share one client (and one rate
limiter) per key instead of reading the Secret on every reconcile. The NeonConfig handlers call
:meth:`Accounts.refresh` when a NeonConfig changes and periodically (so a rotated key in the
Secret is picked up); a dependent that meets a rejected key calls :meth:`Accounts.forget`.

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
from collections.abc import Callable
from typing import Any

import pydantic

from neon_operator import grants, kube
from neon_operator.fencing import Fence
from neon_operator.models import NeonConfig
from neon_operator.neon import CallLog, NeonClient, PollPolicy, RateLimits
from neon_operator.transfers import TransferBatcher

__all__ = ["Account", "AccountProblem", "Accounts"]

PLURAL = "neonconfigs"


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
    ) -> None:
        self._kube = kube_api
        self._fence = fence if fence is not None else Fence.unfenced()
        self.calls = calls if calls is not None else CallLog()
        self._operation_timeout = operation_timeout
        self._factory = client_factory or self._client
        self._cache: dict[str, Account] = {}
        self._lock = asyncio.Lock()
        self.namespace_labels = grants.NamespaceLabels(kube_api)

    def _client(self, config: NeonConfig, api_key: str) -> NeonClient:
        budget = config.spec.rate_limit
        return NeonClient(
            api_key,
            base_url=config.spec.api_url,
            limits=RateLimits(
                per_minute=budget.requests_per_minute,
                burst_per_second=budget.burst_per_second,
            ),
            poll=PollPolicy(timeout=self._operation_timeout),
            calls=self.calls,
            write_guard=self._fence.check,
        )

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
        if cached is not None:
            return cached
        async with self._lock:
            cached = self._cache.get(name)
            if cached is not None:
                return cached
            body = await self._kube.read_cluster_object(PLURAL, name)
            return await self._load(name, body)

    async def _check_grant(self, account: Account, namespace: str) -> None:
        spec = account.config.spec
        allowed = grants.decided_by_name(spec, namespace)
        if allowed is None:
            labels = await self.namespace_labels.get(namespace)
            allowed = grants.granted(spec, namespace, labels)
        if not allowed:
            raise AccountProblem(grants.REASON, grants.message(account.name, namespace, spec))

    async def refresh(self, name: str, body: dict[str, Any] | None) -> Account:
        """Re-resolve NeonConfig ``name`` from ``body`` (as just seen; ``None`` = deleted)."""
        async with self._lock:
            return await self._load(name, body)

    async def forget(self, name: str) -> None:
        """Drop the cached account (e.g. its key was rejected); the next :meth:`get` reloads."""
        account = self._cache.pop(name, None)
        if account is not None:
            await account.client.aclose()

    async def close(self) -> None:
        for name in list(self._cache):
            await self.forget(name)

    async def _load(self, name: str, body: dict[str, Any] | None) -> Account:
        try:
            return await self._resolve(name, body)
        except AccountProblem:
            await self.forget(name)
            raise

    async def _resolve(self, name: str, body: dict[str, Any] | None) -> Account:
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
        digest = hashlib.sha256(api_key.encode()).hexdigest()[:16]
        cached = self._cache.get(name)
        if cached is not None and _same_client(cached, config, digest):
            self._cache[name] = dataclasses.replace(cached, config=config)
            return self._cache[name]
        client = self._factory(config, api_key)
        account = Account(
            config=config,
            client=client,
            key_digest=digest,
            transfers=TransferBatcher(client),
        )
        if cached is not None:
            await cached.client.aclose()
        self._cache[name] = account
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
