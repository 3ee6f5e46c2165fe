"""Per-source rate limits: each source may send ``rate`` events a second per Region, else 429.

The budget of a source is ``rate`` events per one-second window (wall clock, the same in every
execution environment). An environment does not write DynamoDB per request: it **leases** a share
of the window's budget with one conditional ``UpdateItem`` (``granted + lease <= rate``) and spends
it locally; its next lease is about what it used in the previous window, so a steady environment
writes about once a second per source it serves, and the sum of the leases never exceeds the
budget, however many environments there are. When a lease is refused the window is spent: the
request is answered 429 with ``Retry-After`` = the whole seconds until the next window (its fresh
budget), and the environment asks no more until then. A request counts its events; one with more
events than the source may send in a second can never pass, and is refused as too large (413).

If the lease table cannot be reached the limiter fails open to a per-environment limit (``rate``
per environment per window) for ``LOCAL_ONLY_SECONDS`` and logs it: ingestion is worth more than
exact limiting.
docs/adr/0008-abuse-containment.md weighs this against WAF, usage plans and a write per request.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from signal_platform import aws_clients
from signal_platform import settings as env
from signal_platform.bounded_cache import BoundedTtlCache
from signal_platform.errors import PayloadTooLargeError, RateLimitedError
from signal_platform.observability import logger

WINDOW_SECONDS: Final = 1
# Lease items outlive their window by this much, then DynamoDB's TTL removes them.
LEASE_ITEM_TTL_SECONDS: Final = 300
# At most this share of a window's budget in one lease, so one environment cannot take it all.
MAX_LEASE_SHARE: Final = 0.25
# After a failed lease, limit per environment this long before asking the table again, so an outage
# of the table does not add its timeouts to every request.
LOCAL_ONLY_SECONDS: Final = 30.0


@dataclass(frozen=True, slots=True)
class RateLimitSettings:
    """The template's RATE_LEASES_TABLE_NAME (none: no limits) and DEFAULT_SOURCE_RATE_PER_SECOND."""

    leases_table_name: str | None
    default_rate_per_second: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> RateLimitSettings:
        return cls(
            leases_table_name=env.optional(environ, "RATE_LEASES_TABLE_NAME"),
            default_rate_per_second=env.integer(
                environ, "DEFAULT_SOURCE_RATE_PER_SECOND", 5000, minimum=1, maximum=1_000_000
            ),
        )


class LeaseUnavailableError(Exception):
    """The lease table could not be written (throttled, unreachable, denied)."""


class LeaseStore(Protocol):
    def lease(self, source_id: str, window: int, tokens: int, budget: int) -> bool:
        """Take ``tokens`` of ``source_id``'s ``budget`` for ``window``; False when it has no room."""
        ...


class DynamoLeaseStore:
    """One item per source and window: ``granted`` grows by each lease while it stays within budget."""

    def __init__(
        self, table_name: str, *, client: Callable[[], Any] = lambda: aws_clients.client("dynamodb")
    ):
        self._table = table_name
        self._client = client

    def lease(self, source_id: str, window: int, tokens: int, budget: int) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - lazy, see aws_clients

        try:
            self._client().update_item(
                TableName=self._table,
                Key={"pk": {"S": f"{source_id}#{window}"}},
                UpdateExpression="ADD granted :tokens SET expiration = :expiration",
                ConditionExpression="attribute_not_exists(granted) OR granted <= :room",
                ExpressionAttributeValues={
                    ":tokens": {"N": str(tokens)},
                    ":room": {"N": str(budget - tokens)},
                    ":expiration": {"N": str(window + LEASE_ITEM_TTL_SECONDS)},
                },
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise LeaseUnavailableError(str(exc)) from exc
        except BotoCoreError as exc:
            raise LeaseUnavailableError(str(exc)) from exc
        return True


@dataclass(slots=True)
class _Share:
    """What this environment holds of one source's current window."""

    window: int
    tokens: int = 0
    used: int = 0
    used_before: int = 0  # spent in the previous window: the size of the next lease
    spent: bool = False  # a lease was refused: no more until the next window


class SourceRateLimiter:
    def __init__(
        self,
        store: LeaseStore,
        default_rate: int,
        *,
        max_sources: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._default_rate = default_rate
        self._clock = clock
        self._shares: BoundedTtlCache[_Share] = BoundedTtlCache(max_sources, 60.0, time.monotonic)
        self._local_only_until = 0.0

    def admit(self, source_id: str, rate: int | None, events: int) -> None:
        """Spend ``events`` of the source's budget, or raise ``RateLimitedError`` (nothing spent);
        ``PayloadTooLargeError`` when no second's budget could ever hold the request."""
        budget = rate or self._default_rate
        if events > budget:
            raise PayloadTooLargeError(
                f"{events} events in one request are more than source {source_id!r} may send in a "
                f"second ({budget}): send smaller batches"
            )
        now = self._clock()
        window = math.floor(now / WINDOW_SECONDS)
        share = self._share(source_id, window)
        cost = max(1, events)
        if share.tokens < cost and not self._lease(source_id, share, cost, budget, now):
            retry_after = max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
            raise RateLimitedError(
                f"source {source_id!r} is over its rate of {budget} events a second: resend later",
                retry_after_seconds=retry_after,
            )
        share.tokens -= cost
        share.used += cost

    def _share(self, source_id: str, window: int) -> _Share:
        _, share = self._shares.stale(source_id)
        if share is None or share.window != window:
            used_before = share.used if share is not None and share.window == window - 1 else 0
            share = _Share(window, used_before=used_before)
            self._shares.put(source_id, share)
        return share

    def _lease(self, source_id: str, share: _Share, cost: int, budget: int, now: float) -> bool:
        if share.spent:
            return False
        needed = cost - share.tokens
        if now < self._local_only_until:
            return self._local_lease(share, cost, budget)
        ahead = min(math.ceil(budget * MAX_LEASE_SHARE), share.used_before)
        for tokens in dict.fromkeys((max(needed, ahead), needed)):  # the share, else just enough
            try:
                granted = self._store.lease(source_id, share.window, tokens, budget)
            except LeaseUnavailableError as exc:
                logger.warning(
                    "rate lease unavailable: limiting per environment", source=source_id, error=str(exc)
                )
                self._local_only_until = now + LOCAL_ONLY_SECONDS
                return self._local_lease(share, cost, budget)
            if granted:
                share.tokens += tokens
                return True
        share.spent = True
        return False

    @staticmethod
    def _local_lease(share: _Share, cost: int, budget: int) -> bool:
        """Without the table: this environment alone may spend the source's budget."""
        granted = share.used + cost <= budget
        share.spent = not granted
        share.tokens += cost - share.tokens if granted else 0
        return granted
