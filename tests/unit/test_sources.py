"""Write keys and the source registry (injected fake DynamoDB client and clock)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from signal_platform import sources
from signal_platform.errors import (
    AuthenticationError,
    ForbiddenSourceError,
    RateLimitedError,
    SourceRegistryUnavailableError,
)
from signal_platform.sources import Source, SourceRegistry

TABLE = "signal-sources"


class FakeClock:
    def __init__(self, now: float = 500.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeDynamoDB:
    """A sources table in a dict; ``error`` makes every call fail."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.error: Exception | None = None
        self.get_requests: list[dict[str, Any]] = []
        self.put_requests: list[dict[str, Any]] = []

    def get_item(self, **request: Any) -> dict[str, Any]:
        self.get_requests.append(request)
        if self.error is not None:
            raise self.error
        item = self.items.get(request["Key"]["source_id"]["S"])
        return {} if item is None else {"Item": item}

    def put_item(self, **request: Any) -> dict[str, Any]:
        self.put_requests.append(request)
        if self.error is not None:
            raise self.error
        source_id = request["Item"]["source_id"]["S"]
        if source_id in self.items:
            raise _client_error("ConditionalCheckFailedException", "PutItem")
        self.items[source_id] = request["Item"]
        return {}


def _client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "x"}}, operation)


@pytest.fixture
def table() -> FakeDynamoDB:
    return FakeDynamoDB()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def registry(table: FakeDynamoDB, clock: FakeClock) -> SourceRegistry:
    return SourceRegistry(TABLE, ttl_seconds=60, miss_ttl_seconds=10, client=lambda: table, clock=clock)


def _store(table: FakeDynamoDB, source_id: str = "web-storefront", *, enabled: bool = True) -> str:
    """Put a source in the fake table; returns its write key."""
    write_key, source = sources.new_write_key(source_id, "test source")
    table.items[source_id] = Source(source.source_id, source.key_hash, enabled, source.description).as_item()
    return write_key


# --- write keys ------------------------------------------------------------------------------------


def test_new_write_key_valid_source_returns_key_and_record_with_only_the_secret_hash() -> None:
    # GIVEN a valid source id
    # WHEN a write key is made
    write_key, source = sources.new_write_key("web-storefront", "the shop")
    # THEN the key is "<source_id>.<secret>" and the record keeps only the SHA-256 of the secret
    source_id, secret = write_key.split(".", 1)
    assert source_id == "web-storefront"
    assert len(secret) >= 43  # 32 random bytes, URL-safe base64
    assert re.fullmatch(r"[A-Za-z0-9_-]+", secret)
    assert source == Source("web-storefront", hashlib.sha256(secret.encode()).hexdigest(), True, "the shop")
    assert secret not in repr(source.as_item())


def test_new_write_key_called_twice_returns_different_secrets() -> None:
    # GIVEN one source id
    # WHEN two keys are made
    first, _ = sources.new_write_key("app")
    second, _ = sources.new_write_key("app")
    # THEN they differ (random secrets)
    assert first != second


@pytest.mark.parametrize(
    "source_id",
    ["", "Web", "-lead", "_lead", "has space", "dot.ted", "a" * 65, "ünicode", "we\nb"],
)
def test_new_write_key_invalid_source_id_raises_value_error(source_id: str) -> None:
    # GIVEN a source id outside ^[a-z0-9][a-z0-9_-]{0,63}$
    # WHEN a key is made
    # THEN it is refused
    with pytest.raises(ValueError, match="source id must match"):
        sources.new_write_key(source_id)


def test_new_write_key_source_id_with_trailing_newline_raises_value_error() -> None:
    # GIVEN a source id that is valid except for a trailing newline (e.g. pasted into the admin tool)
    # WHEN a key is made
    # THEN it is refused like any other character outside the pattern
    #      (``$`` in the pattern also matches before a final "\n"; ``fullmatch``/``\Z`` would not)
    with pytest.raises(ValueError, match="source id must match"):
        sources.new_write_key("web\n")


