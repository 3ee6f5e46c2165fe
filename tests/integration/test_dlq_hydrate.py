"""The DLQ-hydrate handler against moto: the sample events, the exact shard and range, paging,
reshards, redelivery, aged-out records, Lambda on-failure destination records, unknown shapes and
partial batch failures."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from dlq_hydrate import dependencies
from dlq_hydrate.handler import lambda_handler
from dlq_hydrate.store import DlqStore
from signal_platform import aws_clients, codec
from signal_platform.errors import DlqStoreError
from tests.conftest import REGION, FakeLambdaContext, load_event
from tests.integration.test_dlq_support import (
    BUCKET,
    CONSUMERS,
    STREAM_ARN,
    DlqCloud,
    batch_info,
    esm_body,
    open_dlq_cloud,
    pipe_dlq_body,
    sqs_event,
    sqs_record,
)
from tools import dlq

pytestmark = pytest.mark.integration


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[DlqCloud]:
    with open_dlq_cloud(monkeypatch) as opened:
        yield opened


@pytest.fixture
def context() -> FakeLambdaContext:
    return FakeLambdaContext(function_name="dlq-hydrate", remaining_millis=120_000)


def get_records_counter() -> list[int]:
    """Counts the GetRecords calls of the client the hydrate function uses."""
    calls = [0]

    def count(**_kwargs: Any) -> None:
        calls[0] += 1

    aws_clients.client("kinesis", REGION).meta.events.register("before-call.kinesis.GetRecords", count)
    return calls


def body_of(event: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = codec.loads(event["Records"][0]["body"])
    return body


# --- the sample events ------------------------------------------------------------------------------


def test_pipe_dlq_sample_stores_the_three_records_of_its_range(
    cloud: DlqCloud, context: FakeLambdaContext
) -> None:
    # GIVEN the sample Pipe DLQ message and its shard holding the range plus one record either side
    event = load_event("dlq-hydrate-pipe-dlq.json")
    info = body_of(event)["KinesisBatchInfo"]
    start, end = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
    middle = 49656720193826395014285402733428567419733004883360907282
    cloud.create_stream(shards=2)
    seeded = cloud.seed(
        info["shardId"], [start - 7, start, middle, end, end + 9], partition_key=lambda i: "user/42"
    )
    # WHEN the handler runs it
    answer = lambda_handler(event, context)
    # THEN nothing failed, and exactly the three records of the range are stored under "partner"
    assert answer == {"batchItemFailures": []}
    stored = cloud.keys("dlq/")
    assert stored == [
        f"dlq/partner/2026/11/26/10/{USER_42_DIGEST}/{stamp}-{sequence}.json"
        for stamp, sequence in [
            ("20261126T101500234Z", start),
            ("20261126T101500345Z", middle),
            ("20261126T101500456Z", end),
        ]
    ]
    document = cloud.read(stored[0])
    assert document["record"]["sequenceNumber"] == str(start)
    assert document["record"]["shardId"] == info["shardId"]
    assert document["record"]["streamArn"] == info["streamArn"]
    assert document["record"]["partitionKey"] == "user/42"
    assert document["record"]["data"] == codec.loads(seeded[1].data)
    assert document["dlq"]["shape"] == "pipe"
    assert document["dlq"]["consumer"] == "partner"
    assert document["dlq"]["queue"] == "signals-partner-pipe-dlq"
    assert document["dlq"]["messageId"] == event["Records"][0]["messageId"]
    assert document["dlq"]["message"]["context"]["condition"] == "RetryAttemptsExhausted"
    assert document["replay"] == {"count": 0}
    assert cloud.keys("unrecoverable/") == []


def test_esm_on_failure_sample_is_stored_under_its_queue_name(
    cloud: DlqCloud, context: FakeLambdaContext
) -> None:
    # GIVEN the sample Lambda ESM on-failure record, from a queue CONSUMER_BY_QUEUE does not map
    event = load_event("dlq-hydrate-esm-on-failure.json")
    info = body_of(event)["KinesisBatchInfo"]
    cloud.create_stream(shards=2)
    cloud.seed(info["shardId"], [int(info["startSequenceNumber"]), int(info["endSequenceNumber"])])
    # WHEN the handler runs it
    answer = lambda_handler(event, context)
    # THEN both records are stored, under the queue's name as the consumer
    assert answer == {"batchItemFailures": []}
    stored = cloud.keys("dlq/")
    assert len(stored) == 2
    assert all(key.startswith("dlq/signals-lake-esm-dlq/2026/11/26/10/") for key in stored)
    assert cloud.read(stored[0])["dlq"]["shape"] == "esm"


def test_rule_target_sample_keeps_the_whole_event_and_its_error_attributes(
    cloud: DlqCloud, context: FakeLambdaContext
) -> None:
    # GIVEN the sample rule-target DLQ message (a whole EventBridge event)
    event = load_event("dlq-hydrate-rule-target-dlq.json")
    # WHEN the handler runs it
    answer = lambda_handler(event, context)
    # THEN the event is stored whole under "enrichment", keyed by its time, source and id
    assert answer == {"batchItemFailures": []}
    key = (
        f"dlq/enrichment/2026/11/26/10/{WEB_SHOP_DIGEST}/"
        "20261126T101458000Z-6a7e8feb-b491-4cf7-a9f1-bf3703467718.json"
    )
    assert cloud.keys() == [key]
    document = cloud.read(key)
    assert document["event"] == codec.loads(event["Records"][0]["body"])
    attributes = document["dlq"]["attributes"]
    assert attributes["ERROR_CODE"] == "SDK_CLIENT_ERROR"
    assert attributes["RULE_ARN"].endswith(":rule/signals-ingress/signals-enrichment")
    assert attributes["TARGET_ARN"].endswith(":function:signals-enrichment")
    assert "ERROR_MESSAGE" in attributes
    assert document["dlq"]["shape"] == "rule_target"


ENRICHMENT_FAILURE_QUEUE = "signals-enrichment-failure-dlq"
# Partition levels of the DLQ store's keys: sha256(partition key)[:32], never the key itself.
USER_42_DIGEST = "ff9367307eb033737adee08b8880e7e4"
WEB_SHOP_DIGEST = "4a2b04f670935197491379f21821ffb5"
ENRICHMENT_FAILURE_KEY = (
    "dlq/enrichment-failure/2026/11/26/10/4a2b04f670935197491379f21821ffb5/"
    "20261126T102003000Z-3d1c9a52-8e7f-4b06-a2c4-91f0e5d7b3a8.json"
)


@pytest.fixture
def enrichment_failure_queue(cloud: DlqCloud, monkeypatch: pytest.MonkeyPatch) -> str:
    """CONSUMER_BY_QUEUE as the template sets it, with the enrichment's on-failure destination queue."""
    consumers = {**CONSUMERS, ENRICHMENT_FAILURE_QUEUE: "enrichment-failure"}
    monkeypatch.setenv("CONSUMER_BY_QUEUE", codec.dumps(consumers).decode())
    dependencies.reset()
    return ENRICHMENT_FAILURE_QUEUE


