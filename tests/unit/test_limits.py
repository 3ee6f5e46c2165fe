"""Per-source rate limits: leased shares of a per-second budget (fake lease store and clock)."""

from __future__ import annotations

import pytest

from signal_platform.bounded_cache import BoundedTtlCache
from signal_platform.errors import PayloadTooLargeError, RateLimitedError
from signal_platform.token_bucket import TokenBucket
from validator.api import error_answer, segment_error_answer
from validator.limits import LeaseUnavailableError, RateLimitSettings, SourceRateLimiter


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeLeaseStore:
    """The conditional UpdateItem's semantics: granted + tokens <= budget, else refused."""

    def __init__(self) -> None:
        self.granted: dict[tuple[str, int], int] = {}
        self.writes = 0
        self.down = False

    def lease(self, source_id: str, window: int, tokens: int, budget: int) -> bool:
        self.writes += 1
        if self.down:
            raise LeaseUnavailableError("table unreachable")
        current = self.granted.get((source_id, window), 0)
        if current + tokens > budget:
            return False
        self.granted[(source_id, window)] = current + tokens
        return True


def _admitted(limiter: SourceRateLimiter, source: str, rate: int | None, events: int) -> bool:
    try:
        limiter.admit(source, rate, events)
    except RateLimitedError:
        return False
    return True


def test_limiter_within_rate_admits_every_request() -> None:
    # GIVEN a source allowed 100 events a second
    clock, store = FakeClock(), FakeLeaseStore()
    limiter = SourceRateLimiter(store, 5_000, clock=clock)
    # WHEN it sends 10 events every 0.1 s for 5 s (exactly its rate)
    results = []
    for tick in range(50):
        clock.now = 1_000.0 + tick / 10
        results.append(_admitted(limiter, "web-shop", 100, 10))
    # THEN every request is admitted
    assert all(results)


def test_limiter_over_rate_refuses_with_seconds_until_the_next_window() -> None:
    # GIVEN a source allowed 50 events a second that spent them at 1000.2
    clock, store = FakeClock(1_000.2), FakeLeaseStore()
    limiter = SourceRateLimiter(store, 5_000, clock=clock)
    limiter.admit("noisy", 50, 50)
    # WHEN it sends one more event at 1000.3
    clock.now = 1_000.3
    with pytest.raises(RateLimitedError) as refused:
        limiter.admit("noisy", 50, 1)
    # THEN it is told to come back when the next window's budget exists, and then it is admitted
    assert refused.value.retry_after_seconds == 1
    assert "noisy" in str(refused.value)
    clock.now += refused.value.retry_after_seconds
    assert _admitted(limiter, "noisy", 50, 50)


def test_limiter_ten_times_the_rate_is_mostly_refused_and_never_over_budget() -> None:
    # GIVEN a source allowed 50 events a second sending 500 (10 requests of 50) for 10 s
    clock, store = FakeClock(), FakeLeaseStore()
    limiter = SourceRateLimiter(store, 5_000, clock=clock)
    admitted = 0
    for tick in range(100):
        clock.now = 1_000.0 + tick / 10
        admitted += _admitted(limiter, "noisy", 50, 50)
    # THEN one request a window passes: 10 of 100, 500 events in 10 s
    assert admitted == 10
    assert max(store.granted.values()) <= 50


def test_limiter_environments_share_one_budget() -> None:
    # GIVEN three environments (limiters) leasing from one store, a source allowed 90 events a second
    clock, store = FakeClock(), FakeLeaseStore()
    environments = [SourceRateLimiter(store, 5_000, clock=clock) for _ in range(3)]
    # WHEN each sends 10 events every 0.05 s for 3 s (600 events a second together)
    admitted_events = 0
    for tick in range(60):
        clock.now = 1_000.0 + tick / 20
        for limiter in environments:
            admitted_events += 10 * _admitted(limiter, "shared", 90, 10)
    # THEN together they got the budget of 3 windows, not 3 times it
    assert admitted_events == 3 * 90
    assert all(granted <= 90 for granted in store.granted.values())


def test_limiter_writes_per_lease_not_per_request() -> None:
    # GIVEN a steady source well within its rate of 1,000 events a second
    clock, store = FakeClock(), FakeLeaseStore()
    limiter = SourceRateLimiter(store, 5_000, clock=clock)
    # WHEN it sends 100 requests a second of 5 events for 10 s
    for tick in range(1_000):
        clock.now = 1_000.0 + tick / 100
        limiter.admit("steady", 1_000, 5)
    # THEN after the first window one lease a second suffices: far fewer writes than requests
    assert store.writes <= 100 + 2 * 10
    assert store.writes < 1_000 / 5


def test_limiter_spent_window_writes_no_more() -> None:
    # GIVEN a source whose window's budget is spent
    clock, store = FakeClock(), FakeLeaseStore()
    limiter = SourceRateLimiter(store, 5_000, clock=clock)
    limiter.admit("noisy", 10, 10)
    assert not _admitted(limiter, "noisy", 10, 1)
    writes = store.writes
    # WHEN 100 more requests arrive in the same window
    for _ in range(100):
        assert not _admitted(limiter, "noisy", 10, 1)
    # THEN none of them writes to the lease table
    assert store.writes == writes


