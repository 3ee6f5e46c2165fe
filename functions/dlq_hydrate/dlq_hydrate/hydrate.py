"""Turn one DLQ message into objects of the DLQ store; nothing is dropped, every gap is written down.

- A Kinesis batch failure: re-read the named range from the stream, store each record found under
  its own deterministic key, and check the range: first sequence == start, last == end, at least
  batchSize records (more with a ParallelizationFactor above 1). Anything else (records aged out
  of the stream, a stream or shard that is gone, a mismatched range) also writes an
  ``unrecoverable`` manifest with the exact metadata and what was and was not found; the records
  that were found are stored all the same.
- A rule-target failure: the whole EventBridge event with the error attributes, one object.
- A Lambda asynchronous-invocation failure (an on-failure destination record): the EventBridge event
  it carries (``requestPayload``), stored like a rule-target event, with the failure context
  (condition, invoke count, function, error type and message) in ``dlq.failure``; one object.
- Anything else: the whole SQS record under ``unparsed``.

Only dependency failures (S3, Kinesis) raise: the message is then reported as failed and SQS
redrives it; writes are idempotent, so a retry completes what a failed attempt began.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from dlq_hydrate import keys
from dlq_hydrate.messages import (
    AsyncInvocationFailure,
    KinesisBatchFailure,
    RuleTargetFailure,
    UnparsedMessage,
    parse_message,
)
from dlq_hydrate.settings import HydrateSettings
from dlq_hydrate.store import DlqStore
from dlq_hydrate.stream_reader import ReadResult, StreamReader, StreamRecord
from signal_platform import codec
from signal_platform.errors import RecordsUnreadableError
from signal_platform.timeutil import format_rfc3339, utc_now

Kind = Literal["kinesis_batch", "rule_target", "async_invocation", "unparsed"]
# A manifest lists the keys it recovered up to this many (a 10,000-record batch would be ~1 MB).
MAX_MANIFEST_KEYS: Final = 1_000
# A record's data sits two levels down in its object (``record.data``).
MAX_DATA_NESTING: Final = codec.MAX_NESTING - 2


@dataclass(slots=True)
class HydrateOutcome:
    kind: Kind
    consumer: str
    message_id: str
    expected_records: int = 0
    records_recovered: int = 0
    objects_created: int = 0
    objects_existing: int = 0
    unrecoverable_records: int = 0
    problems: list[str] = field(default_factory=list)
    manifest_key: str | None = None
    unparsed_key: str | None = None
    reason: str | None = None
    get_records_calls: int = 0
    throttled: int = 0


def range_problems(expected: int, start: int, end: int, found: Sequence[StreamRecord]) -> list[str]:
    """Why ``found`` does not hold the whole batch ``start..end`` of ``expected`` records (empty: it
    does). More records than ``expected`` are not a problem: a batch of a Pipe with
    ParallelizationFactor > 1 holds only its partition keys' records of the range, and a range whose
    both ends were read holds them all (a stream loses its oldest records first)."""
    if not found:
        return ["no_records_found"]
    problems = []
    if found[0].position != start:
        problems.append("start_not_found")
    if found[-1].position != end:
        problems.append("end_not_found")
    positions = {record.position for record in found}
    if len(found) < expected or len(positions) != len(found):
        problems.append("count_mismatch")
    return problems


def missing_records(expected: int, found: int, problems: Sequence[str]) -> int:
    """How many of the batch's records are known to be missing: without its first or last record at
    least that one, whatever else of the range was read."""
    known = 1 if {"no_records_found", "start_not_found", "end_not_found", "unreadable"} & set(problems) else 0
    return max(expected - found, known)


def record_document(record: StreamRecord, failure: KinesisBatchFailure, dlq: Mapping[str, Any]) -> bytes:
    """The stored object: the full record (data as JSON when it is JSON), DLQ context, replay state."""
    body: dict[str, Any] = {
        "partitionKey": record.partition_key,
        "sequenceNumber": record.sequence_number,
        "approximateArrivalTimestamp": record.arrival.timestamp(),
        "approximateArrival": format_rfc3339(record.arrival),
        "shardId": failure.batch.shard_id,
        "streamArn": failure.batch.stream_arn,
    }
    try:
        # JSON nested too deep for the replay tool to write the object again is kept as bytes too.
        embeddable = codec.nests_within(codec.loads(record.data), MAX_DATA_NESTING)
    except codec.JSONDecodeError:
        embeddable = False
    if embeddable:
        # The original bytes, embedded unchanged: nothing is lost to a re-serialisation.
        body["data"] = codec.Fragment(record.data)
    else:
        body["data_base64"] = base64.b64encode(record.data).decode()
    return codec.dumps({"record": body, "dlq": dlq, "replay": {"count": 0}})


class Hydrator:
    def __init__(
        self,
        settings: HydrateSettings,
        *,
        reader: StreamReader,
        store: DlqStore,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._settings = settings
        self._reader = reader
        self._store = store
        self._now = now
        self._executor: ThreadPoolExecutor | None = None

    def hydrate(self, record: Mapping[str, Any], *, deadline: float) -> HydrateOutcome:
        """Store what the DLQ message ``record`` (one SQS record) stands for, reading until ``deadline``."""
        message = parse_message(record)
        received_at = format_rfc3339(self._now())
        if isinstance(message, KinesisBatchFailure):
            return self._kinesis(message, received_at, deadline)
        if isinstance(message, RuleTargetFailure | AsyncInvocationFailure):
            return self._event(message, received_at)
        return self._unparsed(message, received_at)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    # --- the shapes -------------------------------------------------------------------------

    def _kinesis(self, failure: KinesisBatchFailure, received_at: str, deadline: float) -> HydrateOutcome:
        envelope, batch = failure.envelope, failure.batch
        consumer = self._settings.consumer_for(envelope.queue_name)
        outcome = HydrateOutcome(
            "kinesis_batch", consumer, envelope.message_id, expected_records=batch.batch_size
        )
        dlq = {**envelope.context(consumer, received_at), "shape": failure.shape, "message": failure.body}
        unreadable: str | None = None
        try:
            read = self._reader.read_range(
                stream_arn=batch.stream_arn,
                region=batch.region,
                shard_id=batch.shard_id,
                start=batch.start_sequence_number,
                end=batch.end_sequence_number,
                expected=batch.batch_size,
                deadline=deadline,
            )
        except RecordsUnreadableError as error:
            read, unreadable = ReadResult(stop="unreadable"), str(error)
        else:
            unreadable = read.error
        outcome.get_records_calls, outcome.throttled = read.get_records_calls, read.throttled
        found = read.records
        stored = [
            (
                keys.record_key(
                    self._settings.dlq_prefix,
                    consumer,
                    record.arrival,
                    record.partition_key,
                    record.sequence_number,
                ),
                record_document(record, failure, dlq),
            )
            for record in found
        ]
        self._create_all(stored, outcome)
        outcome.records_recovered = len(found)
        outcome.problems = range_problems(batch.batch_size, batch.start, batch.end, found)
        if unreadable is not None:
            outcome.problems.insert(0, "unreadable")
        if outcome.problems:
            outcome.unrecoverable_records = missing_records(batch.batch_size, len(found), outcome.problems)
            outcome.manifest_key = self._write_manifest(
                failure, consumer, dlq, read, [key for key, _ in stored], outcome, unreadable
            )
        return outcome

    def _event(self, failure: RuleTargetFailure | AsyncInvocationFailure, received_at: str) -> HydrateOutcome:
        envelope = failure.envelope
        consumer = self._settings.consumer_for(envelope.queue_name)
        kind: Kind = "rule_target" if isinstance(failure, RuleTargetFailure) else "async_invocation"
        outcome = HydrateOutcome(kind, consumer, envelope.message_id, expected_records=1)
        key = keys.record_key(
            self._settings.dlq_prefix, consumer, failure.time, failure.partition_key, failure.event_id
        )
        dlq: dict[str, Any] = {**envelope.context(consumer, received_at), "shape": kind}
        if isinstance(failure, AsyncInvocationFailure):
            dlq["failure"] = dict(failure.failure)
        document = {"event": codec.Fragment(failure.body), "dlq": dlq, "replay": {"count": 0}}
        self._create_all([(key, codec.dumps(document))], outcome)
        outcome.records_recovered = 1
        return outcome

    def _unparsed(self, message: UnparsedMessage, received_at: str) -> HydrateOutcome:
        envelope = message.envelope
        consumer = self._settings.consumer_for(envelope.queue_name)
        message_id = envelope.message_id or hashlib.sha256(codec.canonical(message.raw)).hexdigest()
        key = keys.unparsed_key(self._settings.unparsed_prefix, envelope.sent_at or self._now(), message_id)
        document = {
            "reason": message.reason,
            "dlq": envelope.context(consumer, received_at),
            "message": message.raw,
        }
        outcome = HydrateOutcome("unparsed", consumer, message_id, reason=message.reason, unparsed_key=key)
        self._create_all([(key, codec.dumps(document))], outcome)
        return outcome

    # --- writing -------------------------------------------------------------------------------

    def _write_manifest(
        self,
        failure: KinesisBatchFailure,
        consumer: str,
        dlq: Mapping[str, Any],
        read: ReadResult,
        stored_keys: list[str],
        outcome: HydrateOutcome,
        unreadable: str | None,
    ) -> str:
        batch, found = failure.batch, read.records
        moment = batch.first_arrival or failure.envelope.sent_at or self._now()
        key = keys.manifest_key(
            self._settings.unrecoverable_prefix,
            consumer,
            moment,
            batch.shard_id,
            batch.start_sequence_number,
            batch.end_sequence_number,
        )
        manifest = {
            "consumer": consumer,
            "streamArn": batch.stream_arn,
            "shardId": batch.shard_id,
            "expected": failure.body["KinesisBatchInfo"],
            "problems": outcome.problems,
            "unreadable": unreadable,
            "found": {
                "count": len(found),
                "firstSequenceNumber": found[0].sequence_number if found else None,
                "lastSequenceNumber": found[-1].sequence_number if found else None,
                "keys": stored_keys[:MAX_MANIFEST_KEYS],
                "keysTruncated": len(stored_keys) > MAX_MANIFEST_KEYS,
            },
            "missing": {
                "count": outcome.unrecoverable_records,
                # Records of [start, first found) and (last found, end] are not in the stream any more.
                "beforeSequenceNumber": found[0].sequence_number if found else None,
                "afterSequenceNumber": found[-1].sequence_number if found else None,
                "wholeRange": not found,
            },
            "read": {
                "getRecordsCalls": read.get_records_calls,
                "getShardIteratorCalls": read.get_shard_iterator_calls,
                "stop": read.stop,
            },
            "dlq": dlq,
        }
        self._store.put(key, codec.dumps(manifest))
        return key

    def _create_all(self, objects: Sequence[tuple[str, bytes]], outcome: HydrateOutcome) -> None:
        if len(objects) <= 1 or self._settings.write_concurrency == 1:
            created = [self._store.create(key, body) for key, body in objects]
        else:
            # The first write builds the S3 client here, before the threads share it.
            created = [self._store.create(*objects[0])]
            created.extend(self._pool().map(lambda item: self._store.create(*item), objects[1:]))
        outcome.objects_created += sum(created)
        outcome.objects_existing += len(created) - sum(created)

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self._settings.write_concurrency, thread_name_prefix="dlq-store"
            )
        return self._executor
