"""The Pipe poller over Kinesis, pinned to what the EventBridge Pipes / Lambda ESM documentation says:
batch size and window, retries, bisection, partial batch failures, per-shard order, record age, DLQ shape."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from localcloud.faults import Concurrency, Duplicate, RecordAging, Reshard, TargetFault
from localcloud.partner import PartnerStandIn
from localcloud.pipes import lane_of
from signal_platform import aws_clients
from tests.localcloud.conftest import Recorder, arn, function, queue, queue_messages, running

PARAMETERS = {
    "BatchSize": {"Type": "Number", "Default": 10},
    "Window": {"Type": "Number", "Default": 0},
    "Retries": {"Type": "Number", "Default": 2},
    "MaxAge": {"Type": "Number", "Default": -1},
    "Bisect": {"Type": "String", "Default": "AUTOMATIC_BISECT"},
    "Shards": {"Type": "Number", "Default": 1},
    "Lanes": {"Type": "Number", "Default": 1},
}


def _resources() -> dict[str, Any]:
    return {
        "Stream": {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": {"Ref": "Shards"}}},
        "Dlq": queue(),
        "Writer": function("writer"),
        "Pipe": {
            "Type": "AWS::Pipes::Pipe",
            "Properties": {
                "Name": "lake",
                "RoleArn": "arn:aws:iam::123456789012:role/pipe",
                "Source": arn("Stream"),
                "SourceParameters": {
                    "KinesisStreamParameters": {
                        "StartingPosition": "TRIM_HORIZON",
                        "BatchSize": {"Ref": "BatchSize"},
                        "MaximumBatchingWindowInSeconds": {"Ref": "Window"},
                        "MaximumRetryAttempts": {"Ref": "Retries"},
                        "MaximumRecordAgeInSeconds": {"Ref": "MaxAge"},
                        "OnPartialBatchItemFailure": {"Ref": "Bisect"},
                        "ParallelizationFactor": {"Ref": "Lanes"},
                        "DeadLetterConfig": {"Arn": arn("Dlq")},
                    }
                },
                "Target": arn("Writer"),
            },
        },
    }


def _put(cloud: LocalCloud, values: list[str], key: str = "user-1") -> list[str]:
    stream = str(cloud.stack.get("Stream").ref)
    return [cloud.services.put_record(stream, json.dumps({"v": value}).encode(), key)[1] for value in values]


def _values(batch: list[dict[str, Any]]) -> list[str]:
    return [json.loads(base64.b64decode(record["data"]))["v"] for record in batch]


def _fail_on(value: str) -> Any:
    def answer(batch: list[dict[str, Any]], call: int) -> Any:
        if value in _values(batch):
            raise RuntimeError(f"poison {value}")
        return {"batchItemFailures": []}

    return answer


def test_target_gets_an_array_of_flat_kinesis_records(tmp_path: Path) -> None:
    writer = Recorder()
    with running(tmp_path, _resources(), handlers={"Writer": writer}, parameters=PARAMETERS) as cloud:
        sequence = _put(cloud, ["a"])[0]
        assert cloud.settle()
        stream_arn = cloud.stack.get("Stream").arn
    (batch,) = writer.events
    (record,) = batch
    assert isinstance(batch, list)
    assert record["eventID"] == f"shardId-000000000000:{sequence}"
    assert record["sequenceNumber"] == sequence
    assert record["eventSourceARN"] == stream_arn
    assert (record["eventSource"], record["partitionKey"], record["awsRegion"]) == (
        "aws:kinesis",
        "user-1",
        "us-west-2",
    )
    assert json.loads(base64.b64decode(record["data"])) == {"v": "a"}
    assert isinstance(record["approximateArrivalTimestamp"], float)
    assert set(record) >= {"kinesisSchemaVersion", "eventVersion", "eventName", "invokeIdentityArn"}


def test_batches_hold_at_most_batch_size_records_in_stream_order(tmp_path: Path) -> None:
    writer = Recorder()
    values = [str(n) for n in range(7)]
    with running(
        tmp_path,
        _resources(),
        handlers={"Writer": writer},
        parameters=PARAMETERS,
        overrides={"BatchSize": "3"},
    ) as cloud:
        _put(cloud, values)
        assert cloud.settle()
    assert [_values(batch) for batch in writer.events] == [values[0:3], values[3:6], values[6:7]]


def test_a_partial_batch_waits_for_the_batching_window(tmp_path: Path) -> None:
    writer = Recorder()
    overrides = {"BatchSize": "10", "Window": "5"}
    with running(
        tmp_path, _resources(), handlers={"Writer": writer}, parameters=PARAMETERS, overrides=overrides
    ) as cloud:
        _put(cloud, ["a", "b"])
        # WHEN the emulators run without the clock moving on
        cloud.pump()
        before = list(writer.events)
        started = cloud.clock.now()
        # THEN nothing is sent until the 5 s window has passed (the virtual clock jumps over it)
        assert cloud.settle()
        waited = cloud.clock.now() - started
    assert before == []
    assert [_values(batch) for batch in writer.events] == [["a", "b"]]
    assert 4.5 <= waited <= 5.5


def test_failing_batch_is_retried_maximum_retry_attempts_times_then_dead_lettered(tmp_path: Path) -> None:
    # GIVEN no bisection and a target that always fails
    writer = Recorder(_fail_on("a"))
    overrides = {"Retries": "2", "Bisect": "OFF"}
    with running(
        tmp_path, _resources(), handlers={"Writer": writer}, parameters=PARAMETERS, overrides=overrides
    ) as cloud:
        sequences = _put(cloud, ["a", "b"])
        assert cloud.settle()
        (message,) = queue_messages(cloud, "Dlq")
        pipe_arn, stream_arn = cloud.stack.get("Pipe").arn, cloud.stack.get("Stream").arn
    # THEN 1 + 2 invocations of the same batch, then one DLQ message in the Pipe shape
    assert [_values(batch) for batch in writer.events] == [["a", "b"]] * 3
    body = json.loads(message["Body"])
    assert body["context"] == {"partnerResourceArn": pipe_arn, "condition": "RetryAttemptsExhausted"}
    assert body["version"] == "1.0" and body["timestamp"].endswith("Z")
    info = body["KinesisBatchInfo"]
    assert info["shardId"] == "shardId-000000000000"
    assert (info["startSequenceNumber"], info["endSequenceNumber"]) == (sequences[0], sequences[1])
    assert info["batchSize"] == 2
    assert info["streamArn"] == stream_arn
    assert info["approximateArrivalOfFirstRecord"].endswith("Z")
    assert info["approximateArrivalOfLastRecord"].endswith("Z")


def test_bisect_splits_a_failing_batch_in_halves_until_the_poison_record_is_alone(tmp_path: Path) -> None:
    # GIVEN a batch of 4 whose third record always fails the invocation
    writer = Recorder(_fail_on("c"))
    overrides = {"BatchSize": "4", "Retries": "1"}
    with running(
        tmp_path, _resources(), handlers={"Writer": writer}, parameters=PARAMETERS, overrides=overrides
    ) as cloud:
        sequences = _put(cloud, ["a", "b", "c", "d"])
        assert cloud.settle()
        (message,) = queue_messages(cloud, "Dlq")
    # THEN [a b c d] -> [a b] ok, [c d] fails -> [c] fails, retried once, dead-lettered -> [d] ok
    assert [_values(batch) for batch in writer.events] == [
        ["a", "b", "c", "d"],
        ["a", "b"],
        ["c", "d"],
        ["c"],
        ["c"],
        ["d"],
    ]
    info = json.loads(message["Body"])["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        sequences[2],
        sequences[2],
        1,
    )


def test_partial_failure_retries_from_the_lowest_failed_record(tmp_path: Path) -> None:
    # GIVEN a target that reports the 3rd and 4th record of its first batch as failed
    def answer(batch: list[dict[str, Any]], call: int) -> Any:
        if call == 1:
            return {
                "batchItemFailures": [
                    {"itemIdentifier": batch[3]["eventID"]},
                    {"itemIdentifier": batch[2]["eventID"]},
                ]
            }
        return {"batchItemFailures": []}

    writer = Recorder(answer)
    with running(tmp_path, _resources(), handlers={"Writer": writer}, parameters=PARAMETERS) as cloud:
        _put(cloud, ["a", "b", "c", "d", "e"])
        assert cloud.settle()
        assert queue_messages(cloud, "Dlq") == []
    # THEN the records before the lowest failure are done; the retry starts at it
    assert [_values(batch) for batch in writer.events] == [["a", "b", "c", "d", "e"], ["c", "d", "e"]]


@pytest.mark.parametrize("identifier", ["", None, "shardId-000000000000:999999"])
def test_an_empty_null_or_unknown_item_identifier_fails_the_whole_batch(
    tmp_path: Path, identifier: str | None
) -> None:
    def answer(batch: list[dict[str, Any]], call: int) -> Any:
        return {"batchItemFailures": [{"itemIdentifier": identifier}]} if call == 1 else None

    writer = Recorder(answer)
    overrides = {"Bisect": "OFF"}
    with running(
        tmp_path, _resources(), handlers={"Writer": writer}, parameters=PARAMETERS, overrides=overrides
    ) as cloud:
        _put(cloud, ["a", "b"])
        assert cloud.settle()
    assert [_values(batch) for batch in writer.events] == [["a", "b"], ["a", "b"]]


def test_a_failing_batch_blocks_its_shard_but_not_the_others(tmp_path: Path) -> None:
    # GIVEN two shards, and a record on the first that fails 3 times before it succeeds
    def answer(batch: list[dict[str, Any]], call: int) -> Any:
        if "x1" in _values(batch) and sum("x1" in _values(b) for b in writer.events) <= 3:
            raise RuntimeError("not yet")
        return None

    writer = Recorder(answer)
    overrides = {"Shards": "2", "BatchSize": "1", "Retries": "5", "Bisect": "OFF"}
    with running(
        tmp_path, _resources(), handlers={"Writer": writer}, parameters=PARAMETERS, overrides=overrides
    ) as cloud:
        stream = str(cloud.stack.get("Stream").ref)
        shards = [
            s["ShardId"] for s in cloud.services.client("kinesis").list_shards(StreamName=stream)["Shards"]
        ]
        keys: dict[str, str] = {}
        for candidate in (f"key-{n}" for n in range(100)):  # a partition key per shard
            shard, _ = cloud.services.put_record(stream, b'{"v":"probe"}', candidate)
            keys.setdefault(shard, candidate)
            if len(keys) == len(shards):
                break
        for value in ("x1", "x2", "x3"):
            _put(cloud, [value], key=keys[shards[0]])
        for value in ("y1", "y2"):
            _put(cloud, [value], key=keys[shards[1]])
        assert cloud.settle()
    order = [value for batch in writer.events for value in _values(batch) if value != "probe"]
    # THEN x2 and x3 come only after x1 finally succeeded; y1, y2 were not held up by x1
    assert [v for v in order if v.startswith("x")] == ["x1"] * 4 + ["x2", "x3"]
    assert order.index("y2") < len(order) - 2
    assert [v for v in order if v.startswith("y")] == ["y1", "y2"]


def test_records_older_than_maximum_record_age_go_to_the_dlq_without_an_invocation(tmp_path: Path) -> None:
    writer = Recorder()
    aging = RecordAging("Stream", seconds=120.0)
    overrides = {"MaxAge": "60"}
    with running(
        tmp_path,
        _resources(),
        handlers={"Writer": writer},
        parameters=PARAMETERS,
        overrides=overrides,
        faults=(aging,),
    ) as cloud:
        _put(cloud, ["old"])
        assert cloud.settle()
        (message,) = queue_messages(cloud, "Dlq")
    assert writer.events == []
    body = json.loads(message["Body"])
    assert body["context"]["condition"] == "MaximumRecordAgeExceeded"
    assert body["KinesisBatchInfo"]["batchSize"] == 1


def test_record_age_is_measured_on_the_cloud_clock_so_a_skipped_day_does_not_age_new_records(
    tmp_path: Path,
) -> None:
    # GIVEN a cloud whose clock has jumped over two days of waiting (retries that ran out, say)
    writer = Recorder()
    with running(
        tmp_path, _resources(), handlers={"Writer": writer}, parameters=PARAMETERS, overrides={"MaxAge": "60"}
    ) as cloud:
        cloud.wait(2 * 86400)
        # WHEN a record is put now
        _put(cloud, ["fresh"])
        assert cloud.settle()
        dead = queue_messages(cloud, "Dlq")
    # THEN it is a second old, not two days: delivered, not dead-lettered for its age
    assert [_values(batch) for batch in writer.events] == [["fresh"]]
    assert dead == []


def test_records_the_projects_code_puts_after_the_shard_drained_are_delivered(tmp_path: Path) -> None:
    # GIVEN a Pipe that has read its shard to the end (it re-reads a drained shard only after news)
    writer = Recorder()
    with running(tmp_path, _resources(), handlers={"Writer": writer}, parameters=PARAMETERS) as cloud:
        _put(cloud, ["first"])
        assert cloud.settle()
        # WHEN code using the project's client factory puts more records
        kinesis = aws_clients.client("kinesis", cloud.services.region)
        kinesis.put_records(
            StreamName=str(cloud.stack.get("Stream").ref),
            Records=[{"Data": json.dumps({"v": "second"}).encode(), "PartitionKey": "user-1"}],
        )
        assert cloud.settle()
    # THEN the Pipe learns of them and delivers them
    assert [value for batch in writer.events for value in _values(batch)] == ["first", "second"]


def test_injected_target_fault_counts_as_a_failed_invocation(tmp_path: Path) -> None:
    writer = Recorder()
    fault = TargetFault("Writer", times=2)
    with running(
        tmp_path, _resources(), handlers={"Writer": writer}, parameters=PARAMETERS, faults=(fault,)
    ) as cloud:
        _put(cloud, ["a"])
        assert cloud.settle()
        assert queue_messages(cloud, "Dlq") == []
        fired = cloud.faults.fired["Writer:error"]
    assert fired == 2
    assert [_values(batch) for batch in writer.events] == [["a"]]


# ---------------------------------------------------------------------------- API destination target
def _partner_resources() -> dict[str, Any]:
    resources = _resources()
    resources.pop("Writer")
    resources["Key"] = {
        "Type": "AWS::SecretsManager::Secret",
        "Properties": {"Name": "partner-key", "SecretString": '{"api_key":"k-123"}'},
    }
    resources["Connection"] = {
        "Type": "AWS::Events::Connection",
        "DependsOn": "Key",
        "Properties": {
            "AuthorizationType": "API_KEY",
            "AuthParameters": {
                "ApiKeyAuthParameters": {
                    "ApiKeyName": "x-api-key",
                    "ApiKeyValue": "{{resolve:secretsmanager:partner-key:SecretString:api_key}}",
                }
            },
        },
    }
    resources["Destination"] = {
        "Type": "AWS::Events::ApiDestination",
        "Properties": {
            "ConnectionArn": arn("Connection"),
            "InvocationEndpoint": "https://partner.example.com/v1/signals",
            "HttpMethod": "POST",
        },
    }
    pipe = resources["Pipe"]["Properties"]
    pipe["Target"] = arn("Destination")
    pipe["TargetParameters"] = {"InputTemplate": "<$.data>"}
    return resources


def test_api_destination_gets_one_request_per_record_with_the_connection_key(tmp_path: Path) -> None:
    with running(
        tmp_path, _partner_resources(), handlers={}, parameters=PARAMETERS, overrides={"Retries": "3"}
    ) as cloud:
        assert cloud.partner is not None
        _put(cloud, ["a", "b"])
        assert cloud.settle()
        received = list(cloud.partner.received)
    assert [r.body for r in received] == [{"v": "a"}, {"v": "b"}]
    assert {r.path for r in received} == {"/v1/signals"}
    assert {r.headers["x-api-key"] for r in received} == {"k-123"}


def test_api_destination_failures_are_retried_from_the_failed_record(tmp_path: Path) -> None:
    with running(
        tmp_path, _partner_resources(), handlers={}, parameters=PARAMETERS, overrides={"Retries": "3"}
    ) as cloud:
        partner: PartnerStandIn | None = cloud.partner
        assert partner is not None
        refusals = iter([True, True])
        partner.failing = lambda body: body == {"v": "b"} and next(refusals, False)
        _put(cloud, ["a", "b", "c"])
        assert cloud.settle()
        assert queue_messages(cloud, "Dlq") == []
        received = [r.body["v"] for r in partner.received]
        refused = partner.refused[503]
    assert received == ["a", "b", "c"]
    assert refused == 2


@pytest.mark.parametrize(
    "answer",
    [
        "not an object",
        ["a list"],
        {"batchItemFailures": "not a list"},
        {"batchItemFailures": [{"id": "a bad key name"}]},
        {"batchItemFailures": ["not an object"]},
    ],
)
def test_an_invalid_batch_response_fails_the_whole_batch(tmp_path: Path, answer: Any) -> None:
    """Pipes and Lambda's Kinesis sources: an invalid answer (not JSON of the documented shape, an
    itemIdentifier with a bad key name) fails the whole batch, as an empty or null one does."""
    writer = Recorder(lambda batch, call: answer if call == 1 else None)
    with running(
        tmp_path,
        _resources(),
        handlers={"Writer": writer},
        parameters=PARAMETERS,
        overrides={"Bisect": "OFF"},
    ) as cloud:
        _put(cloud, ["a", "b"])
        assert cloud.settle()
    assert [_values(batch) for batch in writer.events] == [["a", "b"], ["a", "b"]]


@pytest.mark.parametrize("answer", [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}])
def test_an_empty_or_null_batch_response_is_a_complete_success(tmp_path: Path, answer: Any) -> None:
    """Lambda's partial batch responses: an empty or null batchItemFailures list, or an empty or null
    answer, means every record succeeded."""
    writer = Recorder(lambda batch, call: answer)
    with running(tmp_path, _resources(), handlers={"Writer": writer}, parameters=PARAMETERS) as cloud:
        _put(cloud, ["a", "b"])
        assert cloud.settle()
    assert [_values(batch) for batch in writer.events] == [["a", "b"]]


def _keys_in_lanes(lanes: int) -> tuple[str, str]:
    """Two partition keys that land in different lanes."""
    first = "key-0"
    other = next(f"key-{n}" for n in range(1, 100) if lane_of(f"key-{n}", lanes) != lane_of(first, lanes))
    return first, other


@pytest.mark.parametrize("lanes", [1, 2])
def test_parallelization_factor_lanes_let_other_partition_keys_pass_a_failing_one(
    tmp_path: Path, lanes: int
) -> None:
    """Lambda's Kinesis guide: with ParallelizationFactor one shard is processed by several concurrent
    batches, and order is kept per partition key (not per shard). With one lane a failing record
    holds up the whole shard; with two, another key's records go by while it is retried."""

    def answer(batch: list[dict[str, Any]], call: int) -> Any:
        if "a1" in _values(batch) and sum("a1" in _values(b) for b in writer.events) <= 3:
            raise RuntimeError("not yet")
        return None

    writer = Recorder(answer)
    key_a, key_b = _keys_in_lanes(2)
    overrides = {"Lanes": str(lanes), "BatchSize": "1", "Retries": "5", "Bisect": "OFF"}
    with running(
        tmp_path, _resources(), handlers={"Writer": writer}, parameters=PARAMETERS, overrides=overrides
    ) as cloud:
        _put(cloud, ["a1", "a2"], key=key_a)
        _put(cloud, ["b1", "b2", "b3"], key=key_b)
        assert cloud.settle()
        factor = cloud.pipes[0].spec.parallelization
    order = [value for batch in writer.events for value in _values(batch)]
    # THEN each key keeps its order; with 2 lanes b1..b3 are done before a1 finally succeeds
    assert factor == lanes
    assert [v for v in order if v.startswith("a")] == ["a1"] * 4 + ["a2"]
    assert [v for v in order if v.startswith("b")] == ["b1", "b2", "b3"]
    last_b, first_a1_success = order.index("b3"), len(order) - 1 - order[::-1].index("a1")
    assert (last_b < first_a1_success) == (lanes == 2)