def test_limiter_request_larger_than_the_budget_is_refused_as_too_large() -> None:
    # GIVEN a source allowed 10 events a second
    store = FakeLeaseStore()
    limiter = SourceRateLimiter(store, 5_000, clock=FakeClock())
    # WHEN it sends a request of 11 events (no second could ever hold it)
    with pytest.raises(PayloadTooLargeError, match="send smaller batches"):
        limiter.admit("small", 10, 11)
    # THEN it is final (413, not a 429 to resend), costs no lease, and a request of 10 still passes
    assert error_answer(PayloadTooLargeError("x"), "r").status == 413
    assert store.writes == 0
    assert _admitted(limiter, "small", 10, 10)


def test_limiter_source_without_rate_gets_the_default() -> None:
    limiter = SourceRateLimiter(FakeLeaseStore(), 20, clock=FakeClock())
    assert _admitted(limiter, "plain", None, 20)
    assert not _admitted(limiter, "plain", None, 1)


def test_limiter_sources_are_limited_independently() -> None:
    # GIVEN a noisy source over its budget
    limiter = SourceRateLimiter(FakeLeaseStore(), 5_000, clock=FakeClock())
    limiter.admit("noisy", 10, 10)
    assert not _admitted(limiter, "noisy", 10, 1)
    # THEN another source in the same window is admitted
    assert _admitted(limiter, "quiet", 10, 10)


def test_limiter_lease_table_down_fails_open_to_a_per_environment_limit() -> None:
    # GIVEN a lease table that cannot be reached
    clock, store = FakeClock(), FakeLeaseStore()
    store.down = True
    limiter = SourceRateLimiter(store, 5_000, clock=clock)
    # WHEN a source allowed 30 events a second sends 10 requests of 10 in one window
    admitted = sum(_admitted(limiter, "web-shop", 30, 10) for _ in range(10))
    # THEN ingestion goes on, within the source's rate for this environment
    assert admitted == 3
    # AND the table is asked again only after a pause, not on every request
    for tick in range(1, 300):
        clock.now = 1_000.0 + tick / 10
        _admitted(limiter, "web-shop", 30, 10)
    assert store.writes == 1
    clock.now = 1_031.0
    store.down = False
    assert _admitted(limiter, "web-shop", 30, 10)
    assert store.writes == 2


def test_limiter_state_is_bounded_by_its_cap() -> None:
    limiter = SourceRateLimiter(FakeLeaseStore(), 5_000, max_sources=50, clock=FakeClock())
    for index in range(1_000):
        limiter.admit(f"source-{index}", None, 1)
    assert len(limiter._shares) == 50


# --- the answers ----------------------------------------------------------------------------------


def test_rate_limited_answer_is_429_with_its_retry_after_on_both_routes() -> None:
    # GIVEN a refusal 3 seconds before the source's tokens return
    error = RateLimitedError("source 'noisy' is over its rate", retry_after_seconds=3)
    # WHEN it is answered on the native and on the Segment routes
    native = error_answer(error, "req-1")
    segment = segment_error_answer(error, "req-1")
    # THEN both are 429 with Retry-After 3 (Segment's and RudderStack's libraries back off and resend)
    assert (native.status, native.headers["Retry-After"]) == (429, "3")
    assert native.body["error"] == {"code": "rate_limited", "message": str(error), "retryable": True}
    assert (segment.status, segment.headers["Retry-After"]) == (429, "3")
    assert segment.body["success"] is False
    assert segment.body["code"] == "rate_limited"


# --- the building blocks --------------------------------------------------------------------------


def test_bounded_cache_expires_entries_and_keeps_them_as_stale() -> None:
    clock = FakeClock(0.0)
    cache: BoundedTtlCache[int] = BoundedTtlCache(10, 5.0, clock)
    cache.put("a", 1)
    clock.now = 4.9
    assert cache.get("a") == (True, 1)
    clock.now = 5.0
    assert cache.get("a") == (False, None)
    assert cache.stale("a") == (True, 1)


def test_bounded_cache_evicts_least_recently_used_at_its_cap() -> None:
    cache: BoundedTtlCache[int] = BoundedTtlCache(2, 60.0, FakeClock())
    cache.put("a", 1)
    cache.put("b", 2)
    cache.get("a")
    cache.put("c", 3)
    assert (cache.get("a")[0], cache.get("b")[0], cache.get("c")[0]) == (True, False, True)
    assert len(cache) == 2


def test_token_bucket_refills_at_its_rate_and_says_when() -> None:
    clock = FakeClock(0.0)
    bucket = TokenBucket(2.0, 4.0, clock)
    assert all(bucket.take() for _ in range(4))
    assert not bucket.take()
    assert bucket.seconds_until(3) == 2  # 3 tokens at 2 a second: 1.5 s, rounded up
    clock.now = 1.5
    assert bucket.take(3)


def test_rate_limit_settings_from_env() -> None:
    assert RateLimitSettings.from_env({}) == RateLimitSettings(None, 5000)
    configured = {"RATE_LEASES_TABLE_NAME": "leases", "DEFAULT_SOURCE_RATE_PER_SECOND": "250"}
    assert RateLimitSettings.from_env(configured) == RateLimitSettings("leases", 250)