@pytest.mark.parametrize(
    ("write_key", "expected"),
    [
        ("web.secret", ("web", "secret")),
        ("a.b", ("a", "b")),
        ("web-1_x.s.with.dots", ("web-1_x", "s.with.dots")),
        ("a" * 64 + ".s", ("a" * 64, "s")),
        ("a" * 64 + "." + "s" * 43, ("a" * 64, "s" * 43)),  # the longest key new_write_key makes
    ],
)
def test_split_write_key_well_formed_returns_source_and_secret(
    write_key: str, expected: tuple[str, str]
) -> None:
    # GIVEN a well-formed key
    # WHEN it is split
    # THEN the source id is before the first dot and the secret after it
    assert sources.split_write_key(write_key) == expected


@pytest.mark.parametrize(
    "write_key",
    [
        "",
        "nodot",
        "web.",
        ".secret",
        ".",
        "Web.secret",
        "we b.secret",
        "a" * 65 + ".s",
        "-web.secret",
        "a" * 64 + "." + "s" * 44,  # longer than any key new_write_key makes
    ],
)
def test_split_write_key_malformed_raises_authentication_error(write_key: str) -> None:
    # GIVEN a malformed key
    # WHEN it is split
    # THEN it is an authentication failure (a 401, never a 5xx)
    with pytest.raises(AuthenticationError, match="malformed"):
        sources.split_write_key(write_key)


def test_split_write_key_source_id_with_trailing_newline_raises_authentication_error() -> None:
    # GIVEN a key whose source part ends in a newline (possible through a base64 Basic user name)
    # WHEN it is split
    # THEN it is malformed, since "web\n" is not a valid source id
    with pytest.raises(AuthenticationError, match="malformed"):
        sources.split_write_key("web\n.secret")


def test_source_item_round_trip_returns_equal_source() -> None:
    # GIVEN a source
    source = Source("web", "ab" * 32, False, "desc")
    # WHEN it goes to a DynamoDB item and back
    # THEN nothing is lost
    assert Source.from_item(source.as_item()) == source


def test_source_from_item_without_enabled_is_disabled() -> None:
    # GIVEN an item that lacks the enabled flag and description
    item = {"source_id": {"S": "web"}, "key_hash": {"S": "00"}}
    # WHEN it is read
    source = Source.from_item(item)
    # THEN the source is treated as disabled (fail closed)
    assert source.enabled is False
    assert source.description == ""


# --- authenticate ----------------------------------------------------------------------------------


def test_registry_authenticate_right_key_returns_source(
    registry: SourceRegistry, table: FakeDynamoDB
) -> None:
    # GIVEN a stored, enabled source
    write_key = _store(table)
    # WHEN its key is authenticated
    source = registry.authenticate(write_key)
    # THEN the source comes back, read by its id from the table (eventually consistent read)
    assert source.source_id == "web-storefront"
    assert source.enabled is True
    assert table.get_requests == [
        {"TableName": TABLE, "Key": {"source_id": {"S": "web-storefront"}}, "ConsistentRead": False}
    ]


@pytest.mark.parametrize(
    "make_key",
    [
        lambda key: key[:-1] + ("A" if key[-1] != "A" else "B"),
        lambda key: key + "x",
        lambda key: key.split(".")[0] + ".wrong",
        lambda key: "other-source." + key.split(".", 1)[1],
    ],
    ids=["last-char-changed", "extra-char", "other-secret", "unknown-source"],
)
def test_registry_authenticate_wrong_key_or_unknown_source_raises_authentication_error(
    registry: SourceRegistry, table: FakeDynamoDB, make_key: Any
) -> None:
    # GIVEN a stored source and a key that is not its key
    write_key = _store(table)
    # WHEN the wrong key is authenticated
    # THEN it is refused with the same message for unknown sources and wrong secrets
    with pytest.raises(AuthenticationError, match="unknown source or wrong write key"):
        registry.authenticate(make_key(write_key))