def _shards(cloud: LocalCloud) -> list[dict[str, Any]]:
    stream = str(cloud.stack.get("Stream").ref)
    return list(cloud.services.client("kinesis").list_shards(StreamName=stream)["Shards"])


def _shard_values(cloud: LocalCloud, shard_id: str) -> list[str]:
    kinesis = cloud.services.client("kinesis")
    stream = str(cloud.stack.get("Stream").ref)
    iterator = kinesis.get_shard_iterator(
        StreamName=stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
    )
    records = kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    return [json.loads(record["Data"])["v"] for record in records]


def test_a_split_shard_stays_readable_and_is_read_to_its_end_before_its_children(tmp_path: Path) -> None:
    """Kinesis resharding: after a split the parent is closed and keeps its records until retention
    ends, new records go to the children, and a consumer reads the parent to its end before them."""

    # GIVEN a target that fails the parent's first record twice, and a split after 3 records
    def answer(batch: list[dict[str, Any]], call: int) -> Any:
        if "p1" in _values(batch) and call <= 2:
            raise RuntimeError("not yet")
        return None

    writer = Recorder(answer)
    overrides = {"BatchSize": "1", "Retries": "5", "Bisect": "OFF"}
    with running(
        tmp_path,
        _resources(),
        handlers={"Writer": writer},
        parameters=PARAMETERS,
        overrides=overrides,
        faults=(Reshard("Stream", after=3),),
    ) as cloud:
        _put(cloud, ["p1", "p2", "p3"], key="user-1")
        _put(cloud, [f"c{n}" for n in range(6)], key="user-1")
        _put(cloud, [f"d{n}" for n in range(6)], key="user-2")
        assert cloud.settle()
        shards = _shards(cloud)
        parent = next(shard for shard in shards if "ParentShardId" not in shard)
        children = [shard for shard in shards if shard.get("ParentShardId") == parent["ShardId"]]
        in_parent = _shard_values(cloud, parent["ShardId"])
        in_children = [value for child in children for value in _shard_values(cloud, child["ShardId"])]
    order = [value for batch in writer.events for value in _values(batch)]
    # THEN the parent is closed with its records, the later records are in the two children
    assert "EndingSequenceNumber" in parent["SequenceNumberRange"]
    assert len(children) == 2
    assert in_parent == ["p1", "p2", "p3"]
    assert sorted(in_children) == sorted([f"c{n}" for n in range(6)] + [f"d{n}" for n in range(6)])
    # AND every record was delivered, the parent's all before any child's, each key in order
    assert order[:5] == ["p1", "p1", "p1", "p2", "p3"]
    assert sorted(order[5:]) == sorted(in_children)
    assert [v for v in order if v.startswith("c")] == [f"c{n}" for n in range(6)]


