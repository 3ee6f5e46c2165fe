"""What arrives on a DLQ, told apart by shape (pure parsing, no I/O).

- **Kinesis batch failures** carry only metadata, a ``KinesisBatchInfo`` block naming a shard and a
  sequence range: an EventBridge Pipe's DLQ message (``context`` + ``KinesisBatchInfo``) and a Lambda
  event-source mapping's on-failure record (``requestContext`` / ``responseContext`` +
  ``KinesisBatchInfo``). The records themselves must be re-read from the stream.
- **Rule-target failures**: EventBridge puts the whole event in the body and the reason in the SQS
  message attributes ``ERROR_CODE``, ``ERROR_MESSAGE``, ``RULE_ARN``, ``TARGET_ARN`` (and more).
- **Lambda asynchronous-invocation failures**: the on-failure destination record of a function an
  EventBridge rule invokes (``requestContext`` with a ``condition``, ``responseContext``,
  ``responsePayload`` and the original event as ``requestPayload``; no ``KinesisBatchInfo``). The
  event is kept like a rule-target event, the failure context beside it.
- Anything else is **unparsed**: kept whole, counted, never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

from signal_platform import codec
from signal_platform.timeutil import as_utc

Shape = Literal["pipe", "esm", "other"]

SHARD_ID: Final = re.compile(r"shardId-[0-9]{1,20}")
SEQUENCE_NUMBER: Final = re.compile(r"[0-9]{1,128}")
STREAM_ARN: Final = re.compile(r"arn:aws[a-z-]*:kinesis:([a-z0-9-]+):[0-9]{12}:stream/[A-Za-z0-9_.-]{1,128}")
_EVENT_FIELDS: Final = frozenset({"id", "detail-type", "source", "time", "detail"})
RULE_TARGET_ATTRIBUTES: Final = ("ERROR_CODE", "ERROR_MESSAGE", "RULE_ARN", "TARGET_ARN")
# A stored object holds the message (or the event it carries) at most two levels down (``dlq.message``),
# and the replay tool writes objects again whole: a deeper message could not be written, so it is kept
# as the unparsed SQS record, whose body stays text.
MAX_MESSAGE_NESTING: Final = codec.MAX_NESTING - 2


@dataclass(frozen=True, slots=True)
class Envelope:
    """The SQS side of a DLQ message: where it came from and how often it was received."""

    message_id: str
    queue_name: str
    queue_arn: str
    sent_at: datetime | None
    receive_count: int | None
    message_attributes: Mapping[str, str] = field(default_factory=dict)

    def context(self, consumer: str, received_at: str) -> dict[str, Any]:
        context: dict[str, Any] = {
            "consumer": consumer,
            "queue": self.queue_name,
            "queueArn": self.queue_arn,
            "messageId": self.message_id,
            "received_at": received_at,
            "receiveCount": self.receive_count,
        }
        if self.sent_at is not None:
            context["sent_at"] = self.sent_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if self.message_attributes:
            context["attributes"] = dict(self.message_attributes)
        return context


@dataclass(frozen=True, slots=True)
class KinesisBatchInfo:
    shard_id: str
    start_sequence_number: str
    end_sequence_number: str
    batch_size: int
    stream_arn: str
    region: str
    first_arrival: datetime | None
    last_arrival: datetime | None

    @property
    def start(self) -> int:
        return int(self.start_sequence_number)

    @property
    def end(self) -> int:
        return int(self.end_sequence_number)


@dataclass(frozen=True, slots=True)
class KinesisBatchFailure:
    envelope: Envelope
    shape: Shape
    body: Mapping[str, Any]
    batch: KinesisBatchInfo


@dataclass(frozen=True, slots=True)
class RuleTargetFailure:
    envelope: Envelope
    body: bytes
    event_id: str
    time: datetime
    partition_key: str | None


@dataclass(frozen=True, slots=True)
class AsyncInvocationFailure:
    """A Lambda destination record: the event it carries (re-serialised) and why it failed."""

    envelope: Envelope
    body: bytes
    event_id: str
    time: datetime
    partition_key: str | None
    failure: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class UnparsedMessage:
    envelope: Envelope
    raw: Mapping[str, Any]
    reason: str


DlqMessage = KinesisBatchFailure | RuleTargetFailure | AsyncInvocationFailure | UnparsedMessage


class _NotThisShapeError(ValueError):
    """The body looked like a known shape but breaks it; the reason goes into the unparsed object."""


def parse_timestamp(value: Any) -> datetime | None:
    """An RFC 3339 string or epoch seconds/milliseconds as UTC; None when it is neither, or names no
    moment of years 1 to 9999 in UTC (``9999-12-31T23:00:00-05:00``, ``1e20``)."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            seconds = value / 1000 if value > 1e11 else value
            return datetime.fromtimestamp(seconds, UTC)
        if isinstance(value, str):
            return as_utc(datetime.fromisoformat(value))
    except (ValueError, OverflowError, OSError):  # OSError: past the platform's time_t
        return None
    return None


