"""Rule targets the emulator delivers (Lambda async, Kinesis), with retries and DLQs as AWS documents them."""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from localcloud.eventbridge import _detached, rule_dimensions
from localcloud.faults import Concurrency, Duplicate, TargetFault
from signal_platform import aws_clients
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


def _forwarding(retry_attempts: int = 2) -> dict[str, Any]:
    """A rule that forwards to another bus, whose own rule puts what arrives in a queue."""
    return {
        "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "test-bus"}},
        "Other": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "other-bus"}},
        "Arrived": queue(),
        "Forward": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "EventBusName": ref("Bus"),
                "EventPattern": PATTERN,
                "Targets": [
                    {
                        "Id": "other",
                        "Arn": arn("Other"),
                        "RetryPolicy": {
                            "MaximumRetryAttempts": retry_attempts,
                            "MaximumEventAgeInSeconds": 3600,
                        },
                    }
                ],
            },
        },
        "Collect": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "EventBusName": ref("Other"),
                "EventPattern": PATTERN,
                "Targets": [{"Id": "arrived", "Arn": arn("Arrived")}],
            },
        },
    }


def test_bus_target_gets_the_event_as_a_new_event_on_that_bus(tmp_path: Path) -> None:
    with running(tmp_path, _forwarding(), handlers={}) as cloud:
        _put(cloud, {"user": "u1"})
        assert cloud.settle()
        (message,) = queue_messages(cloud, "Arrived")
    body = json.loads(message["Body"])
    assert (body["source"], body["detail-type"], body["detail"]) == ("test.app", "order", {"user": "u1"})


def test_bus_target_that_fails_is_retried_then_counted_in_failed_invocations(tmp_path: Path) -> None:
    # GIVEN the other bus refuses the event (as when its Region is down)
    fault = TargetFault("Forward/other", window=(0, 10_000))
    with running(tmp_path, _forwarding(retry_attempts=2), handlers={}, faults=(fault,)) as cloud:
        _put(cloud, {"user": "u1"})
        assert cloud.settle()
        fired = cloud.faults.fired["Forward/other:error"]
        arrived = queue_messages(cloud, "Arrived")
        dropped = [d.where for d in cloud.services.dropped]
        dimensions = rule_dimensions(cloud.stack.get("Forward").arn)
        failed = cloud.primary.cloudwatch.values("AWS/Events", "FailedInvocations", dimensions)
    # THEN 1 + 2 attempts, nothing arrives, and the rule counts the failure (it has no DLQ)
    assert fired == 3
    assert arrived == []
    assert dropped == ["Forward/other"]
    assert sum(failed) == 1
    assert dimensions["EventBusName"] == "test-bus"


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


def _stream_details(cloud: Any) -> list[dict[str, Any]]:
    kinesis = cloud.services.client("kinesis")
    stream = cloud.stack.get("Stream").ref
    shard = kinesis.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    return [json.loads(record["Data"])["detail"] for record in records]


def test_rule_targets_get_an_event_twice_when_delivery_repeats(tmp_path: Path) -> None:
    """EventBridge delivers to rule targets at least once (the Lambda guide asks functions to handle
    the duplicates): a delivery that succeeded is made again, to the Lambda and the Kinesis target."""
    worker = Recorder()
    faults = (Duplicate("Rule/worker", probability=1.0), Duplicate("Stream", probability=1.0))
    with running(tmp_path, _resources(), handlers={"Worker": worker}, faults=faults) as cloud:
        # WHEN one event matches the rule
        _put(cloud, {"user": "u1", "n": 1})
        assert cloud.settle()
        details = _stream_details(cloud)
    # THEN the function ran twice with it, and the stream holds two records of it
    assert [event["detail"] for event in worker.events] == [{"user": "u1", "n": 1}] * 2
    assert details == [{"user": "u1", "n": 1}] * 2


