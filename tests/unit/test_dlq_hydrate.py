"""``Hydrator`` with an in-memory store and a scripted reader: documents, manifests, failures."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from dlq_hydrate.hydrate import Hydrator
from dlq_hydrate.settings import HydrateSettings
from dlq_hydrate.store import DlqStore
from dlq_hydrate.stream_reader import ReadResult, StreamReader, StreamRecord
from signal_platform import codec
from signal_platform.errors import DlqStoreError, StreamReadError
from tests.conftest import load_event

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


@dataclass
class MemoryStore(DlqStore):
    objects: dict[str, bytes] = field(default_factory=dict)
    fail_on: str | None = None

    def __post_init__(self) -> None:
        super().__init__("memory", client=lambda: None)

    def create(self, key: str, body: bytes) -> bool:
        if self.fail_on and key.startswith(self.fail_on):
            raise DlqStoreError(f"PutObject {key} failed: SlowDown")
        if key in self.objects:
            return False
        self.objects[key] = body
        return True

    def put(self, key: str, body: bytes) -> None:
        self.objects[key] = body

    def json(self, key: str) -> Any:
        return codec.loads(self.objects[key])


class ScriptedReader(StreamReader):
    def __init__(self, records: list[StreamRecord] | Exception) -> None:
        super().__init__()
        self._records = records
        self.requests: list[dict[str, Any]] = []

    def read_range(self, **kwargs: Any) -> ReadResult:
        self.requests.append(kwargs)
        if isinstance(self._records, Exception):
            raise self._records
        return ReadResult(records=list(self._records), get_records_calls=1, stop="reached_end")


def pipe_sample() -> tuple[dict[str, Any], dict[str, Any]]:
    record: dict[str, Any] = load_event("dlq-hydrate-pipe-dlq.json")["Records"][0]
    return record, codec.loads(record["body"])["KinesisBatchInfo"]


def stream_record(sequence: str, data: bytes, partition_key: str = "user-1") -> StreamRecord:
    return StreamRecord(partition_key, sequence, datetime(2026, 11, 26, 10, 15, 0, 123000, tzinfo=UTC), data)


def hydrator(reader: StreamReader, store: MemoryStore, concurrency: int = 4) -> Hydrator:
    settings = HydrateSettings(
        store_bucket_name="memory",
        consumer_by_queue={"signals-partner-pipe-dlq": "partner"},
        write_concurrency=concurrency,
    )
    return Hydrator(settings, reader=reader, store=store, now=lambda: NOW)


def test_hydrate_reads_the_exact_range_of_the_message() -> None:
    record, info = pipe_sample()
    reader = ScriptedReader([])
    hydrator(reader, MemoryStore()).hydrate(record, deadline=10.0)
    assert reader.requests == [
        {
            "stream_arn": info["streamArn"],
            "region": "us-west-2",
            "shard_id": info["shardId"],
            "start": info["startSequenceNumber"],
            "end": info["endSequenceNumber"],
            "expected": 3,
            "deadline": 10.0,
        }
    ]


def test_hydrate_embeds_json_data_byte_for_byte_and_base64_otherwise() -> None:
    record, info = pipe_sample()
    start, end = info["startSequenceNumber"], info["endSequenceNumber"]
    raw_json = b'{"b": 1,   "a": [1.10, 2]}'
    middle = str(int(start) + 1)
    records = [
        stream_record(start, raw_json),
        stream_record(middle, b"\xff\x00 not json"),
        stream_record(end, b"7"),
    ]
    store = MemoryStore()
    outcome = hydrator(ScriptedReader(records), store).hydrate(record, deadline=10.0)
    assert outcome.records_recovered == 3
    assert outcome.objects_created == 3
    by_sequence = {codec.loads(body)["record"]["sequenceNumber"]: body for body in store.objects.values()}
    assert b'"data":{"b": 1,   "a": [1.10, 2]}' in by_sequence[start]
    first, second, third = (codec.loads(by_sequence[sequence]) for sequence in (start, middle, end))
    assert second["record"]["data_base64"] == "/wAgbm90IGpzb24="
    assert "data" not in second["record"]
    assert third["record"]["data"] == 7
    assert first["dlq"]["received_at"] == "2026-11-27T08:00:00.000Z"
    assert first["record"]["approximateArrival"] == "2026-11-26T10:15:00.123Z"


def test_hydrate_partial_range_writes_the_manifest_after_the_records() -> None:
    record, info = pipe_sample()
    store = MemoryStore()
    outcome = hydrator(ScriptedReader([stream_record(info["endSequenceNumber"], b"{}")]), store).hydrate(
        record, deadline=10.0
    )
    assert outcome.problems == ["start_not_found", "count_mismatch"]
    assert outcome.unrecoverable_records == 2
    assert outcome.manifest_key == (
        f"unrecoverable/partner/2026/11/26/shardId-000000000001-{info['startSequenceNumber']}-"
        f"{info['endSequenceNumber']}.json"
    )
    manifest = store.json(outcome.manifest_key)
    assert manifest["found"]["keys"] == [key for key in store.objects if key.startswith("dlq/")]


def test_hydrate_takes_a_range_holding_another_concurrent_batch_without_a_manifest() -> None:
    # GIVEN a batch of 3 records of a Pipe with ParallelizationFactor above 1, whose sequence range
    # also holds 2 records of the shard's other concurrent batch (other partition keys)
    record, info = pipe_sample()
    start, end = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
    positions = [start, start + 1, start + 2, start + 3, end]
    records = [stream_record(str(position), b"{}", f"user-{position % 2}") for position in positions]
    store = MemoryStore()

    # WHEN the hydrate re-reads the range
    outcome = hydrator(ScriptedReader(records), store).hydrate(record, deadline=10.0)

    # THEN every record of the range is stored (the replay skips what already arrived) and nothing is
    # reported unrecoverable: the batch's records are all there
    assert (outcome.problems, outcome.manifest_key, outcome.unrecoverable_records) == ([], None, 0)
    assert outcome.records_recovered == outcome.objects_created == 5
    assert not [key for key in store.objects if key.startswith("unrecoverable/")]


def test_hydrate_counts_a_missing_first_record_unrecoverable_whatever_else_the_range_holds() -> None:
    # GIVEN a batch of 3 records whose range lost its first record, and holds 3 others (of another
    # concurrent batch, or of this one: nothing tells them apart)
    record, info = pipe_sample()
    start, end = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
    records = [stream_record(str(position), b"{}") for position in (start + 1, start + 2, end)]

    # WHEN the hydrate re-reads the range
    outcome = hydrator(ScriptedReader(records), MemoryStore()).hydrate(record, deadline=10.0)

    # THEN the batch's first record at least is unrecoverable (UnrecoverableRecords: the alarm fires)
    assert outcome.problems == ["start_not_found"]
    assert outcome.unrecoverable_records == 1
    assert outcome.manifest_key is not None


def test_hydrate_store_failure_raises_so_the_message_is_redriven() -> None:
    record, info = pipe_sample()
    records = [
        stream_record(info["startSequenceNumber"], b"{}"),
        stream_record(info["endSequenceNumber"], b"{}"),
    ]
    with pytest.raises(DlqStoreError):
        hydrator(ScriptedReader(records), MemoryStore(fail_on="dlq/")).hydrate(record, deadline=10.0)


def test_hydrate_read_failure_raises_and_writes_nothing() -> None:
    record, _ = pipe_sample()
    store = MemoryStore()
    with pytest.raises(StreamReadError):
        hydrator(ScriptedReader(StreamReadError("GetRecords failed: InternalFailure")), store).hydrate(
            record, deadline=10.0
        )
    assert store.objects == {}


def test_hydrate_many_records_concurrently_and_again_without_duplicates() -> None:
    record, info = pipe_sample()
    start = int(info["startSequenceNumber"])
    records = [stream_record(str(start + i), b"{}", partition_key=f"user-{i % 5}") for i in range(50)]
    store = MemoryStore()
    subject = hydrator(ScriptedReader(records), store, concurrency=8)
    first = subject.hydrate(record, deadline=10.0)
    second = subject.hydrate(record, deadline=10.0)
    subject.close()
    assert (first.objects_created, first.objects_existing) == (50, 0)
    assert (second.objects_created, second.objects_existing) == (0, 50)
    assert len([key for key in store.objects if key.startswith("dlq/")]) == 50


def test_hydrate_lambda_destination_record_stores_its_event_with_the_failure_context() -> None:
    record: dict[str, Any] = load_event("dlq-hydrate-enrichment-failure.json")["Records"][0]
    body = codec.loads(record["body"])
    settings = HydrateSettings(
        store_bucket_name="memory",
        consumer_by_queue={"signals-enrichment-failure-dlq": "enrichment-failure"},
    )
    store = MemoryStore()
    subject = Hydrator(settings, reader=ScriptedReader([]), store=store, now=lambda: NOW)
    first = subject.hydrate(record, deadline=10.0)
    second = subject.hydrate(record, deadline=10.0)
    key = (
        "dlq/enrichment-failure/2026/11/26/10/4a2b04f670935197491379f21821ffb5/"
        "20261126T102003000Z-3d1c9a52-8e7f-4b06-a2c4-91f0e5d7b3a8.json"
    )
    assert list(store.objects) == [key]
    assert (first.kind, first.consumer, first.records_recovered) == (
        "async_invocation",
        "enrichment-failure",
        1,
    )
    assert (first.objects_created, second.objects_created, second.objects_existing) == (1, 0, 1)
    document = store.json(key)
    assert document["event"] == body["requestPayload"]
    assert document["dlq"]["shape"] == "async_invocation"
    assert document["dlq"]["failure"]["condition"] == "RetriesExhausted"
    assert document["dlq"]["failure"]["errorType"] == "BusUnavailableError"
    assert "stackTrace" not in document["dlq"]["failure"]
    assert "message" not in document["dlq"]
    assert document["replay"] == {"count": 0}
