"""The S3 writer against moto S3: objects really in the bucket, retries idempotent, failures leave nothing."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import pytest

from s3_writer.handler import lambda_handler
from signal_platform import codec
from tests.conftest import FakeLambdaContext
from tests.integration.test_s3_writer_support import (
    LakeBucket,
    install_flaky_s3,
    lake_bucket,
    without_attempt,
)
from tests.unit.test_s3_writer_support import SHARD_ID, event_ids, failures, pipe_batch, sequence, signal

pytestmark = pytest.mark.integration


@pytest.fixture
def lake(monkeypatch: pytest.MonkeyPatch) -> Iterator[LakeBucket]:
    with lake_bucket(monkeypatch) as bucket:
        yield bucket


def _signals(payload: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        item
        for record in payload
        for item in codec.loads(base64.b64decode(record["data"]))["detail"]["signals"]
    ]


def _pipe_batch() -> list[dict[str, Any]]:
    """Five records: page views in hours 14 and 15, clicks in hour 14, one duplicate signal."""
    repeated = signal()
    return pipe_batch(
        [repeated, signal()],
        [signal("click", data={"element": "buy"})],
        [signal(derived_at="2025-11-26T15:10:00.000Z")],
        [signal("click", data={"element": "cart"}), signal()],
        [repeated],
    )


def test_pipe_batch_lands_as_one_gzip_ndjson_object_per_partition(
    lake: LakeBucket, lambda_context: FakeLambdaContext
) -> None:
    # GIVEN a Pipe batch over three partitions with one repeated event_id
    payload = _pipe_batch()
    # WHEN the Pipe invokes the writer
    response = lambda_handler(payload, lambda_context)
    # THEN nothing is retried and exactly the three partition objects exist, keyed by their records
    assert response == {"batchItemFailures": []}
    prefix = "events/event_type="
    assert [without_attempt(key) for key in lake.listing()] == [
        f"{prefix}click/dt=2025-11-26/hour=14/{SHARD_ID}-{sequence(1)}-{sequence(3)}.json.gz",
        f"{prefix}page_view/dt=2025-11-26/hour=14/{SHARD_ID}-{sequence(0)}-{sequence(3)}.json.gz",
        f"{prefix}page_view/dt=2025-11-26/hour=15/{SHARD_ID}-{sequence(2)}-{sequence(2)}.json.gz",
    ]
    # AND read back, gunzipped and parsed, they hold every signal once, as sent
    by_id = {item["event_id"]: item for item in _signals(payload)}
    stored = [line for key in lake.listing() for line in lake.lines(key)]
    assert sorted(line["event_id"] for line in stored) == sorted(by_id)
    assert all(line == by_id[line["event_id"]] for line in stored)
    # AND the objects say what they are
    head = lake.head(lake.listing()[1])
    assert head["ContentType"] == "application/x-ndjson"
    assert head["ContentEncoding"] == "gzip"
    assert head["Metadata"] == {"record-count": "2", "signal-count": "3"}


def test_retried_identical_batch_leaves_the_same_objects(
    lake: LakeBucket, lambda_context: FakeLambdaContext
) -> None:
    # GIVEN a batch already written
    payload = _pipe_batch()
    lambda_handler(payload, lambda_context)
    before = lake.snapshot()
    # WHEN the Pipe delivers the identical batch again
    response = lambda_handler(payload, lambda_context)
    # THEN same keys, same bytes, same object count
    assert response == {"batchItemFailures": []}
    assert lake.snapshot() == before
    assert len(before) == 3


def test_bad_record_does_not_block_the_others(lake: LakeBucket, lambda_context: FakeLambdaContext) -> None:
    # GIVEN a batch whose second record is a JSON event without an enriched batch
    payload = pipe_batch([signal()], [signal()], [signal("click")])
    payload[1]["data"] = base64.b64encode(b'{"detail-type": "page_view", "detail": {"hello": 1}}').decode()
    # WHEN written
    response = lambda_handler(payload, lambda_context)
    # THEN the batch succeeds, the bad record is set aside whole, and the others are in the lake
    assert response == {"batchItemFailures": []}
    (bad_key,) = lake.listing("bad/")
    assert without_attempt(bad_key) == f"bad/2025/11/26/{SHARD_ID}-{sequence(1)}.json"
    document = lake.json(bad_key)
    assert document["reason"]["code"] == "not_an_enriched_batch"
    assert document["record"] == payload[1]
    assert len(lake.listing("events/")) == 2
    assert sum(len(lake.lines(key)) for key in lake.listing("events/")) == 2


def test_failing_put_for_one_group_retries_every_record_and_leaves_nothing(
    lake: LakeBucket, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN S3 refusing PutObject for the click partition only, and a bad record in the batch
    flaky = install_flaky_s3(
        monkeypatch, lambda operation, key: operation == "put_object" and "=click/" in key
    )
    payload = _pipe_batch()
    payload[3]["data"] = "bm90IGpzb24="
    # WHEN the Pipe invokes the writer
    response = lambda_handler(payload, lambda_context)
    # THEN every record of the batch is named, exactly, in delivery order
    assert response == failures(*event_ids(payload))
    # AND no partial object is left: neither lake objects nor the bad record's
    assert lake.listing() == []
    puts = {key for operation, key in flaky.calls if operation == "put_object"}
    deletes = {key for operation, key in flaky.calls if operation == "delete_object"}
    assert deletes == puts


def test_failed_batch_then_bisected_retry_writes_each_signal_once(
    lake: LakeBucket, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a click put that fails on the first invocation only
    state = {"failed": False}

    def first_click_fails(operation: str, key: str) -> bool:
        if operation == "put_object" and "=click/" in key and not state["failed"]:
            state["failed"] = True
            return True
        return False

    install_flaky_s3(monkeypatch, first_click_fails)
    payload = _pipe_batch()
    assert lambda_handler(payload, lambda_context) == failures(*event_ids(payload))
    # WHEN the Pipe bisects and retries both halves
    assert lambda_handler(payload[:2], lambda_context) == {"batchItemFailures": []}
    assert lambda_handler(payload[2:], lambda_context) == {"batchItemFailures": []}
    # THEN every signal is in the lake exactly once (the in-batch duplicate now sits in another half:
    # the lake keeps both copies, and events_dedup shows one; see docs/lake.md)
    stored = [line["event_id"] for key in lake.listing() for line in lake.lines(key)]
    unique = {item["event_id"] for item in _signals(payload)}
    assert set(stored) == unique
    assert len(stored) == len(unique) + 1


def test_failed_delete_leaves_the_object_and_is_logged(
    lake: LakeBucket,
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN a failing click put and failing deletes of page views. The click put fails only once both
    # page-view objects are written: the puts run side by side, and one failing first would have
    # the writer cancel them before they start, leaving nothing to delete.
    def fails(operation: str, key: str) -> bool:
        if operation == "put_object" and "=click/" in key:
            deadline = time.monotonic() + 5.0
            while sum("=page_view/" in written for written in lake.listing()) < 2:
                assert time.monotonic() < deadline, "the page-view objects were never written"
                time.sleep(0.005)
            return True
        return operation == "delete_object" and "=page_view/" in key

    install_flaky_s3(monkeypatch, fails)
    payload = _pipe_batch()
    # WHEN written
    response = lambda_handler(payload, lambda_context)
    # THEN the records are still all retried, and the left-over keys are logged for the operator
    assert response == failures(*event_ids(payload))
    left = lake.listing()
    assert left and all("=page_view/" in key for key in left)
    (logged,) = (
        record
        for record in caplog.records
        if record.getMessage() == "objects of an attempt that does not count were not deleted"
    )
    assert getattr(logged, "keys", None) == left
