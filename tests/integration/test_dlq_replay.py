"""``python -m tools.dlq`` against moto and a local HTTP partner: replay, marks, resumability, the
loop guard, the lake and bus targets, and listing by consumer, time window and partition key."""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from dlq_hydrate.handler import lambda_handler
from dlq_replay.store import ReplayStore
from signal_platform import codec
from signal_platform.errors import DlqStoreError
from tests.conftest import REGION, FakeLambdaContext, load_event
from tests.integration.test_dlq_support import (
    BUCKET,
    DlqCloud,
    Partner,
    batch_info,
    open_dlq_cloud,
    pipe_dlq_body,
    run_partner,
    sqs_event,
    sqs_record,
)
from tests.integration.test_s3_writer_support import create_ledger_table, without_attempt
from tools import dlq

pytestmark = pytest.mark.integration
API_KEY = "partner-key-for-tests"


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[DlqCloud]:
    monkeypatch.setenv("PARTNER_API_KEY", API_KEY)
    with open_dlq_cloud(monkeypatch) as opened:
        yield opened


@pytest.fixture
def partner() -> Iterator[Partner]:
    with run_partner() as running:
        yield running


def hydrate_partner_records(cloud: DlqCloud, count: int, *, keys: int = 3) -> list[str]:
    """``count`` records in the stream, failed by the partner Pipe and hydrated into the store."""
    cloud.create_stream(shards=1)
    for index in range(count):
        cloud.put(1, partition_key=f"user-{index % keys}")
    info = batch_info("shardId-000000000000", "1", str(count), count)
    context = FakeLambdaContext(function_name="dlq-hydrate", remaining_millis=120_000)
    answer = lambda_handler(sqs_event(sqs_record(pipe_dlq_body(info))), context)
    assert answer == {"batchItemFailures": []}
    return cloud.keys("dlq/partner/")


