"""The Pipe payload: a bare JSON array of flat Kinesis records, and each record's enriched batch.

Two kinds of trouble, handled differently:

- a record that cannot be DECODED (bad base64, not JSON, not an enriched batch, a signal without a
  usable ``event_id`` / ``event_type`` / ``derived_at``) is the data's fault: ``UndecodableRecordError``
  is raised for it alone and the record goes to the bad-record store while the batch goes on;
- a payload whose ENVELOPE is wrong (not an array, a record without ``eventID`` or sequence number)
  is a deployment fault (a wrong Pipe target or input transformer): ``PipeEventError`` fails the
  whole invocation, because no ``batchItemFailures`` answer can name such a record, and an
  empty or unknown ``itemIdentifier`` would fail the whole batch anyway.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from signal_platform import codec
from signal_platform.errors import SignalPlatformError
from signal_platform.timeutil import as_utc

# Enriched batch contract models this writer reads (SchemaVer MODEL; additions keep the model).
SUPPORTED_BATCH_MODEL: Final = "1"
# Event types become S3 key segments and Athena partition values: the registry's own pattern.
EVENT_TYPE: Final = re.compile(r"[a-z][a-z0-9_]{1,63}")
UTC_TIMESTAMP: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z")
SHARD_ID: Final = re.compile(r"shardId-[0-9]{1,20}")
SEQUENCE_NUMBER: Final = re.compile(r"[0-9]{1,128}")
BATCH_ID: Final = re.compile(r"[0-9a-f]{32}")
MAX_EVENT_ID_LENGTH: Final = 256
MAX_EPOCH_SECONDS: Final = 253_402_300_800  # 10000-01-01T00:00:00Z: any later date has no yyyy key


class PipeEventError(SignalPlatformError):
    """The invocation payload is not the Pipe's array of Kinesis records: fail the whole batch."""

    code = "malformed_pipe_event"


class UndecodableRecordError(ValueError):
    """One record's data cannot become lake lines; ``code`` says why, the message says where."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class PipeRecord:
    """One Kinesis record as the Pipe delivers it, with the fields the writer needs parsed out."""

    event_id: str
    shard_id: str
    sequence_number: str
    position: int
    arrival: float
    raw: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Signal:
    """One enriched signal: its identity, its lake partition and its NDJSON line (no newline)."""

    event_id: str
    event_type: str
    dt: str
    hour: str
    line: bytes


def parse_records(event: Any) -> list[PipeRecord]:
    """The Pipe's payload as records, in delivery order; an envelope fault fails the invocation."""
    if not isinstance(event, list):
        raise PipeEventError(
            f"the Pipe payload must be a JSON array of Kinesis records, got {type(event).__name__}"
        )
    return [_record(index, item) for index, item in enumerate(event)]


def _record(index: int, item: Any) -> PipeRecord:
    if not isinstance(item, dict):
        raise PipeEventError(f"record {index} is not an object")
    event_id, sequence = item.get("eventID"), item.get("sequenceNumber")
    if not isinstance(sequence, str) or not SEQUENCE_NUMBER.fullmatch(sequence):
        raise PipeEventError(f"record {index} has no valid sequenceNumber")
    if not isinstance(event_id, str) or not event_id.endswith(f":{sequence}"):
        raise PipeEventError(f"record {index} has no eventID of the form shardId-...:<sequenceNumber>")
    shard_id = event_id[: -len(sequence) - 1]
    if not SHARD_ID.fullmatch(shard_id):
        raise PipeEventError(f"record {index} has an eventID without a Kinesis shard id: {event_id!r}")
    arrival = item.get("approximateArrivalTimestamp")
    if (
        isinstance(arrival, bool)
        or not isinstance(arrival, int | float)
        or not 0 <= arrival < MAX_EPOCH_SECONDS
    ):
        raise PipeEventError(f"record {index} has no approximateArrivalTimestamp in epoch seconds")
    return PipeRecord(event_id, shard_id, sequence, int(sequence), float(arrival), item)