def test_a_throttled_target_is_retried_without_using_up_maximum_retry_attempts(tmp_path: Path) -> None:
    """Lambda's Kinesis event source mappings: when the function is throttled, the batch is retried
    until its records expire; throttles are not function errors and use up no retry attempt."""
    writer = Recorder()
    throttle = Concurrency("Writer", limit=0, window=(0.0, 120.0))
    with running(
        tmp_path,
        _resources(),
        handlers={"Writer": writer},
        parameters=PARAMETERS,
        overrides={"Retries": "2"},
        faults=(throttle,),
    ) as cloud:
        _put(cloud, ["a"])
        assert cloud.settle()
        throttled = cloud.faults.fired["throttled:Writer"]
        dead = queue_messages(cloud, "Dlq")
    assert [_values(batch) for batch in writer.events] == [["a"]]
    assert throttled > 2
    assert dead == []


def test_a_batch_that_succeeded_can_be_delivered_again(tmp_path: Path) -> None:
    """Pipes and Lambda event source mappings process each record at least once: a batch that
    succeeded may come again."""
    writer = Recorder()
    with running(
        tmp_path,
        _resources(),
        handlers={"Writer": writer},
        parameters=PARAMETERS,
        faults=(Duplicate("Pipe", 1.0),),
    ) as cloud:
        _put(cloud, ["a", "b"])
        assert cloud.settle()
    assert [_values(batch) for batch in writer.events] == [["a", "b"], ["a", "b"]]


