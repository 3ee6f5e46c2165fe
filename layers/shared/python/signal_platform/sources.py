"""Sending sources and their write keys.

A write key is ``<source_id>.<secret>``; the sources table keeps only the SHA-256 of the secret
(the secret is 32 random bytes, so a fast hash is enough: there is nothing to brute-force), and
the comparison is constant-time. Lookups are cached in memory in two bounded caches (known sources
for a minute, unknown ids briefly; each capped, least recently used out first), and reads of ids
in neither cache are themselves rate-limited per container: a flood of random write keys costs a
bounded number of DynamoDB reads and a bounded amount of memory, and is answered 429.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from signal_platform import aws_clients
from signal_platform.bounded_cache import BoundedTtlCache
from signal_platform.errors import (
    AuthenticationError,
    ForbiddenSourceError,
    RateLimitedError,
    SourceRegistryUnavailableError,
)
from signal_platform.token_bucket import TokenBucket

SOURCE_ID_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
ORIGIN_PATTERN: Final = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")
_SECRET_BYTES: Final = 32
# The longest key ``new_write_key`` makes: a source id, a dot, its secret as unpadded URL-safe
# base64. A longer one is malformed, refused before it is hashed or kept in the key cache.
MAX_WRITE_KEY_CHARS: Final = 64 + 1 + math.ceil(_SECRET_BYTES * 4 / 3)
# Bounded like the source caches: a flood of invented keys only evicts, each costing its own hash.
_KEY_CACHE_SIZE: Final = 1024


@dataclass(frozen=True, slots=True)
class Source:
    source_id: str
    key_hash: str
    enabled: bool
    description: str = ""
    # Web origins (scheme://host[:port]) whose pages may send with this key; "*" allows any.
    origins: frozenset[str] = frozenset()
    # Events a second this source may send (per Region); None: the platform's default.
    rate_per_second: int | None = None

    def as_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "source_id": {"S": self.source_id},
            "key_hash": {"S": self.key_hash},
            "enabled": {"BOOL": self.enabled},
            "description": {"S": self.description},
        }
        if self.origins:  # a DynamoDB string set cannot be empty
            item["origins"] = {"SS": sorted(self.origins)}
        if self.rate_per_second is not None:
            item["rate_per_second"] = {"N": str(self.rate_per_second)}
        return item

    def allows_origin(self, origin: str) -> bool:
        """Whether a browser page of ``origin`` may send: only origins the source registered."""
        return origin in self.origins or "*" in self.origins

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Source:
        return cls(
            source_id=item["source_id"]["S"],
            key_hash=item["key_hash"]["S"],
            enabled=item.get("enabled", {"BOOL": False})["BOOL"],
            description=item.get("description", {"S": ""})["S"],
            origins=frozenset(item.get("origins", {"SS": []})["SS"]),
            rate_per_second=int(item["rate_per_second"]["N"]) if "rate_per_second" in item else None,
        )


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_write_key(
    source_id: str, description: str = "", origins: frozenset[str] = frozenset()
) -> tuple[str, Source]:
    """A fresh key for ``source_id`` and the record to store; the key itself is never stored."""
    if not SOURCE_ID_PATTERN.fullmatch(source_id):
        raise ValueError(f"source id must match {SOURCE_ID_PATTERN.pattern}: {source_id!r}")
    for origin in origins:
        if origin != "*" and not ORIGIN_PATTERN.fullmatch(origin):
            raise ValueError(f"an origin is scheme://host[:port] without a path, or *: {origin!r}")
    write_key, key_hash = new_key(source_id)
    return write_key, Source(source_id, key_hash, True, description, origins)


def new_key(source_id: str) -> tuple[str, str]:
    """A fresh write key for ``source_id`` and the hash to store of it."""
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    return f"{source_id}.{secret}", hash_secret(secret)


@lru_cache(maxsize=_KEY_CACHE_SIZE)
def _source_and_hash(write_key: str) -> tuple[str, str]:
    """(source id, secret hash) of a well-formed write key, kept for the keys a container sees again
    (a client sends its key with every request): one dictionary lookup instead of a SHA-256."""
    source_id, secret = split_write_key(write_key)
    return source_id, hash_secret(secret)


def split_write_key(write_key: str) -> tuple[str, str]:
    if len(write_key) > MAX_WRITE_KEY_CHARS:
        raise AuthenticationError(f"the write key is malformed: longer than {MAX_WRITE_KEY_CHARS} characters")
    source_id, dot, secret = write_key.partition(".")
    if not dot or not secret or not SOURCE_ID_PATTERN.fullmatch(source_id):
        raise AuthenticationError("the write key is malformed")
    return source_id, secret


def _check_rate(rate_per_second: int | None) -> None:
    """A stored rate below 1 would refuse every request of the source (413: more events than it may
    send in a second), or read as the default (0)."""
    if rate_per_second is not None and rate_per_second < 1:
        raise ValueError("a rate limit is at least 1 event a second")


class SourceRegistry:
    """Authenticates write keys against the sources table."""

    def __init__(
        self,
        table_name: str,
        *,
        ttl_seconds: float = 60.0,
        miss_ttl_seconds: float = 10.0,
        max_sources: int = 10_000,
        max_misses: int = 10_000,
        unknown_reads_per_second: float = 20.0,
        client: Callable[[], Any] = lambda: aws_clients.client("dynamodb"),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._table = table_name
        self._client = client
        self._known: BoundedTtlCache[Source] = BoundedTtlCache(max_sources, ttl_seconds, clock)
        self._unknown: BoundedTtlCache[bool] = BoundedTtlCache(max_misses, miss_ttl_seconds, clock)
        # Reads of ids neither cache has seen: what random write keys would otherwise cost.
        self._unknown_reads = TokenBucket(unknown_reads_per_second, unknown_reads_per_second, clock)

    def authenticate(self, write_key: str) -> Source:
        source_id, secret_hash = _source_and_hash(write_key)
        source = self._lookup(source_id)
        if source is None or not hmac.compare_digest(source.key_hash, secret_hash):
            raise AuthenticationError("unknown source or wrong write key")
        if not source.enabled:
            raise ForbiddenSourceError(f"source {source_id!r} is disabled")
        return source

    def register(self, source: Source) -> None:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - lazy import

        _check_rate(source.rate_per_second)
        try:
            self._client().put_item(
                TableName=self._table,
                Item=source.as_item(),
                ConditionExpression="attribute_not_exists(source_id)",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise ValueError(f"source {source.source_id!r} already exists") from exc
            raise SourceRegistryUnavailableError(f"cannot write the sources table: {exc}") from exc
        except BotoCoreError as exc:
            raise SourceRegistryUnavailableError(f"cannot write the sources table: {exc}") from exc

    def set_rate(self, source_id: str, rate_per_second: int | None) -> None:
        """Set (or, with None, remove) a source's rate limit; validators apply it within the cache TTL."""
        _check_rate(rate_per_second)
        if rate_per_second is None:
            self._update(source_id, "REMOVE rate_per_second", {})
        else:
            self._update(source_id, "SET rate_per_second = :rate", {":rate": {"N": str(rate_per_second)}})

    def replace_key(self, source_id: str, key_hash: str) -> None:
        """Give a source a new key (``new_key``'s hash) and enable it: its old key is refused once
        validators refresh the source (within the cache TTL)."""
        self._update(
            source_id,
            "SET key_hash = :hash, enabled = :on",
            {":hash": {"S": key_hash}, ":on": {"BOOL": True}},
        )

    def _update(self, source_id: str, expression: str, values: dict[str, Any]) -> None:
        """One update of an existing source's item; ``ValueError`` when there is no such source."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - lazy import

        try:
            self._client().update_item(
                TableName=self._table,
                Key={"source_id": {"S": source_id}},
                ConditionExpression="attribute_exists(source_id)",
                UpdateExpression=expression,
                **({"ExpressionAttributeValues": values} if values else {}),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise ValueError(f"no source {source_id!r}") from exc
            raise SourceRegistryUnavailableError(f"cannot write the sources table: {exc}") from exc
        except BotoCoreError as exc:
            raise SourceRegistryUnavailableError(f"cannot write the sources table: {exc}") from exc

    def _lookup(self, source_id: str) -> Source | None:
        fresh, source = self._known.get(source_id)
        if fresh:
            return source
        if self._unknown.get(source_id)[0]:
            return None
        # A source seen before is refreshed whatever the budget; a never-seen id needs a token.
        if not self._known.stale(source_id)[0] and not self._unknown_reads.take():
            raise RateLimitedError(
                "too many unknown write keys: resend later",
                retry_after_seconds=self._unknown_reads.seconds_until(),
            )
        source = self._read(source_id)
        if source is None:
            self._known.pop(source_id)
            self._unknown.put(source_id, True)
        else:
            self._known.put(source_id, source)
        return source

    def _read(self, source_id: str) -> Source | None:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - lazy import

        try:
            response = self._client().get_item(
                TableName=self._table, Key={"source_id": {"S": source_id}}, ConsistentRead=False
            )
        except (ClientError, BotoCoreError) as exc:
            raise SourceRegistryUnavailableError(f"cannot read the sources table: {exc}") from exc
        item = response.get("Item")
        return Source.from_item(item) if item else None
