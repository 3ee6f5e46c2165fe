"""All or nothing: a Pipe batch is written whole, or nothing of it stays and every record is retried."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from s3_writer.records import parse_records
from s3_writer.writer import BatchWriter
from signal_platform import codec
from tests.unit.test_s3_writer_support import FakeLedger, FakeStore, event_ids, failures, pipe_batch, signal


@pytest.fixture(params=[1, 4], ids=["sequential", "concurrent"])
def concurrency(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture
def writers(concurrency: int) -> Iterator[Callable[[FakeStore], BatchWriter]]:
    made: list[BatchWriter] = []
    ledger = FakeLedger()  # one ledger per test: every writer of a test shares it, as they share the table

    def make(store: FakeStore) -> BatchWriter:
        writer = BatchWriter(
            store, ledger, lake_prefix="events", bad_prefix="bad", gzip_level=6, concurrency=concurrency
        )
        made.append(writer)
        return writer

    yield make
    for writer in made:
        writer.close()


def _mixed_batch() -> list[dict[str, Any]]:
    """Four records: page views in hours 14 and 15, clicks in hour 14, interleaved."""
    return pipe_batch(
        [signal(), signal()],
        [signal("click", data={"element": "buy"})],
        [signal(derived_at="2025-11-26T15:10:00.000Z")],
        [signal("click", data={"element": "cart"}), signal()],
    )


def test_write_batch_succeeds_with_one_object_per_partition(
    writers: Callable[[FakeStore], BatchWriter],
) -> None:
    # GIVEN a Pipe batch spanning three partitions
    store = FakeStore()
    payload = _mixed_batch()
    # WHEN written
    outcome = writers(store).write(parse_records(payload))
    # THEN exactly one PutObject per partition group, and an empty failure list
    assert outcome.response() == {"batchItemFailures": []}
    assert len(store.puts) == 3
    assert sorted(key.split("/")[1:4] for key in store.objects) == [
        ["event_type=click", "dt=2025-11-26", "hour=14"],
        ["event_type=page_view", "dt=2025-11-26", "hour=14"],
        ["event_type=page_view", "dt=2025-11-26", "hour=15"],
    ]
    assert sum(len(store.lines(key)) for key in store.objects) == 6
    assert (outcome.signals_written, outcome.lake_objects, outcome.bad_records) == (6, 3, 0)


def test_write_one_group_fails_every_record_retried_and_nothing_left(
    writers: Callable[[FakeStore], BatchWriter],
) -> None:
    # GIVEN a store where PutObject of the click partition fails
    store = FakeStore(fail_put=lambda key: "event_type=click" in key)
    payload = _mixed_batch()
    # WHEN the batch is written
    outcome = writers(store).write(parse_records(payload))
    # THEN every record of the batch is named, in delivery order (records 0 and 2 hold no click)
    assert outcome.response() == failures(*event_ids(payload))
    # AND no object of the invocation is left, the failed one included (it may have landed)
    assert store.objects == {}
    assert set(store.deletes) == set(store.puts)
    assert any("event_type=click" in key for key in store.deletes)
    assert outcome.failed_writes and "SlowDown" in outcome.failed_writes[0]
    assert outcome.not_deleted == ()
    assert (outcome.signals_written, outcome.lake_objects) == (0, 0)


def test_write_failure_in_first_record_still_names_every_record(
    writers: Callable[[FakeStore], BatchWriter],
) -> None:
    # GIVEN the failing group is the one holding only the LAST record
    store = FakeStore(fail_put=lambda key: "hour=15" in key)
    payload = pipe_batch([signal()], [signal()], [signal(derived_at="2025-11-26T15:10:00.000Z")])
    # WHEN written THEN records before the failed one are retried too (their group was deleted)
    outcome = writers(store).write(parse_records(payload))
    assert outcome.response() == failures(*event_ids(payload))
    assert store.objects == {}


def test_write_bad_record_is_set_aside_and_the_batch_goes_on(
    writers: Callable[[FakeStore], BatchWriter],
) -> None:
    # GIVEN a batch whose second record is not JSON
    store = FakeStore()
    payload = pipe_batch([signal()], [signal()], [signal()])
    payload[1]["data"] = "bm90IGpzb24="  # "not json"
    # WHEN written
    outcome = writers(store).write(parse_records(payload))
    # THEN it succeeds, the bad record has its bad/ object, and the others are in the lake
    assert outcome.response() == {"batchItemFailures": []}
    bad_prefix = f"bad/2025/11/26/{payload[1]['eventID'].replace(':', '-')}-"
    (bad_key,) = (key for key in store.objects if key.startswith(bad_prefix))
    assert codec.loads(store.objects[bad_key].body)["reason"]["code"] == "not_json"
    (lake_key,) = (key for key in store.objects if key.startswith("events/"))
    assert len(store.lines(lake_key)) == 2
    assert outcome.bad_records == 1


def test_write_failure_also_removes_bad_objects(writers: Callable[[FakeStore], BatchWriter]) -> None:
    # GIVEN a bad record and a lake group that fails
    store = FakeStore(fail_put=lambda key: key.startswith("events/"))
    payload = pipe_batch([signal()], [signal()])
    payload[0]["data"] = "bm90IGpzb24="
    # WHEN written THEN nothing stays (the batch may end in the DLQ: it must not count twice) and all retry
    outcome = writers(store).write(parse_records(payload))
    assert outcome.response() == failures(*event_ids(payload))
    assert store.objects == {}


def test_write_failed_delete_is_reported_and_records_still_retried(
    writers: Callable[[FakeStore], BatchWriter],
) -> None:
    # GIVEN the page-view put succeeds, the click put fails, and deleting the page views fails too
    store = FakeStore(
        fail_put=lambda key: "event_type=click" in key, fail_delete=lambda key: "event_type=page_view" in key
    )
    payload = _mixed_batch()
    # WHEN written
    outcome = writers(store).write(parse_records(payload))
    # THEN the keys left behind are reported (for the log and LakeCleanupFailures), every record retried
    assert outcome.response() == failures(*event_ids(payload))
    assert set(outcome.not_deleted) == set(store.objects)
    assert all("event_type=page_view" in key for key in outcome.not_deleted)


def test_write_unexpected_error_cleans_up_and_raises(writers: Callable[[FakeStore], BatchWriter]) -> None:
    # GIVEN a put that fails with a bug rather than an S3 error
    store = FakeStore(crash_put=lambda key: "event_type=click" in key)
    # WHEN written THEN the invocation fails (whole batch retried) and nothing it wrote stays
    with pytest.raises(RuntimeError, match="a bug"):
        writers(store).write(parse_records(_mixed_batch()))
    assert store.objects == {}


def test_write_retried_identical_batch_writes_nothing_again(
    writers: Callable[[FakeStore], BatchWriter],
) -> None:
    # GIVEN a batch written once
    store = FakeStore()
    payload = _mixed_batch()
    writer = writers(store)
    writer.write(parse_records(payload))
    before = {key: request.body for key, request in store.objects.items()}
    puts = len(store.puts)
    # WHEN the identical batch is delivered again
    outcome = writer.write(parse_records(payload))
    # THEN it succeeds without a put: every record is already in the lake
    assert outcome.response() == {"batchItemFailures": []}
    assert outcome.records_already_in_lake == len(payload)
    assert len(store.puts) == puts
    assert {key: request.body for key, request in store.objects.items()} == before


def test_write_empty_batch_answers_no_failures(writers: Callable[[FakeStore], BatchWriter]) -> None:
    store = FakeStore()
    outcome = writers(store).write([])
    assert outcome.response() == {"batchItemFailures": []}
    assert store.puts == []


def test_write_after_partial_failure_bisected_retry_leaves_each_signal_once() -> None:
    # GIVEN a batch whose click put fails once, then succeeds
    attempts = {"click": 0}

    def fail_first_click(key: str) -> bool:
        if "event_type=click" not in key:
            return False
        attempts["click"] += 1
        return attempts["click"] == 1

    store = FakeStore(fail_put=fail_first_click)
    writer = BatchWriter(store, FakeLedger(), lake_prefix="events", bad_prefix="bad", concurrency=1)
    payload = _mixed_batch()
    outcome = writer.write(parse_records(payload))
    # WHEN the Pipe retries from the lowest failed record, bisected into two halves
    assert outcome.response() == failures(*event_ids(payload))
    writer.write(parse_records(payload[:2]))
    writer.write(parse_records(payload[2:]))
    # THEN every signal is in the lake exactly once
    ids = [line["event_id"] for key in store.objects for line in store.lines(key)]
    expected = [s["event_id"] for r in payload for s in codec.loads(_data(r))["detail"]["signals"]]
    assert sorted(ids) == sorted(expected)


def _data(record: dict[str, Any]) -> bytes:
    return base64.b64decode(record["data"])
