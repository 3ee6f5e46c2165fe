"""The front-door buffer (``FrontDoorBuffer=Enabled``): small signal batches go to a Kinesis stream.

A one-event request makes a one-signal batch, and every bus hop, replication and idempotency write
after it is priced per entry. In buffer mode the validator puts such batches on the buffer stream
(one PutRecords per request) and the batcher function packs the records of many requests into full
signal batches before the first bus hop (docs/adr/0009-front-door-buffer.md). Batches that are
already full enough (``buffer_below`` signals or more) gain nothing from the detour and go straight
to the bus.

A request is answered only after its records are durably in the stream: a record Kinesis did not
take is retried like a failed PutEvents entry, and what is still not written at the deadline is a
``retry`` verdict (429 when Kinesis throttled, else 503), exactly as on the direct path.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

from signal_platform import aws_clients
from signal_platform.bus_publisher import Publisher, PublishOutcome, RetryingPublisher, RetryPolicy
from signal_platform.signal_batches import BusEntry, chunk_by_size_and_count

# PutRecords limits: 500 records and 5 MiB (data plus partition keys) per call.
MAX_RECORDS_PER_CALL: Final = 500
MAX_CALL_BYTES: Final = 5 * 1024 * 1024
DEFAULT_POLICY: Final = RetryPolicy()


class StreamPublisher(RetryingPublisher):
    """Signal batches as records of the buffer stream: the Detail is the record, the batch id its key.

    The batch id spreads records evenly over the shards, and an identical resend of a request lands
    on the shard of its original (the batcher drops it when it meets both). Retries are the bus
    publisher's: only the records Kinesis did not take, until the deadline."""

    throttling_codes = frozenset(
        {"ProvisionedThroughputExceededException", "ThrottlingException", "KMSThrottlingException"}
    )
    permanent_codes: frozenset[str] = frozenset()  # a missing stream or key may come back: retried

    def __init__(
        self,
        *,
        stream_name: str,
        policy: RetryPolicy = DEFAULT_POLICY,
        client: Callable[[], Any] = lambda: aws_clients.client("kinesis"),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(policy=policy, client=client, sleep=sleep, clock=clock, rand=rand)
        self._stream_name = stream_name

    def _calls(self, entries: Sequence[BusEntry]) -> Iterator[list[BusEntry]]:
        sizes = [entry.size + len(entry.batch_id) for entry in entries]
        for start, end in chunk_by_size_and_count(
            sizes, overhead=0, budget=MAX_CALL_BYTES, max_count=MAX_RECORDS_PER_CALL
        ):
            yield list(entries[start:end])

    def _put(self, call: list[BusEntry], outcome: PublishOutcome) -> list[tuple[BusEntry, str]]:
        """One PutRecords call; returns the entries whose records failed, each with its error code."""
        records = [{"Data": entry.entry["Detail"].encode(), "PartitionKey": entry.batch_id} for entry in call]
        return self._send(
            call,
            outcome,
            lambda: self._client().put_records(StreamName=self._stream_name, Records=records),
            "Records",
        )


class FrontDoor:
    """Small batches (fewer than ``buffer_below`` signals) to the buffer, full ones to the bus."""

    def __init__(self, *, bus: Publisher, buffer: Publisher, buffer_below: int) -> None:
        self._bus = bus
        self._buffer = buffer
        self._buffer_below = buffer_below

    def publish(self, entries: Sequence[BusEntry], *, deadline: float) -> PublishOutcome:
        small = [entry for entry in entries if len(entry.event_ids) < self._buffer_below]
        full = [entry for entry in entries if len(entry.event_ids) >= self._buffer_below]
        outcomes = [
            sink.publish(part, deadline=deadline)
            for sink, part in ((self._buffer, small), (self._bus, full))
            if part
        ]
        merged = PublishOutcome()
        for outcome in outcomes:
            merged.delivered += outcome.delivered
            merged.undelivered += outcome.undelivered
            merged.calls += outcome.calls
            merged.attempts = max(merged.attempts, outcome.attempts)
            for code, count in outcome.error_codes.items():
                merged.error_codes[code] = merged.error_codes.get(code, 0) + count
            # An outage on either side is an outage; throttling only when that is all there was.
            if outcome.failure == "unavailable" or (outcome.failure and merged.failure is None):
                merged.failure = outcome.failure
        return merged