@pytest.mark.parametrize(
    "name",
    [
        "dlq-hydrate-pipe-dlq.json",
        "dlq-hydrate-esm-on-failure.json",
        "dlq-hydrate-rule-target-dlq.json",
        "dlq-hydrate-enrichment-failure.json",
    ],
)
def test_no_dlq_hydrate_sample_is_kept_as_unparsed(
    cloud: DlqCloud, context: FakeLambdaContext, enrichment_failure_queue: str, name: str
) -> None:
    # GIVEN any sample DLQ message (the Kinesis ones without their stream: a manifest, not unparsed)
    # WHEN the handler runs it
    answer = lambda_handler(load_event(name), context)
    # THEN it is acknowledged and nothing lands under unparsed/
    assert answer == {"batchItemFailures": []}
    assert cloud.keys("unparsed/") == []
    assert cloud.keys()


def test_enrichment_failure_sample_stores_the_event_it_carries_once(
    cloud: DlqCloud,
    context: FakeLambdaContext,
    enrichment_failure_queue: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN the sample Lambda on-failure destination record of the enrichment function
    event = load_event("dlq-hydrate-enrichment-failure.json")
    body = body_of(event)
    # WHEN the handler runs it
    answer = lambda_handler(event, context)
    # THEN the ingress event it carries is stored like a rule-target event, under "enrichment-failure",
    # keyed by the event's time, source and id, with the failure context but not the stack trace
    assert answer == {"batchItemFailures": []}
    assert cloud.keys() == [ENRICHMENT_FAILURE_KEY]
    document = cloud.read(ENRICHMENT_FAILURE_KEY)
    assert document["event"] == body["requestPayload"]
    assert document["replay"] == {"count": 0}
    dlq_context = document["dlq"]
    assert (dlq_context["consumer"], dlq_context["queue"], dlq_context["shape"]) == (
        "enrichment-failure",
        enrichment_failure_queue,
        "async_invocation",
    )
    assert dlq_context["messageId"] == event["Records"][0]["messageId"]
    failure = dlq_context["failure"]
    assert failure["condition"] == "RetriesExhausted"
    assert failure["approximateInvokeCount"] == 3
    assert failure["functionArn"] == body["requestContext"]["functionArn"]
    assert failure["errorType"] == "BusUnavailableError"
    assert failure["errorMessage"] == body["responsePayload"]["errorMessage"]
    assert "stackTrace" not in codec.dumps(document).decode()
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert metrics[-1]["AsyncFailureEventsStored"] == [1.0]
    # WHEN SQS delivers the same message again, after the object was replayed once
    document["replay"]["count"] = 1
    cloud.s3.put_object(Bucket=BUCKET, Key=ENRICHMENT_FAILURE_KEY, Body=json.dumps(document).encode())
    answer = lambda_handler(event, context)
    # THEN there is still exactly one object, and its replay count was not reset
    assert answer == {"batchItemFailures": []}
    assert cloud.keys() == [ENRICHMENT_FAILURE_KEY]
    assert cloud.read(ENRICHMENT_FAILURE_KEY)["replay"]["count"] == 1


def test_enrichment_failure_event_is_replayed_onto_the_ingress_bus(
    cloud: DlqCloud,
    context: FakeLambdaContext,
    enrichment_failure_queue: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN the sample on-failure record hydrated, and the ingress bus with a rule tapping into SQS
    event = load_event("dlq-hydrate-enrichment-failure.json")
    lambda_handler(event, context)
    events = cloud.session.client("events")
    events.create_event_bus(Name="signals-ingress")
    tap = cloud.sqs.create_queue(QueueName="tap")["QueueUrl"]
    tap_arn = cloud.sqs.get_queue_attributes(QueueUrl=tap, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name="all", EventBusName="signals-ingress", EventPattern='{"source": ["signals.ingest"]}')
    events.put_targets(Rule="all", EventBusName="signals-ingress", Targets=[{"Id": "tap", "Arn": tap_arn}])
    replay = ["--bucket", BUCKET, "replay", "--consumer", "enrichment-failure", "--no-progress", "--json"]
    # WHEN it is replayed without naming the bus: the record names no rule, so the tool refuses
    with pytest.raises(SystemExit, match="no default target"):
        dlq.main(replay)
    capsys.readouterr()
    status = dlq.main([*replay, "--target", "bus", "--bus", "signals-ingress"])
    summary = codec.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # THEN with --target bus --bus signals-ingress the same event is on the ingress bus again, and done
    assert (status, summary["replayed"]) == (0, 1)
    messages = cloud.sqs.receive_message(QueueUrl=tap, MaxNumberOfMessages=10)["Messages"]
    replayed = codec.loads(messages[0]["Body"])
    original = body_of(event)["requestPayload"]
    assert (replayed["detail"], replayed["detail-type"], replayed["source"]) == (
        original["detail"],
        original["detail-type"],
        original["source"],
    )
    assert cloud.keys("dlq/") == []
    assert cloud.keys("replayed/") == [f"replayed/{ENRICHMENT_FAILURE_KEY}"]


# --- the exact shard, the exact range ---------------------------------------------------------------


def test_multi_shard_stream_reads_only_the_named_shard(cloud: DlqCloud, context: FakeLambdaContext) -> None:
    # GIVEN a 4-shard stream; moto numbers every shard 1, 2, 3..., so the same numbers exist in each
    cloud.create_stream(shards=4)
    results = []
    for index in range(40):
        results.extend(cloud.put(1, partition_key=f"user-{index}"))
    by_shard: dict[str, list[str]] = {}
    for index, result in enumerate(results):
        by_shard.setdefault(result["ShardId"], []).append(f"user-{index}")
    shard_id = max(by_shard, key=lambda shard: len(by_shard[shard]))
    expected_keys = by_shard[shard_id]
    assert len(by_shard) > 1
    # WHEN a DLQ message names the whole range of that one shard
    info = batch_info(shard_id, "1", str(len(expected_keys)), len(expected_keys))
    answer = lambda_handler(sqs_event(sqs_record(pipe_dlq_body(info))), context)
    # THEN exactly that shard's records are stored, nothing from the other shards
    assert answer == {"batchItemFailures": []}
    stored = [cloud.read(key)["record"] for key in cloud.keys("dlq/")]
    assert sorted(record["partitionKey"] for record in stored) == sorted(expected_keys)
    assert {record["shardId"] for record in stored} == {shard_id}
    assert cloud.keys("unrecoverable/") == []


def test_resharded_stream_reads_the_closed_parent_shard(cloud: DlqCloud, context: FakeLambdaContext) -> None:
    # GIVEN ten records in shard 0, then a split; as in AWS, the closed parent keeps its records and
    # new records go to a child (moto moves them and keeps writing to the parent, so this is undone)
    cloud.create_stream(shards=1)
    parent, child = "shardId-000000000000", "shardId-000000000002"
    cloud.put(10, partition_key="user-1")
    kept = dict(cloud.shard(parent).records)
    cloud.kinesis.split_shard(
        StreamName="signals-data-platform", ShardToSplit=parent, NewStartingHashKey=str(2**127)
    )
    cloud.shard(parent).records = kept
    for name in ("shardId-000000000001", child):
        cloud.shard(name).records.clear()
    cloud.seed(child, [1, 2, 3, 4, 5], partition_key=lambda i: "user-1")
    shards = cloud.kinesis.list_shards(StreamName="signals-data-platform")["Shards"]
    assert {shard["ShardId"]: shard.get("ParentShardId") for shard in shards}[child] == parent
    # WHEN one DLQ message names records 3..8 of the parent and another records 1..5 of the child
    answer = lambda_handler(
        sqs_event(
            sqs_record(pipe_dlq_body(batch_info(parent, "3", "8", 6)), message_id="parent"),
            sqs_record(pipe_dlq_body(batch_info(child, "1", "5", 5)), message_id="child"),
        ),
        context,
    )
    # THEN the parent's six and the child's five records are stored, each from its own shard
    assert answer == {"batchItemFailures": []}
    stored = [cloud.read(key)["record"] for key in cloud.keys("dlq/")]
    from_parent = sorted(int(r["sequenceNumber"]) for r in stored if r["shardId"] == parent)
    from_child = sorted(int(r["sequenceNumber"]) for r in stored if r["shardId"] == child)
    assert from_parent == [3, 4, 5, 6, 7, 8]
    assert from_child == [1, 2, 3, 4, 5]
    parent_batch_ids = {r["data"]["detail"]["batch_id"] for r in stored if r["shardId"] == parent}
    assert parent_batch_ids == {f"{i:032x}" for i in range(2, 8)}
    assert cloud.keys("unrecoverable/") == []


def test_batch_larger_than_a_page_is_read_in_pages(
    cloud: DlqCloud, context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN 300 records in the range and a page limit of 100 (10,000 in production)
    monkeypatch.setenv("GET_RECORDS_LIMIT", "100")
    dependencies.reset()
    cloud.create_stream(shards=1)
    cloud.put(320, partition_key="user-9")
    calls = get_records_counter()
    # WHEN the DLQ message names records 11..310
    info = batch_info("shardId-000000000000", "11", "310", 300)
    answer = lambda_handler(sqs_event(sqs_record(pipe_dlq_body(info))), context)
    # THEN all 300 are stored, with ceil(300 / 100) = 3 GetRecords calls and no call past the end
    assert answer == {"batchItemFailures": []}
    stored = cloud.keys("dlq/")
    assert len(stored) == 300
    assert calls[0] == 3
    # (keys sort by arrival time, then by sequence as text: compare the set, not the key order)
    sequences = sorted(int(cloud.read(key)["record"]["sequenceNumber"]) for key in stored)
    assert sequences == list(range(11, 311))


def test_redelivered_message_writes_no_duplicates_and_keeps_replay_counts(
    cloud: DlqCloud, context: FakeLambdaContext
) -> None:
    # GIVEN a DLQ message that was hydrated once, and one object already replayed twice
    cloud.create_stream(shards=1)
    cloud.put(5, partition_key="user-3")
    event = sqs_event(
        sqs_record(pipe_dlq_body(batch_info("shardId-000000000000", "1", "5", 5)), message_id="m-1")
    )
    lambda_handler(event, context)
    first = cloud.keys("dlq/")
    document = cloud.read(first[0])
    document["replay"]["count"] = 2
    cloud.s3.put_object(Bucket="signals-dlq-store", Key=first[0], Body=json.dumps(document).encode())
    # WHEN SQS delivers the same message again
    answer = lambda_handler(event, context)
    # THEN the same five objects exist, no more, and the replay count was not reset
    assert answer == {"batchItemFailures": []}
    assert cloud.keys("dlq/") == first
    assert cloud.read(first[0])["replay"]["count"] == 2


# --- what is no longer there ------------------------------------------------------------------------


def test_aged_out_start_writes_a_manifest_and_stores_the_rest(
    cloud: DlqCloud, context: FakeLambdaContext, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a shard whose oldest record is 105: 101..104 are past retention
    cloud.create_stream(shards=1)
    cloud.seed("shardId-000000000000", list(range(105, 121)))
    # WHEN a DLQ message names 101..110 (10 records)
    info = batch_info("shardId-000000000000", "101", "110", 10)
    answer = lambda_handler(sqs_event(sqs_record(pipe_dlq_body(info), message_id="aged")), context)
    # THEN the six that remain are stored and a manifest names the four that are gone
    assert answer == {"batchItemFailures": []}
    assert len(cloud.keys("dlq/")) == 6
    manifests = cloud.keys("unrecoverable/")
    assert manifests == ["unrecoverable/partner/2026/11/26/shardId-000000000000-101-110.json"]
    manifest = cloud.read(manifests[0])
    assert manifest["problems"] == ["start_not_found", "count_mismatch"]
    assert manifest["expected"] == info
    assert manifest["found"]["count"] == 6
    assert manifest["found"]["firstSequenceNumber"] == "105"
    assert manifest["missing"] == {
        "count": 4,
        "beforeSequenceNumber": "105",
        "afterSequenceNumber": "110",
        "wholeRange": False,
    }
    assert manifest["dlq"]["messageId"] == "aged"
    # AND the metrics count the unrecoverable records
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert metrics[-1]["UnrecoverableRecords"] == [4.0]
    assert metrics[-1]["UnrecoverableBatches"] == [1.0]
    assert metrics[-1]["RecordsRecovered"] == [6.0]


def test_wholly_aged_out_range_writes_a_manifest_and_no_records(
    cloud: DlqCloud, context: FakeLambdaContext
) -> None:
    # GIVEN a shard that holds only newer records
    cloud.create_stream(shards=1)
    cloud.seed("shardId-000000000000", [50, 51, 52])
    # WHEN a DLQ message names 10..12
    info = batch_info("shardId-000000000000", "10", "12", 3)
    answer = lambda_handler(sqs_event(sqs_record(pipe_dlq_body(info))), context)
    # THEN nothing is stored as a record, and the manifest says the whole range is gone
    assert answer == {"batchItemFailures": []}
    assert cloud.keys("dlq/") == []
    manifest = cloud.read(cloud.keys("unrecoverable/")[0])
    assert manifest["problems"] == ["no_records_found"]
    assert manifest["missing"]["wholeRange"] is True
    assert manifest["missing"]["count"] == 3


def test_deleted_stream_writes_an_unreadable_manifest(cloud: DlqCloud, context: FakeLambdaContext) -> None:
    # GIVEN a DLQ message about a stream that does not exist (any more)
    info = batch_info("shardId-000000000000", "1", "2", 2, stream_arn=STREAM_ARN.replace("signals-", "gone-"))
    # WHEN the handler runs it
    answer = lambda_handler(sqs_event(sqs_record(esm_body(info), queue="signals-lake-pipe-dlq")), context)
    # THEN it is not retried forever: a manifest records why the records cannot come back
    assert answer == {"batchItemFailures": []}
    manifest = cloud.read(cloud.keys("unrecoverable/lake/")[0])
    assert manifest["problems"][0] == "unreadable"
    assert "ResourceNotFoundException" in manifest["unreadable"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json at all", "the body is not JSON"),
        ('["a", "list"]', "the body is not a JSON object"),
        ({"DDBStreamBatchInfo": {"shardId": "x"}, "version": "1.0"}, "unknown DLQ message shape"),
        (
            {"context": {}, "KinesisBatchInfo": {"shardId": "bad", "startSequenceNumber": "1"}},
            "KinesisBatchInfo.shardId is not a shard id: 'bad'",
        ),
    ],
)
def test_unknown_shape_is_kept_whole_under_unparsed(
    cloud: DlqCloud, context: FakeLambdaContext, body: Any, reason: str
) -> None:
    # GIVEN a DLQ message of no known shape
    record = sqs_record(body, message_id="odd-1")
    # WHEN the handler runs it
    answer = lambda_handler(sqs_event(record), context)
    # THEN it is acknowledged and kept whole, with the reason, under unparsed/<sent date>/
    assert answer == {"batchItemFailures": []}
    assert cloud.keys() == ["unparsed/2026/11/26/odd-1.json"]
    document = cloud.read("unparsed/2026/11/26/odd-1.json")
    assert document["message"] == record
    assert document["reason"] == reason


# --- failures are redriven, one message at a time ---------------------------------------------------


def test_store_failure_reports_exactly_that_message(
    cloud: DlqCloud, context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN S3 refuses writes under the partner's prefix only
    original = DlqStore.create

    def flaky(store: DlqStore, key: str, body: bytes) -> bool:
        if key.startswith("dlq/partner/"):
            raise DlqStoreError("PutObject failed: SlowDown")
        return original(store, key, body)

    monkeypatch.setattr(DlqStore, "create", flaky)
    cloud.create_stream(shards=1)
    cloud.put(3)
    info = batch_info("shardId-000000000000", "1", "3", 3)
    event = sqs_event(
        sqs_record(pipe_dlq_body(info), queue="signals-partner-pipe-dlq", message_id="to-partner"),
        sqs_record(pipe_dlq_body(info, "signals-lake"), queue="signals-lake-pipe-dlq", message_id="to-lake"),
    )
    # WHEN the handler runs the batch
    answer = lambda_handler(event, context)
    # THEN only the partner's message is reported for redrive; the lake's is stored
    assert answer == {"batchItemFailures": [{"itemIdentifier": "to-partner"}]}
    assert len(cloud.keys("dlq/lake/")) == 3
    assert cloud.keys("dlq/partner/") == []


def test_all_messages_failing_are_all_reported_not_raised(
    cloud: DlqCloud, context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a store bucket that does not exist
    monkeypatch.setenv("DLQ_STORE_BUCKET_NAME", "no-such-bucket")
    dependencies.reset()
    event = load_event("dlq-hydrate-rule-target-dlq.json")
    # WHEN the handler runs
    started = time.monotonic()
    answer = lambda_handler(event, context)
    # THEN the message is reported as failed (SQS redrives it), promptly
    assert answer == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert time.monotonic() - started < 10
