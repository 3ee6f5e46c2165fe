"""``StreamReader`` against a scripted Kinesis stand-in: paging, stops, expiry, throttling, errors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from dlq_hydrate.stream_reader import ReadPolicy, StreamReader
from signal_platform.errors import RecordsUnreadableError, StreamReadError

ARN = "arn:aws:kinesis:us-west-2:123456789012:stream/signals-data-platform"
SHARD = "shardId-000000000003"


def client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


@dataclass
class FakeKinesis:
    """One shard holding ``positions``; iterators are ``<after-position>``; errors are scripted per call."""

    positions: list[int]
    closed: bool = False
    behind_ms: int = 0
    errors: dict[str, Iterator[str | None]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def _maybe_fail(self, operation: str) -> None:
        script = self.errors.get(operation)
        code = next(script, None) if script else None
        if code:
            raise client_error(code, operation)

    def get_shard_iterator(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("GetShardIterator", kwargs))
        self._maybe_fail("GetShardIterator")
        sequence = int(kwargs["StartingSequenceNumber"])
        after = sequence - 1 if kwargs["ShardIteratorType"] == "AT_SEQUENCE_NUMBER" else sequence
        return {"ShardIterator": str(after)}

    def get_records(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("GetRecords", kwargs))
        self._maybe_fail("GetRecords")
        after, limit = int(kwargs["ShardIterator"]), kwargs["Limit"]
        page = [position for position in self.positions if position > after][:limit]
        last = page[-1] if page else after
        at_end = not [position for position in self.positions if position > last]
        return {
            "Records": [
                {
                    "SequenceNumber": str(position),
                    "PartitionKey": f"pk-{position}",
                    "Data": b'{"n": %d}' % position,
                    "ApproximateArrivalTimestamp": datetime(2026, 11, 26, 10, tzinfo=UTC),
                }
                for position in page
            ],
            "NextShardIterator": None if (self.closed and at_end) else str(last),
            "MillisBehindLatest": 0 if at_end else self.behind_ms,
        }

    def count(self, operation: str) -> int:
        return sum(1 for name, _ in self.calls if name == operation)


def reader(kinesis: FakeKinesis, *, limit: int = 10_000, sleeps: list[float] | None = None) -> StreamReader:
    return StreamReader(
        policy=ReadPolicy(limit=limit, max_attempts=4, max_empty_pages=3),
        client=lambda _region: kinesis,
        sleep=(sleeps if sleeps is not None else []).append,
        clock=lambda: 0.0,
        rand=lambda: 0.5,
    )


def read(kinesis: FakeKinesis, start: int, end: int, expected: int, **options: Any) -> Any:
    return reader(kinesis, **options).read_range(
        stream_arn=ARN,
        region="us-west-2",
        shard_id=SHARD,
        start=str(start),
        end=str(end),
        expected=expected,
        deadline=1.0,
    )


def test_read_range_stops_at_the_end_without_an_extra_call() -> None:
    kinesis = FakeKinesis(positions=list(range(1, 1001)))
    result = read(kinesis, 101, 400, 300, limit=100)
    assert [record.position for record in result.records] == list(range(101, 401))
    assert result.get_records_calls == 3
    assert result.stop == "reached_end"
    first_call = kinesis.calls[0][1]
    assert first_call == {
        "StreamARN": ARN,
        "ShardId": SHARD,
        "ShardIteratorType": "AT_SEQUENCE_NUMBER",
        "StartingSequenceNumber": "101",
    }
    assert [call["Limit"] for name, call in kinesis.calls if name == "GetRecords"] == [100, 100, 100]
    assert all(call["StreamARN"] == ARN for name, call in kinesis.calls if name == "GetRecords")


def test_read_range_compares_sequence_numbers_as_integers() -> None:
    # "9" > "10" as text; as numbers the range 9..10 holds both records
    kinesis = FakeKinesis(positions=[8, 9, 10, 11])
    result = read(kinesis, 9, 10, 2)
    assert [record.sequence_number for record in result.records] == ["9", "10"]


def test_read_range_passing_a_missing_end_stops_there() -> None:
    kinesis = FakeKinesis(positions=[1, 2, 3, 7, 8])
    result = read(kinesis, 1, 5, 5)
    assert [record.position for record in result.records] == [1, 2, 3]
    assert result.stop == "passed_end"


def test_read_range_stops_when_caught_up_or_the_shard_is_closed() -> None:
    caught_up = read(FakeKinesis(positions=[1, 2]), 1, 5, 5)
    assert (caught_up.stop, len(caught_up.records)) == ("caught_up", 2)
    closed = read(FakeKinesis(positions=[1, 2], closed=True), 1, 5, 5)
    assert (closed.stop, len(closed.records)) == ("shard_closed", 2)


def test_read_range_keeps_reading_past_a_short_count_until_the_end() -> None:
    # More records in the range than the batch named (e.g. a parallelised consumer): read on
    kinesis = FakeKinesis(positions=list(range(1, 21)))
    result = read(kinesis, 1, 12, 10, limit=100)
    assert len(result.records) == 12
    assert [call["Limit"] for name, call in kinesis.calls if name == "GetRecords"] == [10, 100]


def test_read_range_renews_an_expired_iterator_after_the_last_record_read() -> None:
    kinesis = FakeKinesis(
        positions=list(range(1, 11)), errors={"GetRecords": iter([None, "ExpiredIteratorException"])}
    )
    result = read(kinesis, 1, 10, 10, limit=4)
    assert [record.position for record in result.records] == list(range(1, 11))
    assert result.expired_iterators == 1
    renewal = [call for name, call in kinesis.calls if name == "GetShardIterator"][1]
    assert renewal["ShardIteratorType"] == "AFTER_SEQUENCE_NUMBER"
    assert renewal["StartingSequenceNumber"] == "4"


def test_read_range_expired_before_any_record_starts_again_at_the_start() -> None:
    kinesis = FakeKinesis(positions=[5, 6], errors={"GetRecords": iter(["ExpiredIteratorException"])})
    result = read(kinesis, 5, 6, 2)
    assert len(result.records) == 2
    renewal = [call for name, call in kinesis.calls if name == "GetShardIterator"][1]
    assert (renewal["ShardIteratorType"], renewal["StartingSequenceNumber"]) == ("AT_SEQUENCE_NUMBER", "5")


def test_read_range_backs_off_on_throughput_exceeded() -> None:
    sleeps: list[float] = []
    kinesis = FakeKinesis(
        positions=[1, 2],
        errors={
            "GetRecords": iter(
                ["ProvisionedThroughputExceededException", "ProvisionedThroughputExceededException"]
            )
        },
    )
    result = read(kinesis, 1, 2, 2, sleeps=sleeps)
    assert len(result.records) == 2
    assert result.throttled == 2
    assert sleeps == [0.1, 0.2]  # full jitter with rand() = 0.5: 0.5 * 0.2 * 2**(attempt - 1)


def test_read_range_throttled_beyond_the_attempts_is_retryable() -> None:
    kinesis = FakeKinesis(
        positions=[1], errors={"GetRecords": iter(["ProvisionedThroughputExceededException"] * 9)}
    )
    with pytest.raises(StreamReadError) as caught:
        read(kinesis, 1, 1, 1)
    assert caught.value.retryable
    assert kinesis.count("GetRecords") == 4


@pytest.mark.parametrize("code", ["AccessDeniedException", "KMSAccessDeniedException", "InternalFailure"])
def test_read_range_other_sdk_errors_are_retryable(code: str) -> None:
    kinesis = FakeKinesis(positions=[1], errors={"GetShardIterator": iter([code])})
    with pytest.raises(StreamReadError, match=code):
        read(kinesis, 1, 1, 1)


@pytest.mark.parametrize("code", ["ResourceNotFoundException", "InvalidArgumentException"])
def test_read_range_gone_stream_or_refused_start_is_unreadable(code: str) -> None:
    kinesis = FakeKinesis(positions=[1], errors={"GetShardIterator": iter([code])})
    with pytest.raises(RecordsUnreadableError) as caught:
        read(kinesis, 1, 1, 1)
    assert not caught.value.retryable


def test_read_range_endless_empty_pages_are_retryable_not_lost() -> None:
    kinesis = FakeKinesis(positions=[], behind_ms=5000)
    kinesis.get_records = lambda **_kwargs: {
        "Records": [],
        "NextShardIterator": "0",
        "MillisBehindLatest": 5000,
    }  # type: ignore[method-assign]
    with pytest.raises(StreamReadError, match="empty pages"):
        read(kinesis, 1, 3, 3)


def test_read_range_past_the_deadline_is_retryable() -> None:
    kinesis = FakeKinesis(positions=[1])
    late = StreamReader(client=lambda _region: kinesis, clock=lambda: 5.0)
    with pytest.raises(StreamReadError, match="no time left"):
        late.read_range(
            stream_arn=ARN, region="us-west-2", shard_id=SHARD, start="1", end="1", expected=1, deadline=1.0
        )


def test_read_range_stream_gone_midway_keeps_what_was_read() -> None:
    kinesis = FakeKinesis(
        positions=list(range(1, 11)), errors={"GetRecords": iter([None, "ResourceNotFoundException"])}
    )
    result = read(kinesis, 1, 10, 10, limit=4)
    assert [record.position for record in result.records] == [1, 2, 3, 4]
    assert result.stop == "unreadable"
    assert result.error is not None
    assert "ResourceNotFoundException" in result.error
