"""A Lambda event source mapping on a Kinesis stream (the front-door buffer's batcher), run by the
Pipe poller in Lambda's shapes: ``{"Records": [...]}`` with the ``kinesis`` part nested, sequence
numbers in ``batchItemFailures``, the mapping's on-failure record, Lambda's ``IteratorAge``."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from localcloud.cloud import LocalCloud
from localcloud.faults import RecordAging
from tests.localcloud.conftest import Recorder, arn, function, queue, queue_messages, ref, running


def _resources(**mapping: Any) -> dict[str, Any]:
    return {
        "Stream": {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": 1}},
        "Dlq": queue(),
        "Batcher": function("batcher"),
        "Mapping": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "FunctionName": ref("Batcher"),
                "EventSourceArn": arn("Stream"),
                "StartingPosition": "TRIM_HORIZON",
                "BatchSize": 10,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "MaximumRetryAttempts": 2,
                "MaximumRecordAgeInSeconds": 3600,
                "DestinationConfig": {"OnFailure": {"Destination": arn("Dlq")}},
                **mapping,
            },
        },
    }


def _put(cloud: LocalCloud, values: list[str]) -> list[str]:
    stream = str(cloud.stack.get("Stream").ref)
    return [cloud.services.put_record(stream, json.dumps({"v": v}).encode(), f"k{v}")[1] for v in values]


def _values(event: dict[str, Any]) -> list[str]:
    return [json.loads(base64.b64decode(record["kinesis"]["data"]))["v"] for record in event["Records"]]


def test_function_gets_records_with_the_kinesis_part_nested(tmp_path: Path) -> None:
    batcher = Recorder(answer=lambda event, call: {"batchItemFailures": []})
    with running(tmp_path, _resources(), handlers={"Batcher": batcher}) as cloud:
        (sequence,) = _put(cloud, ["a"])
        assert cloud.settle()
        stream_arn = cloud.stack.get("Stream").arn
    (event,) = batcher.events
    (record,) = event["Records"]
    assert record["kinesis"]["sequenceNumber"] == sequence
    assert record["kinesis"]["partitionKey"] == "ka"
    assert json.loads(base64.b64decode(record["kinesis"]["data"])) == {"v": "a"}
    # the batcher names a record it sets aside by these: stream, shard (from eventID), arrival
    assert isinstance(record["kinesis"]["approximateArrivalTimestamp"], float)
    assert (record["eventSource"], record["eventSourceARN"]) == ("aws:kinesis", stream_arn)
    assert record["eventID"] == f"shardId-000000000000:{sequence}"
    assert "sequenceNumber" not in record


def test_a_reported_sequence_number_is_retried_from_there_the_records_before_are_done(tmp_path: Path) -> None:
    def answer(event: dict[str, Any], call: int) -> Any:
        if call == 1:  # the first time, everything from "c" on failed
            return {
                "batchItemFailures": [{"itemIdentifier": event["Records"][2]["kinesis"]["sequenceNumber"]}]
            }
        return {"batchItemFailures": []}

    batcher = Recorder(answer=answer)
    with running(tmp_path, _resources(), handlers={"Batcher": batcher}) as cloud:
        _put(cloud, ["a", "b", "c", "d"])
        assert cloud.settle()
    assert [_values(event) for event in batcher.events] == [["a", "b", "c", "d"], ["c", "d"]]


def test_an_event_id_is_not_a_valid_identifier_for_a_mapping(tmp_path: Path) -> None:
    # GIVEN a function that names the Pipe-style eventID instead of the sequence number, then succeeds
    def answer(event: dict[str, Any], call: int) -> Any:
        if call == 1:
            return {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["eventID"]}]}
        return {"batchItemFailures": []}

    batcher = Recorder(answer=answer)
    with running(tmp_path, _resources(), handlers={"Batcher": batcher}) as cloud:
        _put(cloud, ["a", "b"])
        assert cloud.settle()
    # THEN the whole batch was retried (an unknown identifier fails the batch)
    assert [_values(event) for event in batcher.events] == [["a", "b"], ["a", "b"]]


def test_retries_exhausted_send_the_on_failure_record_with_the_range(tmp_path: Path) -> None:
    def fail(event: dict[str, Any], call: int) -> Any:
        raise RuntimeError("down")

    with running(tmp_path, _resources(), handlers={"Batcher": Recorder(answer=fail)}) as cloud:
        sequences = _put(cloud, ["a", "b"])
        assert cloud.settle(horizon=3600)
        (message,) = queue_messages(cloud, "Dlq")
        stream_arn = cloud.stack.get("Stream").arn
    body = json.loads(message["Body"])
    assert set(body) == {"requestContext", "responseContext", "version", "timestamp", "KinesisBatchInfo"}
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert body["requestContext"]["functionArn"].endswith(":function:batcher")
    info = body["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (*sequences, 2)
    assert info["streamArn"] == stream_arn


def test_iterator_age_is_reported_per_function(tmp_path: Path) -> None:
    batcher = Recorder(answer=lambda event, call: {"batchItemFailures": []})
    with running(
        tmp_path, _resources(), handlers={"Batcher": batcher}, faults=(RecordAging("Stream", 600.0),)
    ) as cloud:
        _put(cloud, ["a"])
        assert cloud.settle()
        ages = cloud.primary.cloudwatch.values("AWS/Lambda", "IteratorAge", {"FunctionName": "batcher"})
    assert ages and min(ages) >= 600_000