def test_duplicate_deliveries_are_drawn_with_the_faults_probability_and_seed(tmp_path: Path) -> None:
    """Duplicates are rare and seeded: with probability 0.5 some events of 20 come twice, not all."""
    worker = Recorder()
    with running(
        tmp_path, _resources(), handlers={"Worker": worker}, faults=(Duplicate("Rule/worker", 0.5, seed=4),)
    ) as cloud:
        for n in range(20):
            _put(cloud, {"user": "u1", "n": n})
        assert cloud.settle()
    seen = [event["detail"]["n"] for event in worker.events]
    twice = {n for n in seen if seen.count(n) == 2}
    assert set(seen) == set(range(20))
    assert 0 < len(twice) < 20
    assert all(seen.count(n) <= 2 for n in seen)


def test_an_async_invocation_that_succeeded_can_run_again_with_the_same_event(tmp_path: Path) -> None:
    """Lambda async invocation: "Even if your function doesn't return an error, it's possible for it
    to receive the same event from Lambda multiple times because the queue itself is eventually
    consistent"."""
    worker = Recorder()
    with running(
        tmp_path, _resources(), handlers={"Worker": worker}, faults=(Duplicate("Worker", 1.0),)
    ) as cloud:
        _put(cloud, {"user": "u1"})
        assert cloud.settle()
    assert len(worker.events) == 2
    assert worker.events[0] == worker.events[1]


def test_throttled_async_invocations_are_retried_without_using_up_retry_attempts(tmp_path: Path) -> None:
    """Lambda async invocation: for throttling errors (429) Lambda returns the event to the queue and
    tries again for up to 6 hours, 1 s to 5 min apart; only function errors count against the
    2 retries."""
    worker = Recorder()
    # GIVEN a function with no concurrency for the first 10 minutes (reserved concurrency 0)
    throttle = Concurrency("Worker", limit=0, window=(0.0, 600.0))
    with running(tmp_path, _resources(), handlers={"Worker": worker}, faults=(throttle,)) as cloud:
        started = cloud.clock.now()
        _put(cloud, {"user": "u1"})
        assert cloud.settle()
        waited = cloud.clock.now() - started
        failures = queue_messages(cloud, "FailureDlq")
        throttled = cloud.faults.fired["throttled:Worker"]
    # THEN it ran once the window ended, after more throttles than the 2 retries, and nothing failed
    assert len(worker.events) == 1
    assert throttled > 2
    assert waited >= 600
    assert failures == []


def test_an_event_throttled_past_its_maximum_age_goes_to_the_on_failure_destination(tmp_path: Path) -> None:
    """Lambda async invocation: an event throttled until MaximumEventAgeInSeconds (6 h here) is
    discarded to the on-failure destination with the condition EventAgeExceeded."""
    worker = Recorder()
    with running(
        tmp_path, _resources(), handlers={"Worker": worker}, faults=(Concurrency("Worker", limit=0),)
    ) as cloud:
        _put(cloud, {"user": "u1"})
        assert cloud.settle()
        (failure,) = queue_messages(cloud, "FailureDlq")
    record = json.loads(failure["Body"])
    assert worker.events == []
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestPayload"]["detail"] == {"user": "u1"}


def test_invocations_over_the_concurrency_limit_are_throttled_then_all_run(tmp_path: Path) -> None:
    """Lambda concurrency: invocations beyond the function's concurrency are throttled (429), and
    the async queue retries them until a slot is free."""
    worker = Recorder()
    with running(
        tmp_path,
        _resources(),
        handlers={"Worker": worker},
        faults=(Concurrency("Worker", limit=1, hold=30.0),),
    ) as cloud:
        for n in range(3):
            _put(cloud, {"user": "u1", "n": n})
        assert cloud.settle()
        throttled = cloud.faults.fired["throttled:Worker"]
        failures = queue_messages(cloud, "FailureDlq")
    assert sorted(event["detail"]["n"] for event in worker.events) == [0, 1, 2]
    assert throttled >= 2
    assert failures == []


