"""Rule targets the emulator delivers (Lambda async, Kinesis), with retries and DLQs as AWS documents them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from localcloud.faults import TargetFault
from tests.localcloud.conftest import Recorder, arn, attributes, function, queue, queue_messages, ref, running

PATTERN = {"source": ["test.app"], "detail-type": ["order"]}


def _resources(retry_attempts: int = 2, event_age: int = 3600, with_dlq: bool = True) -> dict[str, Any]:
    worker_target: dict[str, Any] = {
        "Id": "worker",
        "Arn": arn("Worker"),
        "RetryPolicy": {"MaximumRetryAttempts": retry_attempts, "MaximumEventAgeInSeconds": event_age},
    }
    if with_dlq:
        worker_target["DeadLetterConfig"] = {"Arn": arn("TargetDlq")}
    return {
        "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "test-bus"}},
        "TargetDlq": queue(),
        "FailureDlq": queue(),
        "Worker": function("worker"),
        "WorkerAsync": {
            "Type": "AWS::Lambda::EventInvokeConfig",
            "Properties": {
                "FunctionName": ref("Worker"),
                "Qualifier": "$LATEST",
                "MaximumRetryAttempts": 2,
                "MaximumEventAgeInSeconds": 21600,
                "DestinationConfig": {"OnFailure": {"Destination": arn("FailureDlq")}},
            },
        },
        "Stream": {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": 1}},
        "Rule": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "EventBusName": ref("Bus"),
                "EventPattern": PATTERN,
                "Targets": [
                    worker_target,
                    {
                        "Id": "stream",
                        "Arn": arn("Stream"),
                        "KinesisParameters": {"PartitionKeyPath": "$.detail.user"},
                    },
                ],
            },
        },
    }


def _put(cloud: Any, detail: dict[str, Any], detail_type: str = "order") -> None:
    answer = cloud.services.client("events").put_events(
        Entries=[
            {
                "Source": "test.app",
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
                "EventBusName": "test-bus",
            }
        ]
    )
    assert answer["FailedEntryCount"] == 0


def test_rule_keeps_its_exact_pattern_and_targets_in_moto(tmp_path: Path) -> None:
    # GIVEN a rule with a Lambda and a Kinesis target
    with running(tmp_path, _resources(), handlers={"Worker": Recorder()}) as cloud:
        events = cloud.services.client("events")
        name = cloud.stack.get("Rule").attributes["Name"]
        # WHEN moto is asked for the rule and its targets
        rule = events.describe_rule(Name=name, EventBusName="test-bus")
        targets = events.list_targets_by_rule(Rule=name, EventBusName="test-bus")["Targets"]
    # THEN the pattern is the template's and the targets are exactly the template's (no hidden extra)
    assert json.loads(rule["EventPattern"]) == PATTERN
    assert sorted(target["Id"] for target in targets) == ["stream", "worker"]


def test_lambda_target_gets_the_event_in_the_eventbridge_shape(tmp_path: Path) -> None:
    worker = Recorder()
    with running(tmp_path, _resources(), handlers={"Worker": worker}) as cloud:
        # WHEN one matching and one non-matching event are put
        _put(cloud, {"user": "u1", "n": 1})
        _put(cloud, {"user": "u2", "n": 2}, detail_type="other")
        assert cloud.settle()
    # THEN only the matching one arrives, once, as EventBridge delivers it
    assert len(worker.events) == 1
    event = worker.events[0]
    assert list(event) == [
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    ]
    assert event["detail"] == {"user": "u1", "n": 1}
    assert (event["account"], event["region"], event["source"]) == ("123456789012", "us-west-2", "test.app")
    assert event["time"].endswith("Z") and "T" in event["time"]


def test_function_errors_are_retried_twice_by_lambda_then_go_to_the_on_failure_destination(
    tmp_path: Path,
) -> None:
    # GIVEN a function that always fails
    def fail(event: Any, call: int) -> Any:
        raise RuntimeError(f"boom {call}")

    worker = Recorder(fail)
    with running(tmp_path, _resources(), handlers={"Worker": worker}) as cloud:
        started = cloud.clock.now()
        _put(cloud, {"user": "u1"})
        assert cloud.settle()
        elapsed = cloud.clock.now() - started
        records = [json.loads(m["Body"]) for m in queue_messages(cloud, "FailureDlq")]
        target_dlq = queue_messages(cloud, "TargetDlq")
    # THEN 3 attempts (1 + MaximumRetryAttempts 2), 60 s then 120 s apart, then one on-failure record
    assert len(worker.events) == 3
    assert 180 <= elapsed < 200
    assert target_dlq == []  # EventBridge delivered to Lambda: its own DLQ is not involved
    (record,) = records
    assert record["version"] == "1.0"
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"].endswith(":function:worker:$LATEST")
    assert record["requestPayload"]["detail"] == {"user": "u1"}
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"]["errorType"] == "RuntimeError"


def test_undeliverable_event_is_retried_per_retry_policy_then_dead_lettered_with_attributes(
    tmp_path: Path,
) -> None:
    # GIVEN EventBridge cannot invoke the function (a delivery fault on the rule target)
    worker = Recorder()
    fault = TargetFault("Rule/worker", window=(0, 10_000), error="Throttled")
    with running(
        tmp_path, _resources(retry_attempts=2), handlers={"Worker": worker}, faults=(fault,)
    ) as cloud:
        _put(cloud, {"user": "u1"})
        assert cloud.settle()
        (message,) = queue_messages(cloud, "TargetDlq")
        rule_arn, worker_arn = cloud.stack.get("Rule").arn, cloud.stack.get("Worker").arn
        fired = cloud.faults.fired["Rule/worker:error"]
    # THEN 1 + 2 attempts, then the whole event in the DLQ with the documented message attributes
    assert fired == 3
    assert worker.events == []
    body = json.loads(message["Body"])
    assert body["detail"] == {"user": "u1"} and body["source"] == "test.app"
    found = attributes(message)
    assert found["RULE_ARN"] == rule_arn
    assert found["TARGET_ARN"] == worker_arn
    assert found["ERROR_CODE"] == "SDK_CLIENT_ERROR"
    assert "Throttled" in found["ERROR_MESSAGE"]
    assert found["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert found["RETRY_ATTEMPTS"] == "2"


def test_undeliverable_event_stops_at_maximum_event_age(tmp_path: Path) -> None:
    fault = TargetFault("Rule/worker", window=(0, 10**9))
    with running(
        tmp_path,
        _resources(retry_attempts=185, event_age=60),
        handlers={"Worker": Recorder()},
        faults=(fault,),
    ) as cloud:
        _put(cloud, {"user": "u1"})
        assert cloud.settle()
        (message,) = queue_messages(cloud, "TargetDlq")
    assert attributes(message)["EXHAUSTED_RETRY_CONDITION"] == "MaximumEventAgeInSeconds"
    assert int(attributes(message)["RETRY_ATTEMPTS"]) < 185


def test_undeliverable_event_without_a_dlq_is_recorded_as_dropped(tmp_path: Path) -> None:
    fault = TargetFault("Rule/worker", window=(0, 10**9))
    with running(
        tmp_path, _resources(with_dlq=False), handlers={"Worker": Recorder()}, faults=(fault,)
    ) as cloud:
        _put(cloud, {"user": "u1"})
        assert cloud.settle()
        dropped = list(cloud.services.dropped)
    assert [(d.where, d.payload["detail"]) for d in dropped] == [("Rule/worker", {"user": "u1"})]


def test_kinesis_target_puts_the_event_under_the_partition_key_path(tmp_path: Path) -> None:
    with running(tmp_path, _resources(), handlers={"Worker": Recorder()}) as cloud:
        _put(cloud, {"user": "user-42", "n": 7})
        assert cloud.settle()
        kinesis = cloud.services.client("kinesis")
        stream = cloud.stack.get("Stream").ref
        shard = kinesis.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )
        (record,) = kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert record["PartitionKey"] == "user-42"
    assert json.loads(record["Data"])["detail"] == {"user": "user-42", "n": 7}


@pytest.mark.parametrize("fails", [1, 2])
def test_function_that_recovers_within_lambda_retries_runs_once_more_per_failure(
    tmp_path: Path, fails: int
) -> None:
    def flaky(event: Any, call: int) -> Any:
        if call <= fails:
            raise RuntimeError("transient")
        return {"ok": True}

    worker = Recorder(flaky)
    with running(tmp_path, _resources(), handlers={"Worker": worker}) as cloud:
        _put(cloud, {"user": "u1"})
        assert cloud.settle()
        assert queue_messages(cloud, "FailureDlq") == []
    assert len(worker.events) == fails + 1
