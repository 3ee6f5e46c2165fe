"""Pure packing of buffer records into signal batches (no I/O).

A buffer record is one validator-built signal batch (contract ``signal_batch``) of one request. The
batcher re-packs the signals of many records with the layer's ``SignalBatcher``, so its entries have
exactly the validator's contract and nothing downstream changes.

Records are packed in **segments**: runs of consecutive records holding at most ``segment_signals``
signals, counted from the first record of the invocation (and again after a record that is not a
signal batch: a segment never spans one); the last ends with the batch. A segment is published
before the next one is packed; when one fails, its cut is kept (``batcher.cuts``) and the event
source mapping is told to resume at the segment's first record, so the retry starts a segment at the
same record, ends it at the same record (though the shard may hold more records by then), and packs
the same signals into the same batches, with the same batch ids, which the enrichment's idempotency
then suppresses (ADR 0009).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from signal_platform import codec
from signal_platform.errors import MalformedBatchError
from signal_platform.signal_batches import (
    BATCH_SCHEMA_VERSION,
    BusEntry,
    EncodedSignal,
    IngestMetadata,
    SignalBatcher,
)
from signal_platform.timeutil import parse_rfc3339

# The contract's major version ("1-"): the validator writes 1-0-0, or 1-1-0 for a mixed batch.
_CONTRACT_MAJOR: Final = BATCH_SCHEMA_VERSION.split("-", 1)[0] + "-"


@dataclass(frozen=True, slots=True)
class BufferedRecord:
    """One record of the buffer stream: its position and the request's accepted signals."""

    sequence_number: str
    batch_id: str  # the validator's batch id: an identical resend of the request has the same one
    ingest: IngestMetadata
    signals: tuple[EncodedSignal, ...]


def parse_record(sequence_number: str, data: bytes) -> BufferedRecord:
    """The signal batch a validator wrote; its signals keep their canonical bytes. A record of another
    major version of the contract, whose ingestion metadata or signals' ids and types are not text (or
    its received_at no RFC 3339 time), is malformed: it is never re-packed as a batch of this version."""
    try:
        detail = codec.loads(data)
        version = detail["schema_version"]
        if not isinstance(version, str) or not version.startswith(_CONTRACT_MAJOR):
            raise MalformedBatchError(
                f"record {sequence_number} is of version {version!r:.40}, not {_CONTRACT_MAJOR}x-y"
            )
        batch_id = str(detail["batch_id"])
        metadata = _ingest(detail["ingest"])
        # Each signal's own type: a record may be a mixed batch (docs/adr/0010).
        signals = tuple(_signal(signal, metadata.source_id) for signal in detail["signals"])
    except (codec.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise MalformedBatchError(f"record {sequence_number} is not a signal batch: {exc!r}") from exc
    if not signals:
        raise MalformedBatchError(f"record {sequence_number} carries no signals")
    return BufferedRecord(sequence_number, batch_id, metadata, signals)


def _ingest(ingest: dict[str, Any]) -> IngestMetadata:
    """The record's ingestion metadata, as the validator wrote it: it becomes that of every batch the
    record's signals open, so one odd value would have the enrichment set aside other requests' too."""
    fields = [ingest[name] for name in IngestMetadata._fields]
    if not all(type(value) is str and value for value in fields):
        raise TypeError(f"the ingest fields must be non-empty strings: {fields!r:.200}")
    parse_rfc3339(fields[0])  # received_at
    return IngestMetadata(*fields)


def _signal(signal: dict[str, Any], source_id: str) -> EncodedSignal:
    # A signal's type names its batch (or is listed in a mixed one): a blank one would have the
    # enrichment set the whole packed batch aside.
    event_id, event_type = signal["event_id"], signal["event_type"]
    if not (type(event_id) is str and type(event_type) is str and event_id.strip() and event_type.strip()):
        raise TypeError(
            f"a signal's event_id and event_type must be text: {event_id!r:.80}, {event_type!r:.80}"
        )
    return EncodedSignal(event_id, event_type, source_id, codec.canonical(signal))


def first_copies(records: Sequence[BufferedRecord]) -> tuple[list[BufferedRecord], int]:
    """The records without repeats of a batch id seen earlier in ``records`` (an identical resend:
    its partition key is the batch id, so it follows the original on the same shard), and how many
    were dropped. Applied per segment, so that a retried segment drops the same records."""
    seen: set[str] = set()
    kept = []
    for record in records:
        if record.batch_id not in seen:
            seen.add(record.batch_id)
            kept.append(record)
    return kept, len(records) - len(kept)


def segments(
    records: Sequence[BufferedRecord], segment_signals: int, *, first_end: str | None = None
) -> Iterator[Sequence[BufferedRecord]]:
    """Consecutive runs of at most ``segment_signals`` signals (a bigger record forms its own run);
    with ``first_end``, the first run ends at the record of that sequence number instead (the cut
    of a segment that failed, which a retry repeats whatever the records after it)."""
    start, count = 0, 0
    if first_end is not None:
        for index, record in enumerate(records):
            if record.sequence_number == first_end:
                yield records[: index + 1]
                start = index + 1
                break
    for index in range(start, len(records)):
        record = records[index]
        if index > start and count + len(record.signals) > segment_signals:
            yield records[start:index]
            start, count = index, 0
        count += len(record.signals)
    if start < len(records):
        yield records[start:]


def pack_segment(segment: Sequence[BufferedRecord], batcher: SignalBatcher) -> list[BusEntry]:
    """The segment's signals as signal batches: per source (and Region), in arrival order.

    A batch's ``ingest`` is that of the first request of its source in the segment: the batch spans
    requests, and the contract has one ``ingest`` per batch (ADR 0009 says what the lake sees)."""
    by_origin: dict[tuple[str, str], tuple[IngestMetadata, list[EncodedSignal]]] = {}
    for record in segment:
        key = (record.ingest.source_id, record.ingest.region)
        by_origin.setdefault(key, (record.ingest, []))[1].extend(record.signals)
    entries: list[BusEntry] = []
    for ingest, signals in by_origin.values():
        entries.extend(batcher.build(signals, ingest))
    return entries