def test_a_timeout_stops_the_function_at_an_aws_call_and_lambda_retries_it(tmp_path: Path) -> None:
    """Lambda: a timeout is a function error ("errors returned by the function's runtime, such as
    timeouts"), and async invocations are retried: the writes made before the timeout stay, the code
    after it never runs, and the retry runs the whole function again."""
    resources = {**_resources(), "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {}}}
    bucket: list[str] = []
    finished: list[int] = []

    def write_three(event: Any, call: int) -> Any:
        s3 = aws_clients.client("s3")
        for part in range(3):
            s3.put_object(Bucket=bucket[0], Key=f"{call}-{part}", Body=b"x")
        finished.append(call)
        return {"ok": True}

    # GIVEN a function whose first invocation times out when it makes its third AWS call
    fault = TargetFault("Worker", times=1, mode="timeout", after_calls=2)
    with running(tmp_path, resources, handlers={"Worker": Recorder(write_three)}, faults=(fault,)) as cloud:
        bucket.append(str(cloud.stack.get("Bucket").ref))
        _put(cloud, {"user": "u1"})
        assert cloud.settle()
        listed = cloud.services.client("s3").list_objects_v2(Bucket=bucket[0]).get("Contents", [])
        failures = queue_messages(cloud, "FailureDlq")
    # THEN two writes of the first attempt landed, it stopped there, and the retry wrote all three
    assert sorted(item["Key"] for item in listed) == ["1-0", "1-1", "2-0", "2-1", "2-2"]
    assert finished == [2]
    assert failures == []


def test_a_timeout_resets_the_functions_execution_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lambda's execution environment lifecycle: after a timeout in the invoke phase, Lambda resets
    the execution environment, so the next invocation starts cold (the package's cached collaborators
    are built again; an error answered by the function keeps them)."""
    package = tmp_path / "coldpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "handler.py").write_text("def handler(event, context):\n    return None\n")
    (package / "dependencies.py").write_text("RESETS = []\n\ndef reset():\n    RESETS.append(1)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    resources = {**_resources(), "Worker": function("worker", Handler="coldpkg.handler.handler")}

    def fail_first(event: Any, call: int) -> Any:
        if call == 1:
            raise RuntimeError("an error the function answers")
        return None

    with running(tmp_path, resources, handlers={"Worker": Recorder(fail_first)}) as cloud:
        dependencies = importlib.import_module("coldpkg.dependencies")
        at_start = len(dependencies.RESETS)
        # WHEN the function fails once with an error, then times out
        errored = cloud.runtime.invoke("Worker", {})
        after_error = len(dependencies.RESETS)
        cloud.faults.add(TargetFault("Worker", times=1, mode="timeout"))
        timed_out = cloud.runtime.invoke("Worker", {})
        after_timeout = len(dependencies.RESETS)
    # THEN only the timeout made it start cold
    assert (errored.error_type, timed_out.error_type) == ("RuntimeError", "Sandbox.Timedout")
    assert after_error == at_start
    assert after_timeout == at_start + 1


def test_a_tapped_event_is_a_copy_the_targets_may_change_without_changing_moto_s() -> None:
    moto_event = {
        "time": datetime(2026, 1, 1, tzinfo=UTC),
        "resources": ["arn"],
        "detail": {"signals": [{"id": "e1", "n": 1.5, "ok": True, "none": None}], "tags": {"a"}},
    }
    copied = _detached(moto_event)
    copied["detail"]["signals"][0]["id"] = "changed"
    copied["detail"]["tags"].add("b")
    copied["resources"].append("other")

    assert moto_event["detail"]["signals"][0]["id"] == "e1"
    assert moto_event["detail"]["tags"] == {"a"}
    assert moto_event["resources"] == ["arn"]
    assert _detached(moto_event) == moto_event
