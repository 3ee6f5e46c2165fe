"""The S3 writer's files in events/ run through its handler in-process (moto S3), as
`sam local invoke S3WriterFunction -e events/<file>` would run them."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from s3_writer.handler import lambda_handler
from signal_platform import codec
from tests.conftest import EVENTS_DIR, FakeLambdaContext
from tests.integration.test_s3_writer_support import LakeBucket, lake_bucket, without_attempt

pytestmark = pytest.mark.integration

SHARD = "shardId-000000000000"


@pytest.fixture
def lake(monkeypatch: pytest.MonkeyPatch) -> Iterator[LakeBucket]:
    with lake_bucket(monkeypatch) as bucket:
        yield bucket


def _payload(name: str) -> list[dict[str, object]]:
    payload: list[dict[str, object]] = codec.loads((EVENTS_DIR / name).read_bytes())
    return payload


def test_sample_files_are_pipe_payloads() -> None:
    # Every s3-writer sample is a bare array of flat Kinesis records carrying EventBridge events.
    for path in sorted(EVENTS_DIR.glob("s3-writer-*.json")):
        payload = _payload(path.name)
        assert isinstance(payload, list) and payload, path.name
        for record in payload:
            assert record["eventSource"] == "aws:kinesis"
            assert record["eventName"] == "aws:kinesis:record"
            assert record["eventID"] == f"{SHARD}:{record['sequenceNumber']}"
            assert isinstance(record["data"], str)
            base64.b64decode(record["data"], validate=True)


def test_pipe_batch_sample_writes_three_partitions(
    lake: LakeBucket, lambda_context: FakeLambdaContext
) -> None:
    # GIVEN the sample Pipe batch: 4 records, 5 signals, page views in hours 14 and 15, clicks in hour 14
    payload = _payload("s3-writer-pipe-batch.json")
    events = [codec.loads(base64.b64decode(str(record["data"]))) for record in payload]
    assert {event["source"] for event in events} == {"signals.enriched"}
    assert {event["detail"]["event_type"] for event in events} == {"page_view", "click"}
    # WHEN invoked like `sam local invoke -e events/s3-writer-pipe-batch.json`
    response = lambda_handler(payload, lambda_context)
    # THEN one object per partition holds every signal
    assert response == {"batchItemFailures": []}
    seq = [str(record["sequenceNumber"]) for record in payload]
    assert [without_attempt(key) for key in lake.listing()] == [
        f"events/event_type=click/dt=2025-11-26/hour=14/{SHARD}-{seq[1]}-{seq[3]}.json.gz",
        f"events/event_type=page_view/dt=2025-11-26/hour=14/{SHARD}-{seq[0]}-{seq[0]}.json.gz",
        f"events/event_type=page_view/dt=2025-11-26/hour=15/{SHARD}-{seq[2]}-{seq[2]}.json.gz",
    ]
    stored = sorted(line["event_id"] for key in lake.listing() for line in lake.lines(key))
    assert stored == sorted(signal["event_id"] for event in events for signal in event["detail"]["signals"])


def test_bad_record_sample_sets_the_record_aside(lake: LakeBucket, lambda_context: FakeLambdaContext) -> None:
    # GIVEN the sample with a truncated event followed by a good one
    payload = _payload("s3-writer-bad-record.json")
    # WHEN invoked
    response = lambda_handler(payload, lambda_context)
    # THEN the batch succeeds: the bad record is in bad/ with its reason, the good one in the lake
    assert response == {"batchItemFailures": []}
    bad_key = f"bad/2025/11/26/{SHARD}-{payload[0]['sequenceNumber']}.json"
    assert [without_attempt(key) for key in lake.listing("bad/")] == [bad_key]
    (bad_key,) = lake.listing("bad/")
    assert lake.json(bad_key)["reason"]["code"] == "not_json"
    assert lake.json(bad_key)["record"] == payload[0]
    (lake_key,) = lake.listing("events/")
    assert [line["event_type"] for line in lake.lines(lake_key)] == ["page_view"]
