"""The lake's layout (pure, no I/O): which objects one Pipe batch becomes, under which keys.

- One NDJSON line per enriched signal, the signal object as-is; a repeated ``event_id`` within the
  batch is dropped (the first wins), and so is every signal of a record the lake already holds
  (``done``: its owner in the lake ledger committed it).
- Lines are grouped by partition: event type, ``dt`` and ``hour`` of ``derived_at`` (UTC), and the
  shard (a Pipe batch comes from one shard; keying on it keeps a key unambiguous if one did not).
- One gzip NDJSON object per group, under a key made of what it holds and of the writing attempt:
  ``<lake prefix>/event_type=<t>/dt=<yyyy-mm-dd>/hour=<hh>/<shardId>-<firstSeq>-<lastSeq>-<attempt>.json.gz``,
  first/last being the lowest/highest sequence number among the records with a line in the group.
  No two attempts ever write the same key, so a clean-up delete can never remove another
  attempt's object, whatever order S3 applies them in.
- A record that cannot be decoded becomes ``<bad prefix>/<yyyy>/<mm>/<dd>/<shardId>-<seq>-<attempt>.json``
  (date of the record's arrival in the stream), holding the reason and the record as received.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, NamedTuple, Protocol

from s3_writer.records import PipeRecord, Signal, UndecodableRecordError, decode_batch
from signal_platform import codec

NDJSON: Final = "application/x-ndjson"
JSON: Final = "application/json"
GZIP: Final = "gzip"
_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS  # gzip container; zlib writes mtime 0, so bytes are deterministic


@dataclass(frozen=True, slots=True)
class PutRequest:
    key: str
    body: bytes
    content_type: str
    content_encoding: str | None
    metadata: Mapping[str, str]


class PlannedObject(Protocol):
    """An object the batch becomes: its key, the records whose data it holds, and its bytes."""

    @property
    def key(self) -> str: ...

    @property
    def records(self) -> Sequence[PipeRecord]: ...

    def put_request(self, gzip_level: int) -> PutRequest: ...


@dataclass(frozen=True, slots=True)
class DecodedRecord:
    """A record with its identity in the lake ledger, and its signals or why it has none."""

    record: PipeRecord
    record_id: str
    signals: Sequence[Signal] = ()
    bad: UndecodableRecordError | None = None


def decode_records(records: Sequence[PipeRecord]) -> list[DecodedRecord]:
    """Each record decoded once. Its ledger id is its enriched batch id (the same for every copy of
    the record), or its stream position when it cannot be decoded."""
    decoded = []
    for record in records:
        try:
            batch = decode_batch(record)
        except UndecodableRecordError as exc:
            decoded.append(DecodedRecord(record, f"kinesis:{record.event_id}", bad=exc))
            continue
        decoded.append(DecodedRecord(record, batch.batch_id, batch.signals))
    return decoded


class Partition(NamedTuple):
    event_type: str
    dt: str
    hour: str
    shard_id: str


@dataclass(slots=True)
class LakeObject:
    """The lines of one partition group, and the records (in delivery order) that contributed them."""

    prefix: str
    partition: Partition
    attempt: str
    lines: list[bytes] = field(default_factory=list)
    records: list[PipeRecord] = field(default_factory=list)

    @property
    def key(self) -> str:
        first = min(self.records, key=lambda record: record.position)
        last = max(self.records, key=lambda record: record.position)
        event_type, dt, hour, shard_id = self.partition
        return (
            f"{self.prefix}/event_type={event_type}/dt={dt}/hour={hour}/"
            f"{shard_id}-{first.sequence_number}-{last.sequence_number}-{self.attempt}.json.gz"
        )

    def ndjson(self) -> bytes:
        return b"\n".join(self.lines) + b"\n"

    def put_request(self, gzip_level: int) -> PutRequest:
        return PutRequest(
            key=self.key,
            body=zlib.compress(self.ndjson(), gzip_level, _GZIP_WBITS),
            content_type=NDJSON,
            content_encoding=GZIP,
            metadata={"record-count": str(len(self.records)), "signal-count": str(len(self.lines))},
        )


@dataclass(frozen=True, slots=True)
class BadObject:
    """One undecodable record, kept whole with the reason, for inspection and replay."""

    prefix: str
    record: PipeRecord
    attempt: str
    code: str
    reason: str

    @property
    def records(self) -> Sequence[PipeRecord]:
        return (self.record,)

    @property
    def key(self) -> str:
        arrived = datetime.fromtimestamp(self.record.arrival, UTC)
        return (
            f"{self.prefix}/{arrived.year:04d}/{arrived.month:02d}/{arrived.day:02d}/"
            f"{self.record.shard_id}-{self.record.sequence_number}-{self.attempt}.json"
        )

    def document(self) -> dict[str, object]:
        return {"reason": {"code": self.code, "message": self.reason}, "record": dict(self.record.raw)}

    def put_request(self, gzip_level: int) -> PutRequest:  # noqa: ARG002 - bad records stay plain JSON
        return PutRequest(
            key=self.key,
            body=codec.dumps(self.document()),
            content_type=JSON,
            content_encoding=None,
            metadata={"reason": self.code, "record-count": "1"},
        )


@dataclass(slots=True)
class BatchPlan:
    lake_objects: list[LakeObject] = field(default_factory=list)
    bad_objects: list[BadObject] = field(default_factory=list)
    # Ledger ids of the records this plan writes (each once, in delivery order).
    record_ids: list[str] = field(default_factory=list)
    signals: int = 0
    duplicates_dropped: int = 0
    records_done: int = 0

    @property
    def objects(self) -> list[PlannedObject]:
        return [*self.lake_objects, *self.bad_objects]

    @property
    def keys(self) -> list[str]:
        return [planned.key for planned in self.objects]


def plan_batch(
    decoded: Sequence[DecodedRecord],
    *,
    lake_prefix: str,
    bad_prefix: str,
    attempt: str,
    done: Collection[str] = frozenset(),
) -> BatchPlan:
    """Every object the batch becomes; records are taken in delivery order (the first copy wins).

    ``done`` are the ledger ids of records already in the lake: they are written nowhere, and their
    signals count as seen, so a copy of one of them inside another record is dropped as well.
    """
    plan = BatchPlan()
    groups: dict[Partition, LakeObject] = {}
    seen: set[str] = set()
    claimed: set[str] = set()
    for item in decoded:
        if item.record_id in done:
            plan.records_done += 1
            seen.update(signal.event_id for signal in item.signals)
    for item in decoded:
        record = item.record
        if item.record_id in done:
            continue
        if item.record_id not in claimed:
            claimed.add(item.record_id)
            plan.record_ids.append(item.record_id)
        if item.bad is not None:
            plan.bad_objects.append(BadObject(bad_prefix, record, attempt, item.bad.code, str(item.bad)))
            continue
        for signal in item.signals:
            if signal.event_id in seen:
                plan.duplicates_dropped += 1
                continue
            seen.add(signal.event_id)
            partition = Partition(signal.event_type, signal.dt, signal.hour, record.shard_id)
            group = groups.get(partition)
            if group is None:
                group = groups[partition] = LakeObject(lake_prefix, partition, attempt)
            group.lines.append(signal.line)
            if not group.records or group.records[-1] is not record:
                group.records.append(record)
            plan.signals += 1
    plan.lake_objects = list(groups.values())
    return plan
