"""BusPublisher: retries only failed entries, bounded by attempts and a deadline (all fakes injected)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from signal_platform.backoff import full_jitter_delay
from signal_platform.bus_publisher import PERMANENT_ENTRY_ERRORS, BusPublisher, RetryPolicy
from signal_platform.signal_batches import MAX_ENTRIES_PER_CALL, BusEntry

# A step of the fake bus: raise an exception for the whole call, or answer each entry (by batch id)
# with an error code or None (delivered).
Step = Exception | Callable[[str], str | None]


def delivered(_batch_id: str) -> str | None:
    return None


def failing(code: str, *batch_ids: str) -> Callable[[str], str | None]:
    """Entries with these batch ids fail with ``code`` (all entries when none are given)."""
    return lambda batch_id: code if not batch_ids or batch_id in batch_ids else None


def throttling_call() -> ClientError:
    return ClientError({"Error": {"Code": "ThrottlingException", "Message": "x"}}, "PutEvents")


class FakeEventBridge:
    """Plays ``steps`` in order, one per PutEvents call, then ``then`` forever; records requests."""

    def __init__(self, *steps: Step, then: Step = delivered) -> None:
        self.steps = list(steps)
        self.then = then
        self.requests: list[dict[str, Any]] = []

    def put_events(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        step = self.steps.pop(0) if self.steps else self.then
        if isinstance(step, Exception):
            raise step
        results: list[dict[str, str]] = []
        for entry in request["Entries"]:
            code = step(json.loads(entry["Detail"])["batch_id"])
            results.append({"EventId": "e-1"} if code is None else {"ErrorCode": code, "ErrorMessage": "x"})
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}

    def batch_ids(self, index: int) -> list[str]:
        return [json.loads(entry["Detail"])["batch_id"] for entry in self.requests[index]["Entries"]]


class FakeTime:
    """A clock that only moves when the publisher sleeps."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def entries(count: int, size: int = 1_000) -> list[BusEntry]:
    return [
        BusEntry(
            batch_id=f"b{index:03d}",
            event_ids=(f"e{index:03d}",),
            entry={
                "Source": "signals.ingest",
                "DetailType": "page_view",
                "Detail": json.dumps({"batch_id": f"b{index:03d}"}),
                "EventBusName": "ingress",
            },
            size=size,
        )
        for index in range(count)
    ]


def ids(batch: list[BusEntry]) -> list[str]:
    return [entry.batch_id for entry in batch]


DEFAULT_POLICY = RetryPolicy(base_delay=0.05, max_delay=2.0, max_attempts=8)


def publisher(
    bus: FakeEventBridge,
    time: FakeTime,
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    endpoint_id: str | None = None,
    rand: float = 0.5,
) -> BusPublisher:
    return BusPublisher(
        endpoint_id=endpoint_id,
        policy=policy,
        client=lambda: bus,
        sleep=time.sleep,
        clock=time.clock,
        rand=lambda: rand,
    )


FAR = 1e9  # a deadline that never stops anything


def test_publisher_all_accepted_delivers_in_one_call_without_sleeping() -> None:
    # GIVEN a healthy bus and three entries
    bus, time = FakeEventBridge(), FakeTime()
    batch = entries(3)
    # WHEN they are published
    outcome = publisher(bus, time).publish(batch, deadline=FAR)
    # THEN one call delivers all of them, in order, with nothing to report
    assert ids(outcome.delivered) == ids(batch)
    assert outcome.undelivered == []
    assert outcome.failure is None
    assert (outcome.calls, outcome.attempts, outcome.error_codes) == (1, 1, {})
    assert time.sleeps == []
    assert bus.requests == [{"Entries": [entry.entry for entry in batch]}]


def test_publisher_no_entries_makes_no_call() -> None:
    # GIVEN nothing to publish
    bus, time = FakeEventBridge(), FakeTime()
    # WHEN publish is called
    outcome = publisher(bus, time).publish([], deadline=FAR)
    # THEN the bus is not called
    assert bus.requests == []
    assert (outcome.calls, outcome.attempts, outcome.failure) == (0, 0, None)