def test_a_timeout_part_way_through_the_writes_retries_the_whole_batch(tmp_path: Path) -> None:
    """Lambda: a timeout fails the invocation; a Pipe then retries the batch, so the records written
    before the timeout are written again by the retry."""
    written: list[tuple[int, str]] = []

    def write_each(batch: list[dict[str, Any]], call: int) -> Any:
        for value in _values(batch):
            aws_clients.client("sts").get_caller_identity()
            written.append((call, value))
        return None

    fault = TargetFault("Writer", times=1, mode="timeout", after_calls=1)
    with running(
        tmp_path,
        _resources(),
        handlers={"Writer": Recorder(write_each)},
        parameters=PARAMETERS,
        overrides={"Bisect": "OFF"},
        faults=(fault,),
    ) as cloud:
        _put(cloud, ["a", "b"])
        assert cloud.settle()
    assert written == [(1, "a"), (2, "a"), (2, "b")]


def test_a_full_lane_waiting_on_retries_lets_the_clock_move_on(tmp_path: Path) -> None:
    """Retries wait for their backoff even when the lanes' buffers are full: the shard is not read
    again until a batch is taken, so the cloud does not spin on a read it cannot make."""
    writer = Recorder(_fail_on("a0"))
    # GIVEN retries whose backoffs add up to more than a minute, and more records than the lanes hold
    overrides = {"Lanes": "2", "BatchSize": "1", "Retries": "6", "Bisect": "OFF"}
    with running(
        tmp_path, _resources(), handlers={"Writer": writer}, parameters=PARAMETERS, overrides=overrides
    ) as cloud:
        _put(cloud, [f"a{n}" for n in range(6)], key="user-1")
        # THEN the cloud jumps over the backoffs instead of waiting them out in real time
        settled = cloud.settle(timeout=20.0)
        dead = queue_messages(cloud, "Dlq")
    assert settled
    assert [_values(batch) for batch in writer.events] == [["a0"]] * 7 + [[f"a{n}"] for n in range(1, 6)]
    assert len(dead) == 1