def _envelope(record: Mapping[str, Any]) -> Envelope:
    arn = record.get("eventSourceARN")
    queue_arn = arn if isinstance(arn, str) else ""
    attributes = record.get("attributes")
    attributes = attributes if isinstance(attributes, Mapping) else {}
    sent = attributes.get("SentTimestamp")
    count = attributes.get("ApproximateReceiveCount")
    message_attributes: dict[str, str] = {}
    raw_attributes = record.get("messageAttributes")
    if isinstance(raw_attributes, Mapping):
        for name, value in raw_attributes.items():
            text = value.get("stringValue") if isinstance(value, Mapping) else None
            if isinstance(text, str):
                message_attributes[str(name)] = text
    return Envelope(
        message_id=str(record.get("messageId") or ""),
        queue_name=queue_arn.rsplit(":", 1)[-1] if queue_arn else "unknown-queue",
        queue_arn=queue_arn,
        sent_at=parse_timestamp(int(sent)) if isinstance(sent, str) and sent.isdigit() else None,
        receive_count=int(count) if isinstance(count, str) and count.isdigit() else None,
        message_attributes=message_attributes,
    )


def _batch_info(info: Any) -> KinesisBatchInfo:
    if not isinstance(info, Mapping):
        raise _NotThisShapeError("KinesisBatchInfo is not an object")
    shard, start, end = info.get("shardId"), info.get("startSequenceNumber"), info.get("endSequenceNumber")
    size, stream_arn = info.get("batchSize"), info.get("streamArn")
    if not isinstance(shard, str) or not SHARD_ID.fullmatch(shard):
        raise _NotThisShapeError(f"KinesisBatchInfo.shardId is not a shard id: {shard!r}")
    for name, value in (("startSequenceNumber", start), ("endSequenceNumber", end)):
        if not isinstance(value, str) or not SEQUENCE_NUMBER.fullmatch(value):
            raise _NotThisShapeError(f"KinesisBatchInfo.{name} is not a sequence number: {value!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise _NotThisShapeError(f"KinesisBatchInfo.batchSize is not a positive integer: {size!r}")
    match = STREAM_ARN.fullmatch(stream_arn) if isinstance(stream_arn, str) else None
    if match is None:
        raise _NotThisShapeError(f"KinesisBatchInfo.streamArn is not a Kinesis stream ARN: {stream_arn!r}")
    if int(str(start)) > int(str(end)):
        raise _NotThisShapeError(f"KinesisBatchInfo range is reversed: {start} > {end}")
    return KinesisBatchInfo(
        shard_id=shard,
        start_sequence_number=str(start),
        end_sequence_number=str(end),
        batch_size=size,
        stream_arn=str(stream_arn),
        region=match.group(1),
        first_arrival=parse_timestamp(info.get("approximateArrivalOfFirstRecord")),
        last_arrival=parse_timestamp(info.get("approximateArrivalOfLastRecord")),
    )


def _shape(body: Mapping[str, Any]) -> Shape:
    if isinstance(body.get("context"), Mapping):
        return "pipe"
    if isinstance(body.get("requestContext"), Mapping):
        return "esm"
    return "other"


def _partition_key(detail: Any) -> str | None:
    """The data-platform bus's ``partition_key``, else the ingress batch's source, else none."""
    if not isinstance(detail, Mapping):
        return None
    key = detail.get("partition_key")
    if isinstance(key, str) and key:
        return key
    ingest = detail.get("ingest")
    source = ingest.get("source_id") if isinstance(ingest, Mapping) else None
    return source if isinstance(source, str) and source else None


def _event_id_and_time(event: Mapping[str, Any]) -> tuple[str, datetime]:
    event_id, time = event.get("id"), parse_timestamp(event.get("time"))
    if not isinstance(event_id, str) or not event_id:
        raise _NotThisShapeError("the EventBridge event has no id")
    if time is None:
        raise _NotThisShapeError(f"the EventBridge event's time is not RFC 3339: {event.get('time')!r}")
    return event_id, time


def _rule_target(envelope: Envelope, body: str, event: Mapping[str, Any]) -> RuleTargetFailure:
    event_id, time = _event_id_and_time(event)
    return RuleTargetFailure(
        envelope=envelope,
        body=body.encode(),
        event_id=event_id,
        time=time,
        partition_key=_partition_key(event.get("detail")),
    )


def _is_destination_record(message: Mapping[str, Any]) -> bool:
    """Lambda's on-failure record of an asynchronous invocation (with or without its payload)."""
    context = message.get("requestContext")
    return (
        isinstance(context, Mapping)
        and "condition" in context
        and ("requestPayload" in message or "responseContext" in message)
    )


def _async_invocation(envelope: Envelope, message: Mapping[str, Any]) -> AsyncInvocationFailure:
    if "requestPayload" not in message:
        raise _NotThisShapeError("the Lambda destination record has no requestPayload")
    event = message["requestPayload"]
    if not isinstance(event, Mapping) or not event.keys() >= _EVENT_FIELDS:
        raise _NotThisShapeError("the Lambda destination record's requestPayload is not an EventBridge event")
    event_id, time = _event_id_and_time(event)
    context: Mapping[str, Any] = message["requestContext"]
    response = message.get("responsePayload")
    response = response if isinstance(response, Mapping) else {}
    response_context = message.get("responseContext")
    response_context = response_context if isinstance(response_context, Mapping) else {}
    failure = {
        "condition": context.get("condition"),
        "approximateInvokeCount": context.get("approximateInvokeCount"),
        "functionArn": context.get("functionArn"),
        "requestId": context.get("requestId"),
        "timestamp": message.get("timestamp"),
        "functionError": response_context.get("functionError"),
        # The stack trace is left out: it names code paths, not the event, and can be long.
        "errorType": response.get("errorType"),
        "errorMessage": response.get("errorMessage"),
    }
    return AsyncInvocationFailure(
        envelope=envelope,
        body=codec.dumps(event),
        event_id=event_id,
        time=time,
        partition_key=_partition_key(event.get("detail")),
        failure=failure,
    )


def parse_message(record: Mapping[str, Any]) -> DlqMessage:
    """One SQS record of a DLQ as the failure it reports; an unknown shape is ``UnparsedMessage``."""
    envelope = _envelope(record)
    try:
        return _classify(envelope, record)
    except _NotThisShapeError as error:
        return UnparsedMessage(envelope, record, str(error))


def _classify(
    envelope: Envelope, record: Mapping[str, Any]
) -> KinesisBatchFailure | RuleTargetFailure | AsyncInvocationFailure:
    body = record.get("body")
    if not isinstance(body, str):
        raise _NotThisShapeError("the SQS record has no string body")
    try:
        message = codec.loads(body)
    except codec.JSONDecodeError as exc:
        raise _NotThisShapeError("the body is not JSON") from exc
    if not isinstance(message, dict):
        raise _NotThisShapeError("the body is not a JSON object")
    if not codec.nests_within(message, MAX_MESSAGE_NESTING):
        raise _NotThisShapeError(f"the body nests more than {MAX_MESSAGE_NESTING} levels deep")
    if "KinesisBatchInfo" in message:
        return KinesisBatchFailure(
            envelope, _shape(message), message, _batch_info(message["KinesisBatchInfo"])
        )
    if _is_destination_record(message):
        return _async_invocation(envelope, message)
    if message.keys() >= _EVENT_FIELDS:
        return _rule_target(envelope, body, message)
    raise _NotThisShapeError("unknown DLQ message shape")