@pytest.mark.parametrize(
    ("endpoint_id", "expected"), [("abc.xyz", {"EndpointId": "abc.xyz"}), ("", {}), (None, {})]
)
def test_publisher_endpoint_id_is_sent_only_when_set(
    endpoint_id: str | None, expected: dict[str, str]
) -> None:
    # GIVEN a publisher with or without a global endpoint
    bus, time = FakeEventBridge(), FakeTime()
    batch = entries(1)
    # WHEN an entry is published
    publisher(bus, time, endpoint_id=endpoint_id).publish(batch, deadline=FAR)
    # THEN EndpointId is in the request exactly when an endpoint is configured
    assert bus.requests == [{"Entries": [batch[0].entry], **expected}]


@pytest.mark.parametrize("code", ["ThrottlingException", "InternalFailure", "ServiceUnavailable"])
def test_publisher_some_entries_fail_retries_only_the_failed_entries(code: str) -> None:
    # GIVEN a bus that rejects two of five entries once
    bus, time = FakeEventBridge(failing(code, "b001", "b003")), FakeTime()
    batch = entries(5)
    # WHEN they are published
    outcome = publisher(bus, time).publish(batch, deadline=FAR)
    # THEN the second call carries exactly the two failed entries, and everything ends delivered once
    assert bus.batch_ids(0) == ["b000", "b001", "b002", "b003", "b004"]
    assert bus.batch_ids(1) == ["b001", "b003"]
    assert ids(outcome.delivered) == ["b000", "b002", "b004", "b001", "b003"]
    assert outcome.undelivered == []
    assert outcome.failure is None
    assert outcome.error_codes == {code: 2}
    assert (outcome.calls, outcome.attempts) == (2, 2)
    assert time.sleeps == [full_jitter_delay(1, base=0.05, cap=2.0, rand=lambda: 0.5)]


def test_publisher_whole_call_throttled_then_ok_retries_everything_and_reports_no_failure() -> None:
    # GIVEN a bus that throttles the whole call once
    bus, time = FakeEventBridge(throttling_call()), FakeTime()
    batch = entries(4)
    # WHEN the entries are published
    outcome = publisher(bus, time).publish(batch, deadline=FAR)
    # THEN the whole call is retried and delivered; the throttle is counted once per entry it hit,
    # but is not the answer
    assert bus.batch_ids(0) == bus.batch_ids(1) == ids(batch)
    assert ids(outcome.delivered) == ids(batch)
    assert outcome.failure is None
    assert outcome.error_codes == {"ThrottlingException": 4}
    assert (outcome.calls, outcome.attempts) == (2, 2)
    assert len(time.sleeps) == 1


@pytest.mark.parametrize(
    ("step", "failure", "code"),
    [
        (throttling_call(), "throttled", "ThrottlingException"),
        (
            ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "x"}}, "PutEvents"),
            "throttled",
            "TooManyRequestsException",
        ),
        (
            ClientError({"Error": {"Code": "InternalException", "Message": "x"}}, "PutEvents"),
            "unavailable",
            "InternalException",
        ),
        (
            ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "x"}}, "PutEvents"),
            "unavailable",
            "ServiceUnavailable",
        ),
        (
            EndpointConnectionError(endpoint_url="https://events.us-west-2.amazonaws.com"),
            "unavailable",
            "EndpointConnectionError",
        ),
        (
            ReadTimeoutError(endpoint_url="https://events.us-west-2.amazonaws.com"),
            "unavailable",
            "ReadTimeoutError",
        ),
        (failing("ThrottlingException"), "throttled", "ThrottlingException"),
        (failing("InternalFailure"), "unavailable", "InternalFailure"),
    ],
    ids=[
        "call-throttling",
        "call-too-many-requests",
        "call-internal",
        "call-service-unavailable",
        "no-connection",
        "read-timeout",
        "entry-throttling",
        "entry-internal-failure",
    ],
)
def test_publisher_persistent_error_exhausts_attempts_and_reports_failure_kind(
    step: Step, failure: str, code: str
) -> None:
    # GIVEN a bus that fails the same way on every call
    bus, time = FakeEventBridge(then=step), FakeTime()
    batch = entries(3)
    policy = RetryPolicy(base_delay=0.05, max_delay=2.0, max_attempts=4)
    # WHEN the entries are published
    outcome = publisher(bus, time, policy=policy).publish(batch, deadline=FAR)
    # THEN every entry comes back undelivered, the failure kind follows the error, and retries stopped
    assert outcome.delivered == []
    assert ids(outcome.undelivered) == ids(batch)
    assert outcome.failure == failure
    assert (outcome.calls, outcome.attempts) == (4, 4)
    assert sum(outcome.error_codes.values()) == outcome.error_codes[code]
    assert outcome.error_codes[code] in {4, 12}  # per call, or per entry
    assert len(time.sleeps) == 3