@dataclass(frozen=True, slots=True)
class EnrichedRecord:
    """A decoded record: its enriched batch's id (the record's identity in the lake ledger) and signals."""

    batch_id: str
    signals: list[Signal]


def decode_signals(record: PipeRecord) -> list[Signal]:
    return decode_batch(record).signals


def decode_batch(record: PipeRecord) -> EnrichedRecord:
    """The record's enriched batch as lake lines; any flaw makes the WHOLE record undecodable."""
    data = record.raw.get("data")
    if not isinstance(data, str):
        raise UndecodableRecordError("bad_base64", "the record's data is not a base64 string")
    try:
        payload = binascii.a2b_base64(data, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise UndecodableRecordError("bad_base64", f"the record's data is not valid base64: {exc}") from exc
    try:
        event = codec.loads(payload)
    except codec.JSONDecodeError as exc:
        raise UndecodableRecordError("not_json", f"the record's data is not JSON: {exc}") from exc
    detail = event.get("detail") if isinstance(event, dict) else None
    if not isinstance(detail, dict):
        raise UndecodableRecordError(
            "not_an_enriched_batch", "the data is not an EventBridge event with a detail"
        )
    version = detail.get("schema_version")
    if not isinstance(version, str) or version.partition("-")[0] != SUPPORTED_BATCH_MODEL:
        raise UndecodableRecordError(
            "not_an_enriched_batch", f"unsupported enriched batch schema_version {version!r}"
        )
    batch_id = detail.get("batch_id")
    if not isinstance(batch_id, str) or not BATCH_ID.fullmatch(batch_id):
        raise UndecodableRecordError("not_an_enriched_batch", "detail.batch_id must be 32 lower-case hex")
    signals = detail.get("signals")
    if not isinstance(signals, list) or not signals:
        raise UndecodableRecordError("not_an_enriched_batch", "detail.signals must be a non-empty array")
    return EnrichedRecord(batch_id, [_signal(index, signal) for index, signal in enumerate(signals)])


def _signal(index: int, signal: Any) -> Signal:
    if not isinstance(signal, dict):
        raise UndecodableRecordError("bad_signal", f"signals[{index}] is not an object")
    event_id, event_type, derived_at = (
        signal.get("event_id"),
        signal.get("event_type"),
        signal.get("derived_at"),
    )
    if not isinstance(event_id, str) or not 0 < len(event_id) <= MAX_EVENT_ID_LENGTH:
        raise UndecodableRecordError("bad_signal", f"signals[{index}].event_id is missing or not a string")
    if not isinstance(event_type, str) or not EVENT_TYPE.fullmatch(event_type):
        raise UndecodableRecordError(
            "bad_signal", f"signals[{index}].event_type must match {EVENT_TYPE.pattern}, got {event_type!r}"
        )
    if not isinstance(derived_at, str):
        raise UndecodableRecordError("bad_signal", f"signals[{index}].derived_at is missing")
    try:
        moment = datetime.fromisoformat(derived_at)
    except ValueError as exc:
        raise UndecodableRecordError(
            "bad_signal", f"signals[{index}].derived_at is not RFC 3339: {exc}"
        ) from exc
    if moment.tzinfo is None:
        raise UndecodableRecordError("bad_signal", f"signals[{index}].derived_at has no UTC offset")
    if UTC_TIMESTAMP.fullmatch(derived_at):
        # The platform's own form (YYYY-MM-DDTHH:MM:SS.mmmZ), just validated: date and hour are in place.
        dt, hour = derived_at[:10], derived_at[11:13]
    else:
        try:
            utc = as_utc(moment)
        except ValueError as exc:  # an offset that moves it out of UTC's years
            raise UndecodableRecordError("bad_signal", f"signals[{index}].derived_at: {exc}") from exc
        dt, hour = utc.strftime("%Y-%m-%d"), utc.strftime("%H")
    return Signal(event_id=event_id, event_type=event_type, dt=dt, hour=hour, line=codec.dumps(signal))