def replay(capsys: pytest.CaptureFixture[str], partner: Partner, *extra: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    status = dlq.main(
        [
            "--bucket",
            BUCKET,
            "replay",
            "--consumer",
            "partner",
            "--partner-url",
            partner.url,
            "--api-key-env",
            "PARTNER_API_KEY",
            "--no-progress",
            "--json",
            *extra,
        ]
    )
    summary: dict[str, Any] = codec.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return status, summary


def batch_number(body: bytes) -> int:
    return int(codec.loads(body)["detail"]["batch_id"], 16)


def delivered(partner: Partner) -> Counter[str]:
    """How often the partner ACCEPTED each record (by the record's batch id)."""
    return Counter(body["detail"]["batch_id"] for body in partner.bodies())


# --- replay to the partner ---------------------------------------------------------------------------


def test_replay_moves_successes_and_keeps_failures_with_their_count(
    cloud: DlqCloud, partner: Partner, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN 12 stored records and a partner that refuses every fourth one
    stored = hydrate_partner_records(cloud, 12)
    partner.fail = lambda body: batch_number(body) % 4 == 0
    # WHEN the partner's records are replayed
    status, summary = replay(capsys, partner)
    # THEN 9 are accepted once each and moved to replayed/, 3 stay in dlq/ with their attempt counted
    assert status == 1
    assert (summary["selected"], summary["replayed"], summary["failed"]) == (12, 9, 3)
    assert all(count == 1 for count in delivered(partner).values())
    assert len(delivered(partner)) == 9
    remaining = cloud.keys("dlq/partner/")
    assert len(remaining) == 3
    for key in remaining:
        document = cloud.read(key)
        assert document["replay"]["count"] == 1
        assert document["replay"]["last_error"] == "partner answered HTTP 503"
        assert batch_number(codec.dumps(document["record"]["data"])) % 4 == 0
    moved = cloud.keys("replayed/")
    assert sorted(moved) == sorted(f"replayed/{key}" for key in stored if key not in remaining)
    done = cloud.read(moved[0])
    assert done["replay"]["count"] == 1
    assert "replayed_at" in done["replay"]
    # AND every request carried the key and an idempotency key of the record
    headers = partner.received[0][0]
    assert headers["x-api-key"] == API_KEY
    assert headers["idempotency-key"].startswith("shardId-000000000000:")
    assert headers["content-type"] == "application/json"


def test_rerun_after_the_partner_recovers_replays_only_what_is_left(
    cloud: DlqCloud, partner: Partner, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a first run that left 3 of 12 records behind
    hydrate_partner_records(cloud, 12)
    partner.fail = lambda body: batch_number(body) % 4 == 0
    replay(capsys, partner)
    # WHEN the partner recovers and the same command runs again
    partner.fail = lambda _body: False
    status, summary = replay(capsys, partner)
    # THEN the 3 are replayed, and the partner has every record exactly once
    assert status == 0
    assert (summary["selected"], summary["replayed"], summary["failed"]) == (3, 3, 0)
    assert len(delivered(partner)) == 12
    assert set(delivered(partner).values()) == {1}
    assert cloud.keys("dlq/") == []


def test_interrupted_replay_resumes_without_duplicates(
    cloud: DlqCloud, partner: Partner, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a replay stopped after 5 of 15 objects
    hydrate_partner_records(cloud, 15)
    _, first = replay(capsys, partner, "--limit", "5")
    assert (first["replayed"], first["interrupted"]) == (5, True)
    # WHEN it is run again
    status, second = replay(capsys, partner)
    # THEN it continues with the other 10; no record reached the partner twice
    assert status == 0
    assert (second["selected"], second["replayed"]) == (10, 10)
    assert len(delivered(partner)) == 15
    assert set(delivered(partner).values()) == {1}


def test_crash_between_copy_and_delete_is_finished_not_resent(
    cloud: DlqCloud, partner: Partner, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a run whose first delete fails (the copy to replayed/ was made)
    hydrate_partner_records(cloud, 4)
    original = ReplayStore.delete
    failures = [1]

    def delete_once_failing(store: ReplayStore, key: str) -> None:
        if failures:
            failures.pop()
            raise DlqStoreError(f"DeleteObject {key} failed: InternalError")
        original(store, key)

    monkeypatch.setattr(ReplayStore, "delete", delete_once_failing)
    _, first = replay(capsys, partner)
    assert first["replayed"] == 4
    assert len(first["warnings"]) == 1
    assert len(cloud.keys("dlq/")) == 1
    # WHEN the command runs again
    _, second = replay(capsys, partner)
    # THEN the leftover is recognised as done and removed; the partner got nothing twice
    assert (second["already_done"], second["replayed"]) == (1, 0)
    assert cloud.keys("dlq/") == []
    assert len(cloud.keys("replayed/")) == 4
    assert set(delivered(partner).values()) == {1}


def test_loop_guard_skips_a_poison_record_after_max_replays(
    cloud: DlqCloud, partner: Partner, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN one stored record the partner always refuses
    hydrate_partner_records(cloud, 1)
    partner.fail = lambda _body: True
    # WHEN the replay runs four times with --max-replays 3
    outcomes = [replay(capsys, partner, "--max-replays", "3")[1] for _ in range(4)]
    # THEN three attempts are made, the fourth run skips it as poison, and it is still in dlq/
    assert [summary["failed"] for summary in outcomes] == [1, 1, 1, 0]
    assert outcomes[3]["poison"] == 1
    assert outcomes[3]["poison_keys"] == cloud.keys("dlq/partner/")
    assert len(partner.received) == 3
    assert cloud.read(cloud.keys("dlq/partner/")[0])["replay"]["count"] == 3


def test_dry_run_changes_nothing(
    cloud: DlqCloud, partner: Partner, capsys: pytest.CaptureFixture[str]
) -> None:
    stored = hydrate_partner_records(cloud, 3)
    status, summary = replay(capsys, partner, "--dry-run")
    assert (status, summary["would_replay"], summary["replayed"]) == (0, 3, 0)
    assert partner.received == []
    assert cloud.keys() == stored
    assert all(cloud.read(key)["replay"]["count"] == 0 for key in stored)


def test_rate_limit_spaces_the_requests(
    cloud: DlqCloud, partner: Partner, capsys: pytest.CaptureFixture[str]
) -> None:
    hydrate_partner_records(cloud, 6)
    started = time.monotonic()
    _, summary = replay(capsys, partner, "--rate", "20")
    assert summary["replayed"] == 6
    assert time.monotonic() - started >= 5 / 20


def test_replay_throughput_without_a_rate_limit(
    cloud: DlqCloud, partner: Partner, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN 200 stored records WHEN they are replayed with no rate limit
    hydrate_partner_records(cloud, 200, keys=20)
    _, summary = replay(capsys, partner)
    # THEN all arrive once; the rate is printed for the record (moto S3: 5 calls per object)
    assert summary["replayed"] == 200
    assert len(delivered(partner)) == 200
    rate = 200 / summary["seconds"]
    with capsys.disabled():
        sys.stdout.write(f"\nreplay throughput (moto S3 in-process, local partner): {rate:.0f} records/s\n")


# --- other targets -----------------------------------------------------------------------------------


def test_lake_replay_runs_the_s3_writer_for_the_record(
    cloud: DlqCloud, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN two records the lake Pipe failed, hydrated under "lake", and a lake bucket
    cloud.create_stream(shards=1)
    cloud.put(2, partition_key="user-5")
    context = FakeLambdaContext(function_name="dlq-hydrate", remaining_millis=120_000)
    info = batch_info("shardId-000000000000", "1", "2", 2)
    lambda_handler(
        sqs_event(sqs_record(pipe_dlq_body(info, "signals-lake"), queue="signals-lake-pipe-dlq")), context
    )
    cloud.s3.create_bucket(Bucket="signals-lake", CreateBucketConfiguration={"LocationConstraint": REGION})
    create_ledger_table("signals-lake-ledger")
    monkeypatch.setenv("LAKE_BUCKET_NAME", "not-this-bucket")  # --lake-bucket wins
    monkeypatch.setenv("LAKE_LEDGER_TABLE_NAME", "not-this-table")  # --lake-ledger-table wins
    # WHEN the lake consumer's records are replayed
    capsys.readouterr()
    status = dlq.main(
        [
            "--bucket",
            BUCKET,
            "replay",
            "--consumer",
            "lake",
            "--lake-bucket",
            "signals-lake",
            "--lake-ledger-table",
            "signals-lake-ledger",
            "--no-progress",
            "--json",
        ]
    )
    summary = codec.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # THEN the S3 writer wrote one lake object per record, named after its shard and sequence number
    assert (status, summary["replayed"]) == (0, 2)
    assert os.environ["LAKE_BUCKET_NAME"] == "not-this-bucket"  # settings built in code, env untouched
    lake_keys = [item["Key"] for item in cloud.s3.list_objects_v2(Bucket="signals-lake").get("Contents", [])]
    assert len(lake_keys) == 2
    assert all(key.startswith("events/event_type=page_view/dt=2026-11-26/hour=10/") for key in lake_keys)
    assert sorted(without_attempt(key).rsplit("/", 1)[1] for key in lake_keys) == [
        "shardId-000000000000-1-1.json.gz",
        "shardId-000000000000-2-2.json.gz",
    ]


def test_rule_target_event_is_put_back_on_the_bus_of_its_rule(
    cloud: DlqCloud, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the sample rule-target DLQ message hydrated, and its bus with a rule tapping into SQS
    sample = load_event("dlq-hydrate-rule-target-dlq.json")
    context = FakeLambdaContext(function_name="dlq-hydrate", remaining_millis=120_000)
    lambda_handler(sample, context)
    events = cloud.session.client("events")
    events.create_event_bus(Name="signals-ingress")
    tap = cloud.sqs.create_queue(QueueName="tap")["QueueUrl"]
    tap_arn = cloud.sqs.get_queue_attributes(QueueUrl=tap, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name="all", EventBusName="signals-ingress", EventPattern='{"source": ["signals.ingest"]}')
    events.put_targets(Rule="all", EventBusName="signals-ingress", Targets=[{"Id": "tap", "Arn": tap_arn}])
    # WHEN the enrichment consumer's events are replayed
    capsys.readouterr()
    status = dlq.main(["--bucket", BUCKET, "replay", "--consumer", "enrichment", "--no-progress", "--json"])
    summary = codec.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # THEN the same event (detail, type, source) is on the bus again
    assert (status, summary["replayed"]) == (0, 1)
    messages = cloud.sqs.receive_message(QueueUrl=tap, MaxNumberOfMessages=10)["Messages"]
    replayed = codec.loads(messages[0]["Body"])
    original = codec.loads(sample["Records"][0]["body"])
    assert (replayed["detail"], replayed["detail-type"], replayed["source"]) == (
        original["detail"],
        original["detail-type"],
        original["source"],
    )
    assert cloud.keys("dlq/") == []


# --- list and show -----------------------------------------------------------------------------------


def run_list(capsys: pytest.CaptureFixture[str], *extra: str) -> list[str]:
    capsys.readouterr()
    assert dlq.main(["--bucket", BUCKET, "list", *extra]) == 0
    return capsys.readouterr().out.split()


def test_list_filters_by_consumer_window_and_partition_key(
    cloud: DlqCloud, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN records of two partition keys, stored at 10:15 UTC, and one rule-target event at 10:14
    cloud.create_stream(shards=1)
    seeded = cloud.seed("shardId-000000000000", list(range(1, 7)), partition_key=lambda i: f"user/{i % 2}")
    context = FakeLambdaContext(function_name="dlq-hydrate", remaining_millis=120_000)
    lambda_handler(
        sqs_event(sqs_record(pipe_dlq_body(batch_info("shardId-000000000000", seeded[0], seeded[-1], 6)))),
        context,
    )
    lambda_handler(load_event("dlq-hydrate-rule-target-dlq.json"), context)
    # THEN each filter narrows the listing as expected
    assert len(run_list(capsys)) == 7
    assert len(run_list(capsys, "--consumer", "partner")) == 6
    assert len(run_list(capsys, "--consumer", "partner", "--partition-key", "user/1")) == 3
    assert len(run_list(capsys, "--since", "2026-11-26T10", "--until", "2026-11-26T10")) == 7
    assert run_list(capsys, "--since", "2026-11-26T11") == []
    assert run_list(capsys, "--until", "2026-11-26T09") == []
    assert len(run_list(capsys, "--since", "2026-11-01", "--until", "2026-11-30")) == 7
    assert len(run_list(capsys, "--since", "2025-01-01")) == 7
    # AND show prints the stored object
    key = run_list(capsys, "--consumer", "enrichment")[0]
    capsys.readouterr()
    assert dlq.main(["--bucket", BUCKET, "show", key]) == 0
    assert codec.loads(capsys.readouterr().out)["event"]["id"] == "6a7e8feb-b491-4cf7-a9f1-bf3703467718"


def test_list_other_areas(cloud: DlqCloud, capsys: pytest.CaptureFixture[str]) -> None:
    cloud.create_stream(shards=1)
    cloud.seed("shardId-000000000000", [5, 6])
    context = FakeLambdaContext(function_name="dlq-hydrate", remaining_millis=120_000)
    info = batch_info("shardId-000000000000", "1", "6", 6)
    lambda_handler(
        sqs_event(sqs_record(pipe_dlq_body(info)), sqs_record("garbage", message_id="odd")), context
    )
    assert run_list(capsys, "--area", "unrecoverable", "--consumer", "partner") == [
        "unrecoverable/partner/2026/11/26/shardId-000000000000-1-6.json"
    ]
    assert run_list(capsys, "--area", "unparsed", "--since", "2026-11-26") == ["unparsed/2026/11/26/odd.json"]
    assert run_list(capsys, "--area", "unparsed", "--since", "2026-11-27") == []