@pytest.mark.parametrize("code", sorted(PERMANENT_ENTRY_ERRORS))
def test_publisher_permanent_entry_error_is_not_retried_and_returned_undelivered(code: str) -> None:
    # GIVEN a bus that always rejects one entry with a permanent error and throttles another once
    bus = FakeEventBridge(
        {"b001": code, "b002": "ThrottlingException"}.get,
        then=failing(code, "b001"),
    )
    time = FakeTime()
    batch = entries(4)
    # WHEN the entries are published
    outcome = publisher(bus, time).publish(batch, deadline=FAR)
    # THEN the permanent failure is tried once, the throttled entry is retried alone, nothing is lost
    assert bus.batch_ids(0) == ["b000", "b001", "b002", "b003"]
    assert bus.batch_ids(1) == ["b002"]
    assert len(bus.requests) == 2
    assert ids(outcome.delivered) == ["b000", "b003", "b002"]
    assert ids(outcome.undelivered) == ["b001"]
    assert outcome.failure is not None
    assert outcome.error_codes == {code: 1, "ThrottlingException": 1}


def test_publisher_only_permanent_errors_stops_after_one_attempt_without_sleeping() -> None:
    # GIVEN a bus that rejects every entry as malformed
    bus, time = FakeEventBridge(then=failing("MalformedDetail")), FakeTime()
    batch = entries(3)
    # WHEN they are published
    outcome = publisher(bus, time).publish(batch, deadline=FAR)
    # THEN there is nothing worth retrying: one call, no sleep, all returned (never dropped)
    assert (outcome.calls, outcome.attempts) == (1, 1)
    assert time.sleeps == []
    assert ids(outcome.undelivered) == ids(batch)
    assert outcome.failure == "unavailable"
    assert outcome.error_codes == {"MalformedDetail": 3}


@pytest.mark.parametrize(
    ("deadline", "attempts"),
    [
        (100.0, 1),  # already due: the first attempt runs, no retry starts
        (100.5, 1),  # first delay 0.5 would end exactly at the deadline
        (100.51, 2),  # 0.5 fits; then 0.5 + 1.0 does not
        (101.5, 2),
        (101.51, 3),  # 0.5 + 1.0 fit; then + 2.0 does not
        (103.51, 4),
    ],
)
def test_publisher_deadline_stops_retrying_before_it_would_be_passed(deadline: float, attempts: int) -> None:
    # GIVEN a bus that always throttles, delays of rand 0.5 * (1, 2, 4, 8) s and a clock at t=100
    bus, time = FakeEventBridge(then=throttling_call()), FakeTime(100.0)
    policy = RetryPolicy(base_delay=1.0, max_delay=60.0, max_attempts=50)
    # WHEN entries are published with a deadline
    outcome = publisher(bus, time, policy=policy).publish(entries(2), deadline=deadline)
    # THEN no sleep ends at or past the deadline and no attempt starts after it
    assert outcome.attempts == attempts
    assert time.now < deadline or attempts == 1
    assert time.sleeps == [0.5 * 2 ** (n - 1) for n in range(1, attempts)]
    assert ids(outcome.undelivered) == ["b000", "b001"]
    assert outcome.failure == "throttled"


@pytest.mark.parametrize("max_attempts", [1, 2, 5, 8])
def test_publisher_max_attempts_bounds_the_calls(max_attempts: int) -> None:
    # GIVEN a bus that is always unavailable
    bus = FakeEventBridge(then=EndpointConnectionError(endpoint_url="https://events.example"))
    time = FakeTime()
    policy = RetryPolicy(base_delay=0.01, max_delay=0.1, max_attempts=max_attempts)
    # WHEN entries are published with a far deadline
    outcome = publisher(bus, time, policy=policy).publish(entries(3), deadline=FAR)
    # THEN there are exactly max_attempts attempts and one sleep between each pair
    assert outcome.attempts == max_attempts
    assert len(bus.requests) == outcome.calls == max_attempts
    assert len(time.sleeps) == max_attempts - 1
    assert outcome.failure == "unavailable"


