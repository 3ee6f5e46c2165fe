"""EventBridge Pipes with a Kinesis source: the poller moto does not run.

Per shard, from the Pipe's ``KinesisStreamParameters``:

- **Lanes**: ``ParallelizationFactor`` lanes per shard (Lambda's Kinesis guide: one shard processed
  by up to 10 concurrent batches, order kept per partition key, not per shard): a record goes to
  the lane of its partition key, and each lane batches, retries, bisects and dead-letters on its
  own, one batch in flight per lane; the lanes' batches interleave.
- **Batching**: a batch is sent when ``BatchSize`` records are waiting, or when
  ``MaximumBatchingWindowInSeconds`` (times ``window_scale``) has passed since the first waiting
  record arrived; a Lambda batch also stays under the 6 MB invocation payload.
- **Ordering**: a lane never moves past a batch that is still failing.
- **Failure** of a batch (an error, or ``batchItemFailures`` naming its first record): with
  ``OnPartialBatchItemFailure: AUTOMATIC_BISECT`` and more than one record, it is split in half and
  the halves are tried in order (splitting does not use up a retry); otherwise it is retried after a
  backoff, at most ``MaximumRetryAttempts`` times (-1: until the records age out).
- **Partial failure** (``batchItemFailures`` whose lowest record is not the first): the records
  before it are done; the rest is retried (counting a retry). An empty, null or unknown
  ``itemIdentifier`` fails the whole batch, as the Pipes documentation says.
- **Age**: before each attempt, records older than ``MaximumRecordAgeInSeconds`` are taken out
  (ages include ``RecordAging`` faults).
- **Dead letters**: a batch that exhausted its retries (condition ``RetryAttemptsExhausted``) or
  records that aged out (condition ``MaximumRecordAgeExceeded``; the name is not documented by AWS, verify)
  become one message on the ``DeadLetterConfig`` queue in the Pipe shape: ``{"context":
  {"partnerResourceArn","condition"},"version":"1.0","timestamp","KinesisBatchInfo":{"shardId",
  "startSequenceNumber","endSequenceNumber","approximateArrivalOfFirstRecord",
  "approximateArrivalOfLastRecord","batchSize","streamArn"}}``: metadata only.
- **Targets**: a Lambda function gets the JSON array of flat records (``REQUEST_RESPONSE``; with
  ``FIRE_AND_FORGET`` it goes to the async queue); an API destination gets one request per record,
  its body the ``InputTemplate`` applied to the record (``<$.data>``: the record's data, parsed as
  JSON as Pipes does); a failed request fails the batch from that record on.
- ``FilterCriteria`` patterns are matched with moto's EventBridge pattern matcher; records that match
  none are skipped, as Pipes does.
- **Resharding**: after a split or merge (a ``Reshard`` fault), the closed parent is read to its end
  and its batches are done before its children are read (from their start), as the Kinesis guide
  asks of consumers after a reshard, which keeps the order of a partition key across it.
- **Throttles** (a ``Concurrency`` fault on the target): the target was not invoked; the batch is
  retried with a backoff and the retry is not counted against ``MaximumRetryAttempts`` (Lambda's
  Kinesis event source mappings retry a throttled function until the records expire).
- **At least once** (a ``Duplicate`` fault): a batch that succeeded may be delivered again.

A Lambda **event source mapping** on a Kinesis stream (``AWS::Lambda::EventSourceMapping``) is the same
poller (``PipeSpec.of_mapping``), in Lambda's shapes: the function gets ``{"Records": [...]}`` with
each record's ``kinesis`` part nested; ``batchItemFailures`` name sequence numbers
(``FunctionResponseTypes: [ReportBatchItemFailures]``; without it any failure fails the batch);
``BisectBatchOnFunctionError`` splits only on a function error; the ``DestinationConfig.OnFailure``
queue gets the mapping's on-failure record (``requestContext``, ``responseContext``, ``version``,
``timestamp``, ``KinesisBatchInfo``); AWS/Lambda ``IteratorAge`` is reported per function at each
invocation (the age of the batch's last record), instead of the Pipes metrics.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from localcloud import jsonpath
from localcloud.batch_response import failed_items
from localcloud.http_targets import ApiDestinationError, HttpSender
from localcloud.provision import Resource
from localcloud.runtime import FunctionRuntime
from localcloud.services import Services, backoff, iso_millis
from localcloud.signals import decode_text, event_ids
from signal_platform import codec

MAX_LAMBDA_PAYLOAD: Final = 6 * 1024 * 1024
RETRY_BASE_SECONDS: Final = 1.0
RETRY_CAP_SECONDS: Final = 60.0
AGE_CONDITION: Final = "MaximumRecordAgeExceeded"
RETRY_CONDITION: Final = "RetryAttemptsExhausted"
_PLACEHOLDER: Final = re.compile(r"<(\$[^>]*)>")
_KINESIS_PART: Final = (
    "kinesisSchemaVersion",
    "partitionKey",
    "sequenceNumber",
    "data",
    "approximateArrivalTimestamp",
)

TargetKind = Literal["lambda", "api-destination"]
SourceKind = Literal["pipe", "mapping"]


@dataclass(frozen=True, slots=True)
class PipeSpec:
    logical_id: str
    name: str
    arn: str
    role_arn: str
    stream_arn: str
    stream_name: str
    stream_logical_id: str
    starting_position: str
    batch_size: int
    window: float
    maximum_retry_attempts: int
    maximum_record_age: int
    bisect: bool
    dead_letter_arn: str | None
    target_arn: str
    target_kind: TargetKind
    fire_and_forget: bool
    input_template: str | None
    filters: tuple[dict[str, Any], ...]
    running: bool
    parallelization: int = 1
    kind: SourceKind = "pipe"
    report_failures: bool = True

    @classmethod
    def of_mapping(cls, mapping: Resource, services: Services) -> PipeSpec:
        """A Lambda event source mapping on a Kinesis stream, as the poller runs it."""
        props = mapping.properties
        stream = services.stack.by_arn(str(props["EventSourceArn"]))
        if stream is None:
            raise ValueError(f"mapping {mapping.logical_id}: its source is not in the template")
        function = str(props["FunctionName"])
        on_failure = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        return cls(
            logical_id=mapping.logical_id,
            name=function,
            arn=str(mapping.attributes.get("EventSourceMappingArn", mapping.logical_id)),
            role_arn="",
            stream_arn=stream.arn,
            stream_name=str(stream.ref),
            stream_logical_id=stream.logical_id,
            starting_position=str(props.get("StartingPosition", "LATEST")),
            batch_size=int(props.get("BatchSize", 100)),
            window=float(props.get("MaximumBatchingWindowInSeconds", 0)),
            maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
            maximum_record_age=int(props.get("MaximumRecordAgeInSeconds", -1)),
            bisect=str(props.get("BisectBatchOnFunctionError", "false")).lower() == "true",
            parallelization=int(props.get("ParallelizationFactor", 1)),
            dead_letter_arn=str(on_failure) if on_failure else None,
            target_arn=function,
            target_kind="lambda",
            fire_and_forget=False,
            input_template=None,
            filters=(),
            running=str(props.get("Enabled", "true")).lower() != "false",
            kind="mapping",
            report_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
        )

    @classmethod
    def of(cls, pipe: Resource, services: Services) -> PipeSpec:
        props = pipe.properties
        source = (props.get("SourceParameters") or {}).get("KinesisStreamParameters")
        if source is None:
            raise ValueError(f"pipe {pipe.logical_id}: only Kinesis sources are emulated")
        stream = services.stack.by_arn(str(props["Source"]))
        if stream is None:
            raise ValueError(f"pipe {pipe.logical_id}: its source {props['Source']} is not in the template")
        target = str(props["Target"])
        target_kind: TargetKind = "lambda" if ":lambda:" in target else "api-destination"
        if target_kind == "api-destination" and ":api-destination/" not in target:
            raise ValueError(
                f"pipe {pipe.logical_id}: target {target} is not emulated (Lambda, API destination)"
            )
        target_params = props.get("TargetParameters") or {}
        filters = (props.get("SourceParameters") or {}).get("FilterCriteria", {}).get("Filters", [])
        return cls(
            logical_id=pipe.logical_id,
            name=str(pipe.ref),
            arn=pipe.arn,
            role_arn=str(props.get("RoleArn", "")),
            stream_arn=stream.arn,
            stream_name=str(stream.ref),
            stream_logical_id=stream.logical_id,
            starting_position=str(source.get("StartingPosition", "LATEST")),
            batch_size=int(source.get("BatchSize", 100)),
            window=float(source.get("MaximumBatchingWindowInSeconds", 0)),
            maximum_retry_attempts=int(source.get("MaximumRetryAttempts", -1)),
            maximum_record_age=int(source.get("MaximumRecordAgeInSeconds", -1)),
            bisect=source.get("OnPartialBatchItemFailure") == "AUTOMATIC_BISECT",
            parallelization=int(source.get("ParallelizationFactor", 1)),
            dead_letter_arn=(source.get("DeadLetterConfig") or {}).get("Arn"),
            target_arn=target,
            target_kind=target_kind,
            fire_and_forget=(target_params.get("LambdaFunctionParameters") or {}).get("InvocationType")
            == "FIRE_AND_FORGET",
            input_template=target_params.get("InputTemplate"),
            filters=tuple(
                json.loads(f["Pattern"]) if isinstance(f.get("Pattern"), str) else f.get("Pattern", {})
                for f in filters
            ),
            running=props.get("DesiredState", "RUNNING") == "RUNNING",
        )


@dataclass(frozen=True, slots=True)
class StreamRecord:
    shard_id: str
    sequence_number: str
    partition_key: str
    data: bytes
    arrival: float

    @property
    def event_id(self) -> str:
        return f"{self.shard_id}:{self.sequence_number}"

    def flat(self, pipe: PipeSpec, region: str) -> dict[str, Any]:
        """The record as a Pipe (or a Lambda ESM's ``kinesis`` part, flattened) hands it to targets."""
        return {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": self.partition_key,
            "sequenceNumber": self.sequence_number,
            "data": base64.b64encode(self.data).decode(),
            "approximateArrivalTimestamp": self.arrival,
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": self.event_id,
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": pipe.role_arn,
            "awsRegion": region,
            "eventSourceARN": pipe.stream_arn,
        }

    def nested(self, pipe: PipeSpec, region: str) -> dict[str, Any]:
        """The record as a Lambda Kinesis event source mapping hands it over (in ``Records``)."""
        flat = self.flat(pipe, region)
        kinesis = {key: flat.pop(key) for key in _KINESIS_PART}
        return {**flat, "kinesis": kinesis}

    def signal_ids(self) -> set[str]:
        return set(event_ids(decode_text(self.data.decode(errors="replace"), base64_encoded=False)))


@dataclass
class _Batch:
    records: list[StreamRecord]
    due: float
    attempts: int = 0
    throttles: int = 0
    copy: bool = False  # a redelivery of a batch that succeeded (at least once)


class ShardReader:
    """Reads one shard through GetShardIterator / GetRecords, from a starting position. A closed shard
    (split or merged) is read to its end: then ``ended`` is set, as Kinesis answers no next iterator."""

    def __init__(self, services: Services, stream_name: str, shard_id: str, starting_position: str) -> None:
        self._services = services
        self._stream = stream_name
        self.shard_id = shard_id
        self.closed = False
        self.ended = False
        self._iterator: str | None = services.client("kinesis").get_shard_iterator(
            StreamName=stream_name, ShardId=shard_id, ShardIteratorType=starting_position
        )["ShardIterator"]

    def read(self, limit: int) -> list[StreamRecord]:
        if self._iterator is None:
            return []
        answer = self._services.client("kinesis").get_records(ShardIterator=self._iterator, Limit=limit)
        self._iterator = answer.get("NextShardIterator")
        records = answer.get("Records", [])
        if self.closed and not records:
            self._iterator, self.ended = None, True
        return [
            StreamRecord(
                shard_id=self.shard_id,
                sequence_number=str(record["SequenceNumber"]),
                partition_key=str(record["PartitionKey"]),
                data=bytes(record["Data"]),
                arrival=_epoch(record["ApproximateArrivalTimestamp"]),
            )
            for record in records
        ]


def _epoch(moment: Any) -> float:
    return moment.timestamp() if isinstance(moment, datetime) else float(moment)


# The index of the first record that failed, None when the whole batch succeeded, or THROTTLED.
Deliver = Callable[[list[StreamRecord]], int | None]
THROTTLED: Final = -1  # the target was not invoked (Lambda throttled it): retried, not counted
FUNCTION_ERROR: Final = 0  # the whole batch failed (Pipes bisect on it; a mapping only on an error)


def lane_of(partition_key: str, lanes: int) -> int:
    """The lane of a partition key: always the same one, so the key's records stay in order."""
    return zlib.crc32(partition_key.encode()) % lanes


class _Lane:
    """One of a shard's ``ParallelizationFactor`` lanes: the records of its partition keys (a key
    always maps to the same lane, so its order is kept), its batching window, its batches in flight."""

    def __init__(self) -> None:
        self.buffer: deque[StreamRecord] = deque()
        self.work: deque[_Batch] = deque()
        self.window_started: float | None = None

    def empty(self) -> bool:
        return not self.buffer and not self.work


class ShardPoller:
    """One shard of one pipe: its lanes, their batches in flight (and bisected remainders), dead letters.

    Children of a split or merged shard wait until their parents are read to the end and done, as
    Kinesis consumers must to keep the order of a partition key across a reshard.
    """

    def __init__(
        self,
        pipe: PipeSpec,
        reader: ShardReader,
        services: Services,
        deliver: Deliver,
        window_scale: float,
        poll_interval: float | None,
        parents: tuple[ShardPoller, ...] = (),
    ) -> None:
        self.pipe = pipe
        self._poll_interval = poll_interval
        self._next_poll = 0.0
        self._activity_seen = -1
        self.reader = reader
        self.parents = parents
        self._services = services
        self._deliver = deliver
        self._window = pipe.window * window_scale
        self._lanes = [_Lane() for _ in range(max(1, pipe.parallelization))]
        self._drained = False
        self.invocations = 0
        self.dead_letters = 0

    @property
    def lanes(self) -> int:
        return len(self._lanes)

    def _stale(self) -> bool:
        """True when the shard may hold records not read yet: never read empty, or puts since."""
        if self.reader.ended:
            return False
        return not self._drained or self._activity() != self._activity_seen

    def _activity(self) -> int:
        return self._services.stream_activity[self.pipe.stream_name, self.reader.shard_id]

    def close(self) -> None:
        """The shard was split or merged: read it to its end (then its children may start)."""
        self.reader.closed, self._drained = True, False

    def _waiting_for_parents(self) -> bool:
        return any(not parent.finished() for parent in self.parents)

    def finished(self) -> bool:
        """A closed shard read to its end with nothing left in flight."""
        return self.reader.ended and all(lane.empty() for lane in self._lanes)

    def idle(self) -> bool:
        return all(lane.empty() for lane in self._lanes) and (
            not self._stale() or self._waiting_for_parents()
        )

    def next_due(self) -> float | None:
        if self._waiting_for_parents():
            return None
        dues = []
        for lane in self._lanes:
            if lane.work:
                dues.append(lane.work[0].due)
            elif lane.buffer and lane.window_started is not None:
                dues.append(lane.window_started + self._window)
        if self._room() > 0:  # a full buffer reads nothing more until a batch is taken from it
            if self._stale():
                dues.append(self._services.clock.now())
            elif self._poll_interval is not None and not self.reader.ended:
                dues.append(self._next_poll)
        return min(dues) if dues else None

    def _room(self) -> int:
        """Records the lanes can still take: a batch each."""
        return self.pipe.batch_size * len(self._lanes) - sum(len(lane.buffer) for lane in self._lanes)

    def pump(self) -> int:
        if self._waiting_for_parents():
            return 0
        now = self._services.clock.now()
        self._fill()
        return sum(self._pump_lane(lane, now) for lane in self._lanes)

    def _pump_lane(self, lane: _Lane, now: float) -> int:
        if not lane.work:
            if not lane.buffer:
                lane.window_started = None
                return 0
            if lane.window_started is None:
                lane.window_started = now
            if len(lane.buffer) < self.pipe.batch_size and now < lane.window_started + self._window:
                return 0
            lane.work.append(_Batch(self._take(lane.buffer), now))
            lane.window_started = now if lane.buffer else None
        batch = lane.work[0]
        if batch.due > now:
            return 0
        self._attempt(lane, batch, now)
        return 1

    def _fill(self) -> None:
        """Read when the shard may have more (puts since the last empty read, or the poll interval),
        up to a batch per lane waiting."""
        wanted = self._room()
        now = self._services.clock.now()
        polling_due = self._poll_interval is not None and now >= self._next_poll
        if wanted <= 0 or not (self._stale() or polling_due):
            return
        activity = self._activity()
        records = self.reader.read(wanted)
        if self._poll_interval is not None:
            self._next_poll = now + self._poll_interval
        # What GetRecords reports: how far behind the tip the last record read is (aging faults included).
        age = self._age(records[-1], now) if records else 0.0
        stream = {"StreamName": self.pipe.stream_name}
        self._services.emit("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", stream, age * 1000)
        if not records:
            self._drained, self._activity_seen = True, activity
        for record in records:
            if self._matches(record):
                self._lanes[self._lane_of(record)].buffer.append(record)

    def _lane_of(self, record: StreamRecord) -> int:
        return lane_of(record.partition_key, len(self._lanes))

    def _matches(self, record: StreamRecord) -> bool:
        if not self.pipe.filters:
            return True
        from moto.events.models import EventPattern  # noqa: PLC0415 - moto's own matcher

        view: Any = record_view(record, self.pipe, self._services.region)
        return any(
            EventPattern(json.dumps(pattern), pattern).matches_event(view) for pattern in self.pipe.filters
        )

    def _take(self, buffer: deque[StreamRecord]) -> list[StreamRecord]:
        batch: list[StreamRecord] = []
        size = 2
        while buffer and len(batch) < self.pipe.batch_size:
            record_size = len(buffer[0].data) * 4 // 3 + 400  # base64 plus the record's fields
            if batch and self.pipe.target_kind == "lambda" and size + record_size > MAX_LAMBDA_PAYLOAD:
                break
            batch.append(buffer.popleft())
            size += record_size
        return batch

    def _age(self, record: StreamRecord, now: float) -> float:
        offset = self._services.faults.record_age_offset(
            (self.pipe.stream_logical_id, self.pipe.stream_name), record.signal_ids
        )
        return now - record.arrival + offset

    def _attempt(self, lane: _Lane, batch: _Batch, now: float) -> None:
        if self.pipe.maximum_record_age >= 0:
            fresh = [
                record for record in batch.records if self._age(record, now) <= self.pipe.maximum_record_age
            ]
            if len(fresh) < len(batch.records):
                self._dead_letter_runs(batch.records, fresh, AGE_CONDITION)
                batch.records = fresh
                if not fresh:
                    lane.work.popleft()
                    return
        self.invocations += 1
        pipe = {"PipeName": self.pipe.name}
        if self.pipe.kind == "pipe":
            self._services.emit("AWS/EventBridge/Pipes", "Invocations", pipe)
        else:  # Lambda's IteratorAge: how old the batch's last record is when the function gets it
            age = self._age(batch.records[-1], now) * 1000
            self._services.emit("AWS/Lambda", "IteratorAge", {"FunctionName": self.pipe.name}, age)
        failed_from = self._deliver(batch.records)
        if failed_from == THROTTLED:
            batch.throttles += 1
            batch.due = now + backoff(
                batch.throttles, base=RETRY_BASE_SECONDS, cap=RETRY_CAP_SECONDS, rng=self._services.rng
            )
            return
        if failed_from is None:
            lane.work.popleft()
            if not batch.copy and self._services.faults.duplicate((self.pipe.logical_id, self.pipe.name)):
                lane.work.appendleft(_Batch(batch.records, now, copy=True))
            return
        if self.pipe.kind == "pipe":
            failure = "ExecutionFailed" if failed_from == 0 else "ExecutionPartiallyFailed"
            self._services.emit("AWS/EventBridge/Pipes", failure, pipe)
        remaining = batch.records[failed_from:]
        if failed_from == FUNCTION_ERROR and self.pipe.bisect and len(remaining) > 1:
            middle = len(remaining) // 2
            lane.work.popleft()
            lane.work.appendleft(_Batch(remaining[middle:], now, batch.attempts))
            lane.work.appendleft(_Batch(remaining[:middle], now, batch.attempts))
            return
        batch.records = remaining
        batch.attempts += 1
        if 0 <= self.pipe.maximum_retry_attempts < batch.attempts:
            lane.work.popleft()
            self._dead_letter(remaining, RETRY_CONDITION)
            return
        batch.due = now + backoff(
            batch.attempts, base=RETRY_BASE_SECONDS, cap=RETRY_CAP_SECONDS, rng=self._services.rng
        )

    def _dead_letter_runs(
        self, records: list[StreamRecord], kept: list[StreamRecord], condition: str
    ) -> None:
        kept_ids = {record.event_id for record in kept}
        run: list[StreamRecord] = []
        for record in records:
            if record.event_id in kept_ids:
                if run:
                    self._dead_letter(run, condition)
                run = []
            else:
                run.append(record)
        if run:
            self._dead_letter(run, condition)

    def _dead_letter(self, records: list[StreamRecord], condition: str) -> None:
        message: dict[str, Any] = {
            "context": {"partnerResourceArn": self.pipe.arn, "condition": condition},
            "version": "1.0",
            "timestamp": iso_millis(self._services.clock.now()),
            "KinesisBatchInfo": {
                "shardId": records[0].shard_id,
                "startSequenceNumber": records[0].sequence_number,
                "endSequenceNumber": records[-1].sequence_number,
                "approximateArrivalOfFirstRecord": iso_millis(records[0].arrival),
                "approximateArrivalOfLastRecord": iso_millis(records[-1].arrival),
                "batchSize": len(records),
                "streamArn": self.pipe.stream_arn,
            },
        }
        if self.pipe.kind == "mapping":
            message = self._on_failure_record(message, condition)
        if self.pipe.dead_letter_arn and self._services.send_to_queue(self.pipe.dead_letter_arn, message):
            self.dead_letters += 1
            return
        reason = "no DeadLetterConfig" if not self.pipe.dead_letter_arn else "the DLQ could not be written"
        self._services.drop(self.pipe.logical_id, f"{condition}, {reason}", message)

    def _on_failure_record(self, message: dict[str, Any], condition: str) -> dict[str, Any]:
        """A Lambda event source mapping's on-failure record (the same ``KinesisBatchInfo``)."""
        function = self._services.stack.by_arn(self.pipe.name)  # by its name (the Ref)
        function_arn = function.arn if function is not None else self.pipe.name
        return {
            "requestContext": {
                "requestId": str(uuid.UUID(int=self._services.rng.getrandbits(128), version=4)),
                "functionArn": function_arn,
                "condition": condition,
                "approximateInvokeCount": 1 + self.pipe.maximum_retry_attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": message["timestamp"],
            "KinesisBatchInfo": message["KinesisBatchInfo"],
        }


class PipeEmulator:
    """Every shard of one pipe (new ones after a reshard); the target is invoked through the runtime
    or the HTTP sender."""

    def __init__(
        self,
        spec: PipeSpec,
        services: Services,
        runtime: FunctionRuntime,
        http: HttpSender | None,
        enqueue_async: Callable[[str, Any], None],
        window_scale: float = 1.0,
        poll_interval: float | None = None,
    ) -> None:
        self.spec = spec
        self._services = services
        self._runtime = runtime
        self._http = http
        self._enqueue_async = enqueue_async
        self._window_scale = window_scale
        self._poll_interval = poll_interval
        self._by_shard: dict[str, ShardPoller] = {}
        self._reshards_seen = -1
        self._refresh_shards()

    @property
    def pollers(self) -> list[ShardPoller]:
        return list(self._by_shard.values())

    def _refresh_shards(self) -> None:
        """New shards after a split or merge get pollers (their parents first); closed ones are read to
        their end. Listed again only when the cloud resharded the stream."""
        reshards = self._services.reshards[self.spec.stream_name]
        if reshards == self._reshards_seen:
            return
        self._reshards_seen = reshards
        shards = self._services.client("kinesis").list_shards(StreamName=self.spec.stream_name)["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id not in self._by_shard:
                parents = tuple(
                    self._by_shard[parent]
                    for parent in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId"))
                    if parent in self._by_shard
                )
                # A child starts at its beginning: its parents held every earlier record.
                position = "TRIM_HORIZON" if parents else self.spec.starting_position
                self._by_shard[shard_id] = ShardPoller(
                    self.spec,
                    ShardReader(self._services, self.spec.stream_name, shard_id, position),
                    self._services,
                    self._deliver,
                    self._window_scale,
                    self._poll_interval,
                    parents,
                )
            poller = self._by_shard[shard_id]
            if "EndingSequenceNumber" in shard.get("SequenceNumberRange", {}) and not poller.reader.closed:
                poller.close()

    def pump(self) -> int:
        if not self.spec.running or self._services.faults.region_down(self._services.region):
            return 0
        self._refresh_shards()
        return sum(poller.pump() for poller in self.pollers)

    def next_due(self) -> float | None:
        if not self.spec.running:
            return None
        self._refresh_shards()
        dues = [due for poller in self.pollers if (due := poller.next_due()) is not None]
        return min(dues) if dues else None

    def idle(self) -> bool:
        return not self.spec.running or all(poller.idle() for poller in self.pollers)

    @property
    def dead_letters(self) -> int:
        return sum(poller.dead_letters for poller in self.pollers)

    @property
    def invocations(self) -> int:
        return sum(poller.invocations for poller in self.pollers)

    # ------------------------------------------------------------ targets
    def _deliver(self, records: list[StreamRecord]) -> int | None:
        """Index of the first record that failed, None when the whole batch succeeded, or THROTTLED."""
        if self.spec.target_kind == "lambda":
            return self._deliver_lambda(records)
        return self._deliver_http(records)

    def _deliver_lambda(self, records: list[StreamRecord]) -> int | None:
        region = self._services.region
        if self.spec.kind == "mapping":
            return self._deliver_mapping(records)
        payload = [record.flat(self.spec, region) for record in records]
        if self.spec.fire_and_forget:
            self._enqueue_async(self.spec.target_arn, payload)
            return None
        outcome = self._runtime.invoke(self.spec.target_arn, payload)
        if outcome.throttled:
            return THROTTLED
        if not outcome.ok:
            return 0
        return _first_failure(outcome.payload, records)

    def _deliver_mapping(self, records: list[StreamRecord]) -> int | None:
        payload = {"Records": [record.nested(self.spec, self._services.region) for record in records]}
        outcome = self._runtime.invoke(self.spec.target_arn, payload)
        if outcome.throttled:
            return THROTTLED
        if not outcome.ok:
            return FUNCTION_ERROR
        if not self.spec.report_failures:
            return None
        positions = {record.sequence_number: index for index, record in enumerate(records)}
        failed = failed_items(outcome.payload, positions)
        return min(positions[identifier] for identifier in failed) if failed else None

    def _deliver_http(self, records: list[StreamRecord]) -> int | None:
        if self._http is None:
            raise RuntimeError("API destination target without an HTTP sender")
        for index, record in enumerate(records):
            view = record_view(record, self.spec, self._services.region)
            fault = self._services.faults.target_fault(
                (self._http.destination(self.spec.target_arn).logical_id, self.spec.logical_id),
                record.signal_ids,
            )
            if fault is not None:
                return index
            body = apply_template(self.spec.input_template, view)
            try:
                self._http.send(self.spec.target_arn, body)
            except ApiDestinationError:
                return index
        return None


def record_view(record: StreamRecord, pipe: PipeSpec, region: str) -> dict[str, Any]:
    """The record as filters and input templates see it: ``data`` parsed when it is JSON (as Pipes does)."""
    view = record.flat(pipe, region)
    parsed = decode_text(record.data.decode(errors="replace"), base64_encoded=False)
    if parsed is not None:
        view["data"] = parsed
    return view


def _first_failure(answer: Any, records: list[StreamRecord]) -> int | None:
    """The lowest failed index from ``batchItemFailures``; an invalid answer fails the whole batch."""
    positions = {record.event_id: index for index, record in enumerate(records)}
    failed = failed_items(answer, positions)
    return min(positions[identifier] for identifier in failed) if failed else None


def apply_template(template: str | None, view: dict[str, Any]) -> bytes:
    """A Pipe ``InputTemplate``: ``<$.path>`` placeholders filled from the record (JSON values as JSON)."""
    if template is None:
        return codec.dumps(view)
    whole = _PLACEHOLDER.fullmatch(template.strip())
    if whole:
        value = jsonpath.find(view, whole.group(1))
        return codec.dumps(None if value is jsonpath.MISSING else value)

    def fill(match: re.Match[str]) -> str:
        value = jsonpath.find(view, match.group(1))
        if value is jsonpath.MISSING:
            return "null"
        return value if isinstance(value, str) else codec.dumps(value).decode()

    return _PLACEHOLDER.sub(fill, template).encode()