def test_registry_authenticate_malformed_key_raises_without_reading_the_table(
    registry: SourceRegistry, table: FakeDynamoDB
) -> None:
    # GIVEN a malformed key
    # WHEN it is authenticated
    with pytest.raises(AuthenticationError):
        registry.authenticate("not a key")
    # THEN DynamoDB is not touched
    assert table.get_requests == []


def test_registry_authenticate_disabled_source_right_key_raises_forbidden(
    registry: SourceRegistry, table: FakeDynamoDB
) -> None:
    # GIVEN a disabled source
    write_key = _store(table, enabled=False)
    # WHEN its right key is authenticated
    # THEN the source may not send
    with pytest.raises(ForbiddenSourceError, match="web-storefront"):
        registry.authenticate(write_key)


def test_registry_authenticate_disabled_source_wrong_key_raises_authentication_error(
    registry: SourceRegistry, table: FakeDynamoDB
) -> None:
    # GIVEN a disabled source
    _store(table, enabled=False)
    # WHEN a wrong key for it is authenticated
    # THEN the caller learns nothing about the source's state
    with pytest.raises(AuthenticationError):
        registry.authenticate("web-storefront.guess")


def test_registry_authenticate_compares_hashes_in_constant_time(
    registry: SourceRegistry, table: FakeDynamoDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a stored source and a spy on hmac.compare_digest as the sources module sees it
    write_key = _store(table)
    compared: list[tuple[str, str]] = []
    real = sources.hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(sources.hmac, "compare_digest", spy)
    # WHEN the right key and a wrong key are authenticated
    registry.authenticate(write_key)
    with pytest.raises(AuthenticationError):
        registry.authenticate("web-storefront.wrong")
    # THEN both decisions went through the constant-time comparison of the hashes
    stored = table.items["web-storefront"]["key_hash"]["S"]
    assert compared == [
        (stored, sources.hash_secret(write_key.split(".", 1)[1])),
        (stored, sources.hash_secret("wrong")),
    ]


@pytest.mark.parametrize(
    "error",
    [
        _client_error("ProvisionedThroughputExceededException", "GetItem"),
        _client_error("ResourceNotFoundException", "GetItem"),
        _client_error("InternalServerError", "GetItem"),
        EndpointConnectionError(endpoint_url="https://dynamodb.us-west-2.amazonaws.com"),
    ],
    ids=["throughput", "no-table", "internal", "no-connection"],
)
def test_registry_authenticate_table_fails_raises_unavailable_and_does_not_cache(
    registry: SourceRegistry, table: FakeDynamoDB, error: Exception
) -> None:
    # GIVEN a stored source and a failing table
    write_key = _store(table)
    table.error = error
    # WHEN its key is authenticated
    with pytest.raises(SourceRegistryUnavailableError) as caught:
        registry.authenticate(write_key)
    # THEN the failure is a retryable dependency error chaining the SDK error
    assert caught.value.retryable is True
    assert caught.value.__cause__ is error
    # AND the failure is not cached: once the table recovers the same key works at once
    table.error = None
    assert registry.authenticate(write_key).source_id == "web-storefront"


# --- caching ---------------------------------------------------------------------------------------


def test_registry_authenticate_within_ttl_reads_table_once(
    registry: SourceRegistry, table: FakeDynamoDB, clock: FakeClock
) -> None:
    # GIVEN a stored source and a 60 s cache TTL
    write_key = _store(table)
    # WHEN its key is authenticated many times within 60 s, including wrong keys
    for offset in (0.0, 1.0, 30.0, 59.999):
        clock.now = 500.0 + offset
        registry.authenticate(write_key)
        with pytest.raises(AuthenticationError):
            registry.authenticate("web-storefront.wrong")
    # THEN the table is read once
    assert len(table.get_requests) == 1


@pytest.mark.parametrize("elapsed", [60.0, 61.0, 3600.0])
def test_registry_authenticate_after_ttl_rereads_and_sees_a_disabled_source(
    registry: SourceRegistry, table: FakeDynamoDB, clock: FakeClock, elapsed: float
) -> None:
    # GIVEN a cached, enabled source that is then disabled in the table
    write_key = _store(table)
    registry.authenticate(write_key)
    table.items["web-storefront"]["enabled"] = {"BOOL": False}
    clock.now = 559.999
    assert registry.authenticate(write_key).enabled is True  # still served from the cache
    # WHEN the TTL has passed
    clock.now = 500.0 + elapsed
    # THEN the table is read again and the change is enforced
    with pytest.raises(ForbiddenSourceError):
        registry.authenticate(write_key)
    assert len(table.get_requests) == 2


def test_registry_authenticate_unknown_source_miss_is_cached_for_miss_ttl(
    registry: SourceRegistry, table: FakeDynamoDB, clock: FakeClock
) -> None:
    # GIVEN a source id that is not in the table
    # WHEN bad keys for it arrive for just under the 10 s miss TTL
    for offset in (0.0, 5.0, 9.999):
        clock.now = 500.0 + offset
        with pytest.raises(AuthenticationError):
            registry.authenticate("ghost.secret")
    # THEN the table was read once
    assert len(table.get_requests) == 1


def test_registry_authenticate_miss_expires_after_miss_ttl_finds_new_source(
    registry: SourceRegistry, table: FakeDynamoDB, clock: FakeClock
) -> None:
    # GIVEN a cached miss for a source that is registered right afterwards
    with pytest.raises(AuthenticationError):
        registry.authenticate("new-app.secret")
    write_key = _store(table, "new-app")
    # WHEN its key is used before and after the 10 s miss TTL
    clock.now = 509.0
    with pytest.raises(AuthenticationError):
        registry.authenticate(write_key)
    clock.now = 510.0
    source = registry.authenticate(write_key)
    # THEN the miss TTL (not the 60 s hit TTL) governed the negative entry
    assert source.source_id == "new-app"
    assert len(table.get_requests) == 2


def test_registry_authenticate_cache_is_per_source(registry: SourceRegistry, table: FakeDynamoDB) -> None:
    # GIVEN two stored sources
    first, second = _store(table, "app-one"), _store(table, "app-two")
    # WHEN each is authenticated twice
    for _ in range(2):
        assert registry.authenticate(first).source_id == "app-one"
        assert registry.authenticate(second).source_id == "app-two"
    # THEN each was read once
    assert [r["Key"]["source_id"]["S"] for r in table.get_requests] == ["app-one", "app-two"]


# --- bounded caches: random write keys ------------------------------------------------------------


def _random_key(index: int) -> str:
    return f"random-{index:06d}.not-a-secret"


def test_registry_random_unknown_keys_cost_bounded_reads_and_memory(
    table: FakeDynamoDB, clock: FakeClock
) -> None:
    # GIVEN a registry capped at 100 cached misses and 20 unknown-id reads a second
    registry = SourceRegistry(
        TABLE, max_misses=100, unknown_reads_per_second=20, client=lambda: table, clock=clock
    )
    refused = unknown = 0
    # WHEN 10,000 random source ids arrive over 10 seconds (1,000 a second)
    for index in range(10_000):
        clock.now = 500.0 + index / 1_000
        try:
            registry.authenticate(_random_key(index))
        except RateLimitedError as exc:
            assert exc.retry_after_seconds == 1
            refused += 1
        except AuthenticationError:
            unknown += 1
    # THEN DynamoDB was read at most the burst plus 20 a second, memory stayed at the cap, the rest got 429
    assert len(table.get_requests) == unknown <= 20 + 20 * 10 + 1
    assert refused == 10_000 - unknown
    assert len(registry._unknown) == 100


def test_registry_known_source_authenticates_during_a_random_key_flood(
    table: FakeDynamoDB, clock: FakeClock
) -> None:
    # GIVEN a known source, authenticated once, and a flood of random ids that spends the read budget
    registry = SourceRegistry(
        TABLE, ttl_seconds=60, unknown_reads_per_second=5, client=lambda: table, clock=clock
    )
    write_key = _store(table, "web-shop")
    registry.authenticate(write_key)
    for index in range(50):
        with pytest.raises((RateLimitedError, AuthenticationError)):
            registry.authenticate(_random_key(index))
    # WHEN its cache entry expires in the middle of the flood
    clock.now += 61
    for index in range(50, 100):
        with pytest.raises((RateLimitedError, AuthenticationError)):
            registry.authenticate(_random_key(index))
    # THEN it is still authenticated (a refresh of a known id needs no budget)
    assert registry.authenticate(write_key).source_id == "web-shop"


def test_registry_known_sources_cache_evicts_least_recently_used(
    table: FakeDynamoDB, clock: FakeClock
) -> None:
    # GIVEN a cache of 2 known sources and 3 sources in use
    registry = SourceRegistry(TABLE, max_sources=2, client=lambda: table, clock=clock)
    keys = [_store(table, name) for name in ("app-a", "app-b", "app-c")]
    # WHEN a, b, a, c are authenticated, then a and b again
    for index in (0, 1, 0, 2, 0, 1):
        registry.authenticate(keys[index])
    # THEN b (least recently used when c came) was read twice, a once, c once
    reads = [request["Key"]["source_id"]["S"] for request in table.get_requests]
    assert reads == ["app-a", "app-b", "app-c", "app-b"]


def test_source_item_with_rate_round_trips() -> None:
    source = Source("web-shop", "h" * 64, True, "", frozenset(), rate_per_second=250)
    assert Source.from_item(source.as_item()) == source
    assert source.as_item()["rate_per_second"] == {"N": "250"}


# --- register --------------------------------------------------------------------------------------


def test_registry_register_new_source_puts_item_only_if_absent(
    registry: SourceRegistry, table: FakeDynamoDB
) -> None:
    # GIVEN a new source record
    write_key, source = sources.new_write_key("app")
    # WHEN it is registered
    registry.register(source)
    # THEN it is written conditionally, and its key then authenticates
    assert table.put_requests == [
        {
            "TableName": TABLE,
            "Item": source.as_item(),
            "ConditionExpression": "attribute_not_exists(source_id)",
        }
    ]
    assert registry.authenticate(write_key) == source


def test_registry_register_existing_source_raises_value_error(
    registry: SourceRegistry, table: FakeDynamoDB
) -> None:
    # GIVEN a source that exists already
    _store(table, "app")
    _, replacement = sources.new_write_key("app")
    # WHEN a record with the same id is registered
    # THEN it is refused and the stored record is untouched
    before = dict(table.items["app"])
    with pytest.raises(ValueError, match="already exists"):
        registry.register(replacement)
    assert table.items["app"] == before


@pytest.mark.parametrize(
    "error",
    [
        _client_error("ProvisionedThroughputExceededException", "PutItem"),
        _client_error("AccessDeniedException", "PutItem"),
        EndpointConnectionError(endpoint_url="https://dynamodb.us-west-2.amazonaws.com"),
    ],
    ids=["throughput", "access-denied", "no-connection"],
)
def test_registry_register_table_fails_raises_unavailable(
    registry: SourceRegistry, table: FakeDynamoDB, error: Exception
) -> None:
    # GIVEN a failing table
    table.error = error
    _, source = sources.new_write_key("app")
    # WHEN a source is registered
    # THEN the failure is a dependency error
    with pytest.raises(SourceRegistryUnavailableError) as caught:
        registry.register(source)
    assert caught.value.__cause__ is error
