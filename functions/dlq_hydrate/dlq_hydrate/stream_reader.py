"""``StreamReader``: re-reads one exact sequence range of one shard of a Kinesis stream.

The range comes from a DLQ message's ``KinesisBatchInfo``. The reader starts AT the start sequence
number on that shard of that stream (``StreamARN=``), pages with ``NextShardIterator`` and stops as
soon as it reaches or passes the end sequence number, so a batch of N records costs
ceil(N / limit) GetRecords calls when nothing is missing. It also stops when the shard is closed
(no next iterator) or the reader has caught up (an empty page, ``MillisBehindLatest`` 0).

Sequence numbers are compared as integers. What was found is returned as is: deciding whether it
is the whole batch is the caller's job (``hydrate``). SDK errors become project errors:
``StreamReadError`` (retryable: throttling that outlasts the backoff, outages, missing permissions)
or ``RecordsUnreadableError`` (the stream or shard no longer exists, or Kinesis refuses the start
sequence number: retrying cannot bring those records back).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from signal_platform import aws_clients
from signal_platform.backoff import full_jitter_delay
from signal_platform.errors import RecordsUnreadableError, StreamReadError

_THROTTLED: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "ThrottlingException",
        "KMSThrottlingException",
    }
)
_GONE: Final = frozenset({"ResourceNotFoundException"})
_ITERATOR_REFUSED: Final = frozenset({"InvalidArgumentException"})
_EXPIRED: Final = "ExpiredIteratorException"


@dataclass(frozen=True, slots=True)
class StreamRecord:
    partition_key: str
    sequence_number: str
    arrival: datetime
    data: bytes

    @property
    def position(self) -> int:
        return int(self.sequence_number)


@dataclass(slots=True)
class ReadResult:
    """The records of the range that the shard still holds, in order, and what reading them cost."""

    records: list[StreamRecord] = field(default_factory=list)
    get_records_calls: int = 0
    get_shard_iterator_calls: int = 0
    throttled: int = 0
    expired_iterators: int = 0
    stop: str = ""
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ReadPolicy:
    limit: int = 10_000
    max_attempts: int = 8
    base_delay: float = 0.2
    max_delay: float = 5.0
    # Empty pages in a row while the shard still has later data (a time gap) before giving up.
    max_empty_pages: int = 50
    max_iterator_renewals: int = 10


class _ExpiredIteratorError(Exception):
    pass


class StreamReader:
    """Reads sequence ranges of Kinesis shards; the client for a stream's Region is made on first use."""

    def __init__(
        self,
        *,
        policy: ReadPolicy = ReadPolicy(),
        client: Callable[[str], Any] = lambda region: aws_clients.client("kinesis", region),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._policy = policy
        self._client = client
        self._sleep = sleep
        self._clock = clock
        self._rand = rand

    def read_range(
        self,
        *,
        stream_arn: str,
        region: str,
        shard_id: str,
        start: str,
        end: str,
        expected: int,
        deadline: float,
    ) -> ReadResult:
        """The records of ``shard_id`` with ``start <= sequence <= end``, read until ``deadline`` (clock)."""
        result = ReadResult()
        kinesis = self._client(region)
        iterator: str | None = self._iterator(
            kinesis, stream_arn, shard_id, "AT_SEQUENCE_NUMBER", start, result
        )
        empty_pages = 0
        while iterator is not None:
            remaining = expected - len(result.records)
            limit = min(self._policy.limit, remaining) if remaining > 0 else self._policy.limit
            try:
                page = self._get_records(kinesis, stream_arn, iterator, limit, result, deadline)
            except RecordsUnreadableError as error:
                if not result.records:
                    raise
                # Gone while being read: keep what was read; the caller writes the rest down.
                result.stop, result.error = "unreadable", str(error)
                return result
            except _ExpiredIteratorError:
                iterator = self._renew(kinesis, stream_arn, shard_id, start, result)
                continue
            records = page.get("Records") or []
            if _take(records, int(start), int(end), result):
                return result
            iterator = page.get("NextShardIterator")
            if records:
                empty_pages = 0
            elif not page.get("MillisBehindLatest"):
                result.stop = "caught_up"
                return result
            else:
                empty_pages += 1
                if empty_pages > self._policy.max_empty_pages:
                    raise StreamReadError(
                        f"{shard_id}: {empty_pages} empty pages in a row before the range end"
                    )
        result.stop = "shard_closed"
        return result

    def _renew(
        self, kinesis: Any, stream_arn: str, shard_id: str, start: str, result: ReadResult
    ) -> str | None:
        """A new iterator after an expired one: after the last record read, else at the start."""
        result.expired_iterators += 1
        if result.expired_iterators > self._policy.max_iterator_renewals:
            raise StreamReadError(f"{shard_id}: the shard iterator kept expiring")
        after = result.records[-1].sequence_number if result.records else None
        kind = "AFTER_SEQUENCE_NUMBER" if after else "AT_SEQUENCE_NUMBER"
        return self._iterator(kinesis, stream_arn, shard_id, kind, after or start, result)

    def _iterator(
        self, kinesis: Any, stream_arn: str, shard_id: str, kind: str, sequence: str, result: ReadResult
    ) -> str | None:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - lazy import

        attempt = 0
        while True:
            attempt += 1
            result.get_shard_iterator_calls += 1
            try:
                response = kinesis.get_shard_iterator(
                    StreamARN=stream_arn,
                    ShardId=shard_id,
                    ShardIteratorType=kind,
                    StartingSequenceNumber=sequence,
                )
            except (ClientError, BotoCoreError) as exc:
                code = aws_clients.error_code(exc)
                if code in _GONE:
                    raise RecordsUnreadableError(f"{stream_arn} {shard_id}: {code}") from exc
                if code in _ITERATOR_REFUSED:
                    raise RecordsUnreadableError(f"{shard_id} refuses {kind} {sequence}: {exc}") from exc
                if code in _THROTTLED and attempt < self._policy.max_attempts:
                    result.throttled += 1
                    self._sleep(self._delay(attempt))
                    continue
                raise StreamReadError(f"GetShardIterator {shard_id} failed: {code}") from exc
            iterator = response.get("ShardIterator")
            return iterator if isinstance(iterator, str) else None

    def _get_records(
        self, kinesis: Any, stream_arn: str, iterator: str, limit: int, result: ReadResult, deadline: float
    ) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - lazy import

        attempt = 0
        while True:
            attempt += 1
            if self._clock() >= deadline:
                raise StreamReadError("no time left to read the range; the message is retried")
            result.get_records_calls += 1
            try:
                page: dict[str, Any] = kinesis.get_records(
                    ShardIterator=iterator, Limit=limit, StreamARN=stream_arn
                )
            except (ClientError, BotoCoreError) as exc:
                code = aws_clients.error_code(exc)
                if code == _EXPIRED:
                    raise _ExpiredIteratorError from exc
                if code in _GONE:
                    raise RecordsUnreadableError(f"{stream_arn}: {code}") from exc
                delay = self._delay(attempt)
                if (
                    code in _THROTTLED
                    and attempt < self._policy.max_attempts
                    and self._clock() + delay < deadline
                ):
                    result.throttled += 1
                    self._sleep(delay)
                    continue
                raise StreamReadError(f"GetRecords failed: {code}") from exc
            return page

    def _delay(self, attempt: int) -> float:
        return full_jitter_delay(
            attempt, base=self._policy.base_delay, cap=self._policy.max_delay, rand=self._rand
        )


def _take(page: list[dict[str, Any]], first: int, last: int, result: ReadResult) -> bool:
    """Add the page's records of ``first..last`` to ``result``; True once the end is reached or passed."""
    for raw in page:
        record = _record(raw)
        if record.position > last:
            result.stop = "passed_end"
            return True
        if record.position >= first:
            result.records.append(record)
        if record.position == last:
            result.stop = "reached_end"
            return True
    return False


def _record(raw: dict[str, Any]) -> StreamRecord:
    arrival = raw.get("ApproximateArrivalTimestamp")
    if isinstance(arrival, datetime):
        moment = arrival.astimezone(UTC) if arrival.tzinfo else arrival.replace(tzinfo=UTC)
    elif isinstance(arrival, int | float):
        moment = datetime.fromtimestamp(arrival, UTC)
    else:
        raise StreamReadError(f"record {raw.get('SequenceNumber')} has no ApproximateArrivalTimestamp")
    data = raw.get("Data", b"")
    return StreamRecord(
        partition_key=str(raw["PartitionKey"]),
        sequence_number=str(raw["SequenceNumber"]),
        arrival=moment,
        data=data if isinstance(data, bytes) else bytes(data),
    )
