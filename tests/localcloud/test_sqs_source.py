"""SQS -> Lambda event source mappings: batch size, the SQS event shape, partial batch responses, redrive."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from localcloud.accounting import StoreReader
from localcloud.faults import Concurrency, Duplicate
from signal_platform import aws_clients
from tests.localcloud.conftest import Recorder, arn, function, queue, queue_messages, running


def _resources(report_failures: bool = True) -> dict[str, Any]:
    mapping: dict[str, Any] = {
        "EventSourceArn": arn("Source"),
        "FunctionName": {"Ref": "Consumer"},
        "BatchSize": 10,
    }
    if report_failures:
        mapping["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
    return {
        "Redrive": queue(),
        "Source": queue(
            VisibilityTimeout=30,
            RedrivePolicy={"deadLetterTargetArn": arn("Redrive"), "maxReceiveCount": 2},
        ),
        "Consumer": function("consumer"),
        "Mapping": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": mapping},
    }


def _send(cloud: Any, bodies: list[str]) -> None:
    sqs = cloud.services.client("sqs")
    url = cloud.stack.get("Source").ref
    for body in bodies:
        sqs.send_message(
            QueueUrl=url,
            MessageBody=body,
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}},
        )


def test_messages_arrive_in_batches_of_batch_size_in_the_sqs_event_shape(tmp_path: Path) -> None:
    consumer = Recorder()
    with running(tmp_path, _resources(), handlers={"Consumer": consumer}) as cloud:
        _send(cloud, [f"m{n}" for n in range(15)])
        assert cloud.settle()
        queue_arn = cloud.stack.get("Source").arn
    assert [len(event["Records"]) for event in consumer.events] == [10, 5]
    record = consumer.events[0]["Records"][0]
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == queue_arn
    assert record["awsRegion"] == "us-west-2"
    assert record["messageAttributes"]["kind"]["stringValue"] == "test"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert set(record) >= {"messageId", "receiptHandle", "body", "md5OfBody"}
    assert sorted(r["body"] for e in consumer.events for r in e["Records"]) == sorted(
        f"m{n}" for n in range(15)
    )


def test_reported_failures_come_back_after_the_visibility_timeout_then_go_to_the_redrive_dlq(
    tmp_path: Path,
) -> None:
    # GIVEN a consumer that always reports the message "bad" as failed
    def answer(event: dict[str, Any], call: int) -> Any:
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "bad"
            ]
        }

    consumer = Recorder(answer)
    with running(tmp_path, _resources(), handlers={"Consumer": consumer}) as cloud:
        started = cloud.clock.now()
        _send(cloud, ["good", "bad"])
        assert cloud.settle()
        waited = cloud.clock.now() - started
        dead = queue_messages(cloud, "Redrive")
    # THEN "good" is delivered once; "bad" twice (maxReceiveCount 2), 30 s apart, then it is redriven
    bodies = [r["body"] for e in consumer.events for r in e["Records"]]
    assert bodies.count("good") == 1 and bodies.count("bad") == 2
    assert waited >= 30
    assert [m["Body"] for m in dead] == ["bad"]


def test_without_report_batch_item_failures_an_error_fails_the_whole_batch(tmp_path: Path) -> None:
    def answer(event: dict[str, Any], call: int) -> Any:
        if call == 1:
            raise RuntimeError("boom")
        return {"batchItemFailures": [{"itemIdentifier": "ignored"}]}

    consumer = Recorder(answer)
    with running(tmp_path, _resources(report_failures=False), handlers={"Consumer": consumer}) as cloud:
        _send(cloud, ["a", "b"])
        assert cloud.settle()
        assert queue_messages(cloud, "Redrive") == []
        assert queue_messages(cloud, "Source") == []
    assert [sorted(r["body"] for r in e["Records"]) for e in consumer.events] == [["a", "b"], ["a", "b"]]
    assert (
        json.loads(json.dumps(consumer.events[1]))["Records"][0]["attributes"]["ApproximateReceiveCount"]
        == "2"
    )


def test_a_message_sent_after_the_queue_was_drained_is_still_delivered(tmp_path: Path) -> None:
    # GIVEN a mapping that has read its queue empty (it re-reads a drained queue only after news)
    consumer = Recorder()
    with running(tmp_path, _resources(), handlers={"Consumer": consumer}) as cloud:
        _send(cloud, ["first"])
        assert cloud.settle()
        # WHEN another message arrives later, through the cloud's own client
        cloud.wait(600)
        _send(cloud, ["second"])
        assert cloud.settle()
    # THEN it is delivered too
    assert [r["body"] for e in consumer.events for r in e["Records"]] == ["first", "second"]


def test_a_message_the_projects_code_sends_after_the_queue_was_drained_is_delivered(tmp_path: Path) -> None:
    consumer = Recorder()
    with running(tmp_path, _resources(), handlers={"Consumer": consumer}) as cloud:
        _send(cloud, ["first"])
        assert cloud.settle()
        sqs = aws_clients.client("sqs", cloud.services.region)
        sqs.send_message_batch(
            QueueUrl=cloud.stack.get("Source").ref, Entries=[{"Id": "1", "MessageBody": "second"}]
        )
        assert cloud.settle()
    assert [r["body"] for e in consumer.events for r in e["Records"]] == ["first", "second"]


def test_a_message_move_task_sends_redriven_messages_back_to_their_source_queue(tmp_path: Path) -> None:
    # GIVEN a message the consumer failed until it was redriven to the DLQ
    failing = True

    def answer(event: dict[str, Any], call: int) -> Any:
        if failing:
            raise RuntimeError("consumer down")
        return None

    consumer = Recorder(answer)
    with running(tmp_path, _resources(), handlers={"Consumer": consumer}) as cloud:
        _send(cloud, ["late"])
        assert cloud.settle()
        redrive = cloud.stack.get("Redrive").arn
        assert [m["Body"] for m in StoreReader(cloud.services).peek_queue(redrive)] == ["late"]
        # WHEN the consumer is fixed and the DLQ is moved back (StartMessageMoveTask, no destination)
        failing = False
        moved = cloud.services.move_messages_back(redrive)
        assert cloud.settle()
        left = queue_messages(cloud, "Redrive")
    # THEN the message went back to its source queue, with its attributes, and was consumed
    assert moved == (1, 0)
    assert left == []
    last = consumer.events[-1]["Records"]
    assert [r["body"] for r in last] == ["late"]
    assert last[0]["messageAttributes"]["kind"]["stringValue"] == "test"
    assert len(consumer.events) == 3  # two failed receives (maxReceiveCount 2), then the moved message


def test_a_message_move_task_leaves_messages_whose_source_it_does_not_know(tmp_path: Path) -> None:
    with running(tmp_path, _resources(), handlers={"Consumer": Recorder()}) as cloud:
        cloud.services.client("sqs").send_message(QueueUrl=cloud.stack.get("Redrive").ref, MessageBody="x")
        moved = cloud.services.move_messages_back(cloud.stack.get("Redrive").arn)
        left = queue_messages(cloud, "Redrive")
    assert moved == (0, 1)
    assert [m["Body"] for m in left] == ["x"]


@pytest.mark.parametrize(
    "answer",
    [
        "not an object",
        {"batchItemFailures": "not a list"},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"messageId": "a bad key name"}]},
        {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]},
    ],
)
def test_an_invalid_partial_batch_response_fails_the_whole_batch(tmp_path: Path, answer: Any) -> None:
    """Lambda with SQS: an invalid JSON response, an empty or null itemIdentifier, an itemIdentifier
    with a bad key name or one naming a message not in the batch make the whole batch a failure."""
    consumer = Recorder(lambda event, call: answer if call == 1 else None)
    with running(tmp_path, _resources(), handlers={"Consumer": consumer}) as cloud:
        _send(cloud, ["a", "b"])
        assert cloud.settle()
        assert queue_messages(cloud, "Source") == []
    assert [sorted(r["body"] for r in e["Records"]) for e in consumer.events] == [["a", "b"], ["a", "b"]]


@pytest.mark.parametrize("answer", [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}])
def test_an_empty_or_null_partial_batch_response_is_a_complete_success(tmp_path: Path, answer: Any) -> None:
    """Lambda with SQS: an empty or null batchItemFailures list, or an empty or null answer, is a
    complete success: every message is deleted."""
    consumer = Recorder(lambda event, call: answer)
    with running(tmp_path, _resources(), handlers={"Consumer": consumer}) as cloud:
        _send(cloud, ["a", "b"])
        assert cloud.settle()
        assert queue_messages(cloud, "Source") == []
    assert len(consumer.events) == 1


def test_a_processed_message_can_be_received_again(tmp_path: Path) -> None:
    """SQS standard queues deliver at least once: a message that was processed and deleted can
    still come back once (a copy on a server that missed the delete)."""
    consumer = Recorder()
    with running(
        tmp_path, _resources(), handlers={"Consumer": consumer}, faults=(Duplicate("Source", 1.0),)
    ) as cloud:
        _send(cloud, ["a", "b"])
        assert cloud.settle()
        assert queue_messages(cloud, "Redrive") == []
        assert queue_messages(cloud, "Source") == []
    bodies = [r["body"] for e in consumer.events for r in e["Records"]]
    assert sorted(bodies) == ["a", "a", "b", "b"]


def test_a_throttled_batch_comes_back_after_the_visibility_timeout(tmp_path: Path) -> None:
    """Lambda with SQS: a throttled invocation leaves its messages in the queue; they come back after
    the visibility timeout, and the receive counts towards maxReceiveCount."""
    consumer = Recorder()
    throttle = Concurrency("Consumer", limit=0, window=(0.0, 20.0))
    with running(tmp_path, _resources(), handlers={"Consumer": consumer}, faults=(throttle,)) as cloud:
        _send(cloud, ["a"])
        assert cloud.settle()
        assert queue_messages(cloud, "Redrive") == []
    ((record,),) = [event["Records"] for event in consumer.events]
    assert record["body"] == "a"
    assert record["attributes"]["ApproximateReceiveCount"] == "2"
