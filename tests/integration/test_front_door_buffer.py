"""The front-door buffer against moto: single-event requests through the validator into the buffer
stream, the batcher reading them as its Kinesis mapping would, and full signed signal batches of the
validator's contract on the ingress bus."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest

from batcher import dependencies as batcher_dependencies
from batcher.cuts import SegmentCuts
from batcher.handler import lambda_handler as batcher_handler
from signal_platform import aws_clients, codec, signing
from signal_platform.errors import SegmentCutsError
from signal_platform.schema_registry import SchemaRegistry
from signal_platform.signal_batches import unsigned_bytes
from tests.conftest import FakeLambdaContext, load_event
from tests.http_events import batch_body, http_api_event, page_view
from tests.integration.conftest import SIGNING_KEY, BatchShape, IngressPlatform
from validator import dependencies as validator_dependencies
from validator.handler import lambda_handler as validator_handler

STREAM = "signals-buffer"
CUTS_TABLE = "signals-segment-cuts"


@pytest.fixture
def buffered(ingress: IngressPlatform, monkeypatch: pytest.MonkeyPatch) -> Iterator[IngressPlatform]:
    aws_clients.client("kinesis").create_stream(StreamName=STREAM, ShardCount=1)
    queue = aws_clients.client("sqs").create_queue(QueueName="signals-buffer-dlq")["QueueUrl"]
    aws_clients.client("dynamodb").create_table(
        TableName=CUTS_TABLE,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    monkeypatch.setenv("BUFFER_STREAM_NAME", STREAM)
    monkeypatch.setenv("BUFFER_DLQ_URL", queue)
    monkeypatch.setenv("SEGMENT_CUTS_TABLE_NAME", CUTS_TABLE)
    validator_dependencies.reset()
    batcher_dependencies.reset()
    yield ingress
    batcher_dependencies.reset()


def _stream_records() -> list[dict[str, Any]]:
    """The buffer's records as the Kinesis mapping hands them to the batcher."""
    kinesis = aws_clients.client("kinesis")
    (shard,) = kinesis.list_shards(StreamName=STREAM)["Shards"]
    stream_arn = kinesis.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"]["StreamARN"]
    iterator = kinesis.get_shard_iterator(
        StreamName=STREAM, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    return [
        {
            "kinesis": {
                "sequenceNumber": record["SequenceNumber"],
                "partitionKey": record["PartitionKey"],
                "data": base64.b64encode(record["Data"]).decode(),
                "approximateArrivalTimestamp": record["ApproximateArrivalTimestamp"].timestamp(),
            },
            "eventSource": "aws:kinesis",
            "eventID": f"{shard['ShardId']}:{record['SequenceNumber']}",
            "eventSourceARN": stream_arn,
        }
        for record in kinesis.get_records(ShardIterator=iterator, Limit=10_000)["Records"]
    ]


def test_single_event_requests_reach_the_bus_as_full_signed_signal_batches(
    buffered: IngressPlatform, lambda_context: FakeLambdaContext, batch_shape: BatchShape
) -> None:
    # GIVEN 120 one-event requests, each answered 200 by the validator
    sent = [page_view() for _ in range(120)]
    for event in sent:
        response = validator_handler(
            http_api_event(batch_body([event]), write_key=buffered.write_key), lambda_context
        )
        assert response["statusCode"] == 200, response["body"]
    # AND nothing on the bus yet: every request is one record of the buffer stream
    assert buffered.forwarded() == []
    records = _stream_records()
    assert len(records) == 120

    # WHEN the batcher gets them
    answer = batcher_handler({"Records": records}, lambda_context)

    # THEN every event is on the bus once, in order, in three signed batches of the ingress contract
    assert answer == {"batchItemFailures": []}
    batches = [event["detail"] for event in buffered.forwarded()]
    assert [len(batch["signals"]) for batch in batches] == [50, 50, 20]
    assert [s["event_id"] for batch in batches for s in batch["signals"]] == [e["event_id"] for e in sent]
    contract = jsonschema_rs.Draft7Validator(
        SchemaRegistry().contract("signal_batch", batch_shape.contract_version), validate_formats=True
    )
    for batch in batches:
        assert signing.verify(SIGNING_KEY.encode(), unsigned_bytes(batch), batch["signature"])
        assert contract.is_valid(batch)
        assert batch["ingest"]["source_id"] == "web-shop"


def test_a_request_is_answered_retry_when_its_record_cannot_be_written(
    buffered: IngressPlatform, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a buffer stream that does not exist (deleted, or a wrong name)
    monkeypatch.setenv("BUFFER_STREAM_NAME", "no-such-stream")
    validator_dependencies.reset()
    event = page_view()
    # WHEN a one-event request comes
    response = validator_handler(
        http_api_event(batch_body([event]), write_key=buffered.write_key), lambda_context
    )
    # THEN it is refused with the outage answer, nothing was forwarded, and a resend is invited
    body = codec.loads(response["body"])
    assert response["statusCode"] == 503
    assert body["results"][0]["verdict"] == "retry"
    assert buffered.forwarded() == []


def test_sample_event_runs_through_the_batcher(
    buffered: IngressPlatform, lambda_context: FakeLambdaContext
) -> None:
    # GIVEN events/batcher-buffer-records.json (`sam local invoke BatcherFunction -e ...`): three
    # one-event requests' records
    event = load_event("batcher-buffer-records.json")
    # WHEN the batcher runs on it
    answer = batcher_handler(event, lambda_context)
    # THEN the three signals are one re-signed batch on the bus
    assert answer == {"batchItemFailures": []}
    (batch,) = [forwarded["detail"] for forwarded in buffered.forwarded()]
    assert [signal["event_id"][-2:] for signal in batch["signals"]] == ["41", "42", "43"]
    assert signing.verify(SIGNING_KEY.encode(), unsigned_bytes(batch), batch["signature"])
    assert batch["ingest"]["request_id"] == "req-0"


def test_segment_cuts_kept_in_dynamodb_are_read_back_by_shard_and_first_record(
    buffered: IngressPlatform,
) -> None:
    # GIVEN the cut of a segment that failed, kept at a known time
    cuts = SegmentCuts(CUTS_TABLE, clock=lambda: 1_800_000_000.0)
    cuts.remember("shardId-000000000001", "4960", "4971")

    # WHEN / THEN its retry finds it, by shard and first record only
    assert cuts.end_of("shardId-000000000001", "4960") == "4971"
    assert cuts.end_of("shardId-000000000002", "4960") is None
    assert cuts.end_of("shardId-000000000001", "4971") is None
    # AND it expires after the two days a retry may come in
    item = aws_clients.client("dynamodb").get_item(
        TableName=CUTS_TABLE, Key={"pk": {"S": "shardId-000000000001#4960"}}
    )["Item"]
    assert item["expiration"] == {"N": str(1_800_000_000 + 2 * 86_400)}


def test_segment_cuts_sdk_errors_become_segment_cuts_errors(buffered: IngressPlatform) -> None:
    # GIVEN a table that does not exist
    cuts = SegmentCuts("no-such-table")

    # WHEN / THEN reading and writing fail with the table and the AWS error named
    with pytest.raises(SegmentCutsError, match="GetItem on no-such-table failed: ResourceNotFoundException"):
        cuts.end_of("shardId-000000000001", "1")
    with pytest.raises(SegmentCutsError, match="PutItem on no-such-table failed: ResourceNotFoundException"):
        cuts.remember("shardId-000000000001", "1", "2")