def test_publisher_sleeps_follow_full_jitter_with_the_policy() -> None:
    # GIVEN a bus that fails four times, then accepts, and rand = 0.9
    bus = FakeEventBridge(*[throttling_call()] * 4)
    time = FakeTime()
    policy = RetryPolicy(base_delay=0.1, max_delay=0.5, max_attempts=8)
    # WHEN entries are published
    outcome = publisher(bus, time, policy=policy, rand=0.9).publish(entries(1), deadline=FAR)
    # THEN each sleep is rand * min(cap, base * 2**(attempt - 1))
    assert time.sleeps == pytest.approx([0.09, 0.18, 0.36, 0.45])
    assert outcome.failure is None
    assert outcome.attempts == 5


def test_publisher_many_entries_never_sends_more_than_ten_per_call() -> None:
    # GIVEN 25 entries and a bus that fails some entries in every call for a while
    bus = FakeEventBridge(
        failing("InternalFailure", *[f"b{n:03d}" for n in range(0, 25, 2)]),
        failing("ThrottlingException", *[f"b{n:03d}" for n in range(0, 25, 4)]),
        throttling_call(),
    )
    time = FakeTime()
    batch = entries(25)
    # WHEN they are published
    outcome = publisher(bus, time).publish(batch, deadline=FAR)
    # THEN no call carries more than ten entries, the first attempt is split 10/10/5,
    assert all(len(request["Entries"]) <= MAX_ENTRIES_PER_CALL for request in bus.requests)
    assert [len(request["Entries"]) for request in bus.requests[:3]] == [10, 10, 5]
    # AND every entry is delivered exactly once
    assert sorted(ids(outcome.delivered)) == ids(batch)
    assert outcome.undelivered == []
    assert outcome.failure is None
    assert outcome.calls == len(bus.requests)


def test_publisher_entries_too_big_for_one_call_are_split_by_bytes() -> None:
    # GIVEN ten entries of 300 KB (only three fit in a 1 MB request)
    bus, time = FakeEventBridge(), FakeTime()
    batch = entries(10, size=300_000)
    # WHEN they are published
    outcome = publisher(bus, time).publish(batch, deadline=FAR)
    # THEN the calls carry 3, 3, 3 and 1 entries, in order
    assert [len(request["Entries"]) for request in bus.requests] == [3, 3, 3, 1]
    assert (outcome.calls, outcome.attempts) == (4, 1)
    assert ids(outcome.delivered) == ids(batch)


def test_publisher_outcome_partitions_the_input_and_counts_every_error() -> None:
    # GIVEN a bus that fails different entries differently over several attempts
    bus = FakeEventBridge(
        {"b000": "InternalFailure", "b001": "MalformedDetail", "b002": "ThrottlingException"}.get,
        failing("InternalFailure", "b000"),
        then=failing("ThrottlingException", "b000"),
    )
    time = FakeTime()
    batch = entries(5)
    policy = RetryPolicy(base_delay=0.01, max_delay=0.1, max_attempts=3)
    # WHEN they are published
    outcome = publisher(bus, time, policy=policy).publish(batch, deadline=FAR)
    # THEN delivered and undelivered partition the input (no loss, no duplicate)
    assert sorted(ids(outcome.delivered) + ids(outcome.undelivered)) == ids(batch)
    assert ids(outcome.delivered) == ["b003", "b004", "b002"]
    assert sorted(ids(outcome.undelivered)) == ["b000", "b001"]
    # AND every error is counted; the undelivered entries' last errors decide the failure kind, and
    # a malformed entry is no throttle, so the answer is an outage rather than "slow down"
    assert outcome.error_codes == {"InternalFailure": 2, "MalformedDetail": 1, "ThrottlingException": 2}
    assert outcome.failure == "unavailable"
    assert (outcome.calls, outcome.attempts) == (3, 3)
