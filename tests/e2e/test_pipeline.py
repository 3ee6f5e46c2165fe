"""End to end: client -> validator -> ingress bus -> enrichment -> data-platform bus -> stream -> Pipes ->
S3 writer (lake) and the partner API, with the real handlers, and every failure path ending in a DLQ."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from localcloud import scenario
from localcloud.cloud import LocalCloud
from localcloud.eventbridge import STREAM_THROTTLED
from localcloud.faults import RecordAging, SdkFault, TargetFault
from localcloud.recovery import RecoveryError, recover
from localcloud.scenario import Outcome, Scenario
from localcloud.traffic import TrafficGenerator, TrafficRequest
from signal_platform.schema_registry import SchemaRegistry
from tools import dlq

SMALL = Scenario(
    events=120, per_request=40, invalid_share=0.1, resend_share=0.0, seed=11, sources=("web-shop", "ios-app")
)
LAKE_KEY = re.compile(
    r"events/event_type=[a-z_]+/dt=\d{4}-\d{2}-\d{2}/hour=\d{2}/shardId-\d{12}-\d+-\d+-[0-9a-f]{16}\.json\.gz"
)


def _run(cloud: LocalCloud, write_keys: dict[str, str], plan: Scenario = SMALL, **kwargs: object) -> Outcome:
    outcome = scenario.run(cloud, plan, write_keys=write_keys, **kwargs)  # type: ignore[arg-type]
    assert outcome.settled, "the pipeline did not go quiet"
    return outcome


def _no_loss(outcome: Outcome) -> None:
    report = outcome.report
    for consumer in report.balances:
        assert consumer.lost == (), f"{consumer.consumer} lost {len(consumer.lost)}: {consumer.lost[:3]}"
        assert consumer.unexpected == (), (
            f"{consumer.consumer} holds signals never accepted: {consumer.unexpected[:3]}"
        )
    assert report.ledger.rejected_without_reason == 0
    assert report.ledger.reason_mismatches == []
    assert not report.census.dropped and not report.census.dlq_unreadable


def test_every_accepted_event_reaches_the_lake_and_the_partner_exactly_once(
    cloud: LocalCloud, write_keys: dict[str, str]
) -> None:
    outcome = _run(cloud, write_keys)
    report = outcome.report
    _no_loss(outcome)
    assert len(report.ledger.accepted) > 90
    assert len(report.ledger.rejected) > 0
    assert {b.sink: b.in_sink for b in report.balances} == {
        "lake": len(report.ledger.accepted),
        "partner": len(report.ledger.accepted),
    }
    assert all(b.duplicated == () for b in report.balances)
    assert sum(report.census.dlq_messages.values()) == 0


def test_lake_objects_are_gzip_ndjson_under_hive_partitions(
    cloud: LocalCloud, write_keys: dict[str, str]
) -> None:
    _run(cloud, write_keys, replace(SMALL, events=30))
    writer = cloud.function_with_env("LAKE_BUCKET_NAME")
    s3 = cloud.services.client("s3")
    bucket = writer.environment["LAKE_BUCKET_NAME"]
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix="events/")["Contents"]]
    assert keys and all(LAKE_KEY.fullmatch(key) for key in keys), keys[:3]
    body = s3.get_object(Bucket=bucket, Key=keys[0])
    lines = gzip.decompress(body["Body"].read()).decode().splitlines()
    rows = [json.loads(line) for line in lines]
    assert all(row["event_type"] in keys[0] for row in rows)
    assert all(row["partition_key"] and row["derived_at"] for row in rows)


def test_identical_resends_are_accepted_again_but_stored_once(
    cloud: LocalCloud, write_keys: dict[str, str]
) -> None:
    outcome = _run(cloud, write_keys, replace(SMALL, resend_share=1.0))
    report = outcome.report
    _no_loss(outcome)
    assert sum(report.ledger.accepted.values()) == 2 * len(report.ledger.accepted)
    assert report.lake is not None and report.lake.duplicated == ()
    assert report.duplicates_suppressed >= len(report.ledger.accepted)


def test_an_enrichment_outage_ends_in_its_failure_dlq_with_nothing_lost(
    cloud: LocalCloud, write_keys: dict[str, str]
) -> None:
    cloud.faults.add(TargetFault("EnrichmentFunction", window=(0, 100_000)))
    outcome = _run(cloud, write_keys)
    _no_loss(outcome)
    census = outcome.report.census
    assert census.dead_lettered("EnrichmentFailureDlq") == set(outcome.report.ledger.accepted)
    assert len(census.lake) == 0


def test_a_stream_outage_ends_in_the_stream_target_dlq_after_the_rule_retry_policy(
    cloud: LocalCloud, write_keys: dict[str, str]
) -> None:
    cloud.faults.add(TargetFault("StreamRule/signal-stream", window=(0, 10**9)))
    outcome = _run(cloud, write_keys, replace(SMALL, events=40))
    _no_loss(outcome)
    assert outcome.report.census.dead_lettered("StreamTargetDlq") == set(outcome.report.ledger.accepted)


def test_a_throttled_stream_delays_batches_in_the_rule_retries_and_loses_none(
    cloud: LocalCloud, write_keys: dict[str, str]
) -> None:
    # GIVEN a provisioned stream refusing every put for its first 10 minutes (too few shards)
    cloud.faults.add(TargetFault("SignalStream", error=STREAM_THROTTLED, window=(0, 600)))

    # WHEN traffic arrives and the pipeline settles
    outcome = _run(cloud, write_keys, replace(SMALL, events=40))

    # THEN the rule's retries delivered every batch once: everything in the lake, nothing dead-lettered
    _no_loss(outcome)
    census = outcome.report.census
    assert cloud.faults.fired["SignalStream:error"] > 0
    assert set(census.lake) == set(outcome.report.ledger.accepted)
    assert sum(census.dlq_messages.values()) == 0


def _first_accepted(requests: list[TrafficRequest]) -> str:
    """The event id of the first event the validator will accept (a poison record for a test)."""
    return next(
        item.event["event_id"]
        for request in requests
        for item in request.events
        if item.expected == "accepted"
    )


def test_a_poison_record_is_isolated_by_bisect_and_dead_lettered_alone(
    cloud: LocalCloud, write_keys: dict[str, str]
) -> None:
    requests = scenario.plan_traffic(SMALL)
    poison = _first_accepted(requests)
    cloud.faults.add(TargetFault("S3WriterFunction", event_ids=frozenset({poison})))
    outcome = _run(cloud, write_keys, requests=requests)
    _no_loss(outcome)
    census = outcome.report.census
    dead = census.dead_lettered("LakePipeDlq")
    assert poison in dead and poison not in census.lake
    # one record (the poison's whole enriched batch, its signals share a partition key) was dead-lettered;
    # the rest of the stream went on to the lake
    assert set(census.lake) | dead == set(outcome.report.ledger.accepted)
    assert not set(census.lake) & dead


def test_throttled_put_events_make_clients_resend_and_nothing_is_lost(
    cloud: LocalCloud, write_keys: dict[str, str]
) -> None:
    # 40 events of the registry's many types make one PutEvents call per attempt (the default groups a
    # request's types together): 8 failed calls outlast the publisher's 8 attempts once, so the client
    # gets one 429 and resends.
    cloud.faults.add(SdkFault("events", "put_events", times=8, function="ValidatorFunction"))
    outcome = _run(cloud, write_keys, replace(SMALL, events=40, per_request=40))
    _no_loss(outcome)
    assert outcome.report.ledger.statuses[429] == 1
    assert outcome.report.ledger.resent > 0


def test_records_older_than_the_pipes_maximum_age_go_to_both_pipe_dlqs(
    cloud: LocalCloud, write_keys: dict[str, str]
) -> None:
    cloud.faults.add(RecordAging("SignalStream", seconds=10**6))
    outcome = _run(cloud, write_keys, replace(SMALL, events=40))
    _no_loss(outcome)
    census = outcome.report.census
    accepted = set(outcome.report.ledger.accepted)
    assert census.dead_lettered("LakePipeDlq") == accepted == census.dead_lettered("PartnerPipeDlq")


def test_a_partner_that_rejects_a_record_gets_the_rest_and_the_record_is_dead_lettered(
    cloud: LocalCloud, write_keys: dict[str, str]
) -> None:
    requests = scenario.plan_traffic(SMALL)
    poison = _first_accepted(requests)
    cloud.faults.add(TargetFault("PartnerApiDestination", event_ids=frozenset({poison})))
    outcome = _run(cloud, write_keys, requests=requests)
    _no_loss(outcome)
    census = outcome.report.census
    assert poison in census.dead_lettered("PartnerPipeDlq")
    assert poison not in census.partner and poison in census.lake


def test_the_hydrate_stores_enrichment_failures_as_events_not_as_unparsed_messages(
    cloud: LocalCloud, write_keys: dict[str, str]
) -> None:
    cloud.faults.add(TargetFault("EnrichmentFunction", window=(0, 100_000)))
    outcome = _run(cloud, write_keys, replace(SMALL, events=20, per_request=20, sources=("web-shop",)))
    _no_loss(outcome)
    assert outcome.report.census.unparsed["EnrichmentFailureDlq"] == 0


# ---------------------------------------------------------------------------- duplicate windows, closed
def _many_users(events: int) -> list[TrafficRequest]:
    """One request of valid events from many users (a server-side source), so signals of one type spread
    over many partition keys, records and shards."""
    generator = TrafficGenerator(SchemaRegistry(), seed=5)
    return [TrafficRequest("web-shop", list(generator.mix("web-shop", datetime.now(UTC), events, 0.0)))]


def test_a_writer_timeout_after_its_writes_leaves_no_duplicate_in_the_lake(
    cloud: LocalCloud, write_keys: dict[str, str]
) -> None:
    # records of many users: an object (event type x hour x shard) gathers several records, so the
    # halves of a bisected retry are written under other keys than the first, timed-out attempt
    cloud.faults.add(TargetFault("S3WriterFunction", times=1, mode="timeout"))
    outcome = _run(cloud, write_keys, replace(SMALL, sources=("web-shop",)), requests=_many_users(80))
    _no_loss(outcome)
    assert outcome.report.lake is not None and outcome.report.lake.duplicated == ()


def test_an_enrichment_retry_after_a_partial_put_events_leaves_no_duplicate_in_the_lake(
    cloud: LocalCloud, write_keys: dict[str, str]
) -> None:
    cloud.faults.add(
        SdkFault("events", "put_events", times=30, per_entry=True, function="EnrichmentFunction")
    )
    outcome = _run(cloud, write_keys, replace(SMALL, sources=("web-shop",)), requests=_many_users(40))
    _no_loss(outcome)
    assert outcome.report.lake is not None and outcome.report.lake.duplicated == ()


def test_a_partner_outage_is_hydrated_then_replayed_and_nothing_is_lost(
    cloud: LocalCloud, write_keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a partner that refuses every request while the events flow
    assert cloud.partner is not None
    cloud.partner.failing = lambda body: True
    outcome = _run(cloud, write_keys)
    accepted = set(outcome.report.ledger.accepted)
    # THEN every accepted signal is in the lake, and dead-lettered for the partner and hydrated
    assert accepted <= set(outcome.report.census.lake)
    assert outcome.report.census.dead_lettered("PartnerPipeDlq") == accepted
    assert not cloud.partner.event_ids()
    # WHEN the partner recovers and the DLQ store is replayed to it with the replay tool
    cloud.partner.failing = lambda body: False
    bucket = cloud.function_with_env("DLQ_STORE_BUCKET_NAME").environment["DLQ_STORE_BUCKET_NAME"]
    monkeypatch.setenv("PARTNER_KEY", cloud.partner.api_key or "")
    replay = [
        *("--bucket", bucket, "replay", "--consumer", "partner", "--target", "http"),
        *("--partner-url", cloud.partner.url, "--api-key-env", "PARTNER_KEY", "--no-progress"),
    ]
    exit_code = dlq.main(replay)
    # THEN the partner holds every accepted signal exactly once, and a second replay sends nothing
    assert exit_code == 0
    received = cloud.partner.event_ids()
    assert set(received) == accepted
    assert all(times == 1 for times in received.values())
    assert dlq.main(replay) == 0
    assert cloud.partner.event_ids() == received


def test_the_runbook_recovery_after_a_lake_and_hydrate_outage_leaves_every_event_in_the_lake_once(
    cloud: LocalCloud, write_keys: dict[str, str]
) -> None:
    # GIVEN the lake writer and the DLQ-hydrate both down for longer than every retry
    outage = (0.0, 300_000.0)
    cloud.faults.add(
        TargetFault("S3WriterFunction", window=outage), TargetFault("DlqHydrateFunction", window=outage)
    )
    outcome = _run(cloud, write_keys)
    accepted, census = set(outcome.report.ledger.accepted), outcome.report.census
    # THEN nothing reached the lake, and the Pipe's DLQ messages sit, unhydrated, in the hydrate's own DLQ
    assert not census.lake and not census.hydrated
    assert census.dead_lettered_for("LakePipe") == accepted
    stranded = census.dlq_messages["DlqHydrateFailureDlq"]
    assert stranded > 0
    # WHEN the runbook's recovery runs: faults gone, DLQ moved back, hydrated, replayed with the tool
    recovery = recover(cloud)
    after = cloud.report(outcome.report.ledger).census
    # THEN every message was moved back and hydrated, the lake replay sent everything, and the lake
    # holds every accepted event exactly once, with no DLQ or store object left waiting
    assert recovery.ok, recovery.output
    assert recovery.moved == {"DlqHydrateFailureDlq": stranded}
    assert recovery.replays == {"lake": 0}
    assert set(after.lake) == accepted
    assert all(copies == 1 for copies in after.lake.values())
    assert set(after.replayed) == accepted
    assert not any(after.dlq.values()) and not any(after.hydrated.values())
    assert set(after.partner) == accepted


def test_the_recovery_refuses_stored_records_of_a_consumer_it_has_no_target_for(cloud: LocalCloud) -> None:
    bucket = cloud.function_with_env("DLQ_STORE_BUCKET_NAME").environment["DLQ_STORE_BUCKET_NAME"]
    key = "dlq/mystery/2026/11/26/10/user%2F1/20261126T100000000Z-1.json"
    cloud.services.client("s3").put_object(Bucket=bucket, Key=key, Body=b"{}")
    with pytest.raises(RecoveryError, match=r"no target for 'mystery'"):
        recover(cloud)


def _stream_records(cloud: LocalCloud) -> list[dict[str, Any]]:
    """Every record of the signal stream, in shard order (what the Pipes read)."""
    kinesis = cloud.services.client("kinesis")
    (stream,) = kinesis.list_streams()["StreamNames"]
    records: list[dict[str, Any]] = []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            answer = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            if not answer.get("Records"):
                break
            records.extend({**record, "StreamName": stream} for record in answer["Records"])
            iterator = answer.get("NextShardIterator")
    return records


def _batch_ids(records: list[dict[str, Any]]) -> Counter[str]:
    return Counter(json.loads(bytes(record["Data"]))["detail"]["batch_id"] for record in records)


def test_enriched_entries_put_again_by_a_retried_enrichment_are_stored_once(
    cloud: LocalCloud, write_keys: dict[str, str]
) -> None:
    # GIVEN a run whose records are in the lake, then an enrichment retry that re-puts entries which
    # had got through (stopped, or its idempotency save failed, after PutEvents succeeded): the same
    # batch ids with another enriched_at, through the data-platform bus, its rule and the stream
    outcome = _run(cloud, write_keys, replace(SMALL, sources=("web-shop",)), requests=_many_users(40))
    records = _stream_records(cloud)
    bus = cloud.function_with_env("DATA_PLATFORM_BUS_NAME").environment["DATA_PLATFORM_BUS_NAME"]
    entries = []
    for record in records[1::2]:
        event = json.loads(bytes(record["Data"]))
        detail = {**event["detail"], "enriched_at": "2030-01-01T00:00:00.000Z"}
        entries.append(
            {"Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(detail)}
        )
    events = cloud.services.client("events")
    for start in range(0, len(entries), 10):
        answer = events.put_events(Entries=[{**e, "EventBusName": bus} for e in entries[start : start + 10]])
        assert answer["FailedEntryCount"] == 0
    assert cloud.settle(timeout=60)
    # THEN the re-put entries reached the stream, and the lake holds every accepted event once
    assert len(_stream_records(cloud)) == len(records) + len(entries)
    after = cloud.report(outcome.report.ledger)
    assert after.lake is not None and after.lake.duplicated == () and after.lake.lost == ()
    assert set(after.census.lake) == set(outcome.report.ledger.accepted)


def test_the_same_enriched_batch_put_on_the_stream_twice_is_stored_once(
    cloud: LocalCloud, write_keys: dict[str, str]
) -> None:
    # GIVEN a run whose records are in the lake, then the stream target delivering some of them again
    # (EventBridge's at-least-once delivery: the same event, another stream record)
    outcome = _run(cloud, write_keys, replace(SMALL, sources=("web-shop",)), requests=_many_users(40))
    records = _stream_records(cloud)
    kinesis = cloud.services.client("kinesis")
    for record in records[::2]:
        kinesis.put_record(
            StreamName=record["StreamName"], Data=bytes(record["Data"]), PartitionKey=record["PartitionKey"]
        )
    assert cloud.settle(timeout=60)
    # THEN the copies reached the writer, which skipped them: every accepted event once in the lake
    assert len(_stream_records(cloud)) == len(records) + len(records[::2])
    after = cloud.report(outcome.report.ledger)
    assert after.lake is not None and after.lake.duplicated == () and after.lake.lost == ()
    assert set(after.census.lake) == set(outcome.report.ledger.accepted)


def test_a_failed_lake_put_is_cleaned_up_and_the_retry_stores_each_event_once(
    cloud: LocalCloud, write_keys: dict[str, str]
) -> None:
    # GIVEN S3 refusing the writer's first PutObject (the other objects of that batch were written)
    cloud.faults.add(SdkFault("s3", "put_object", times=1, code="SlowDown", function="S3WriterFunction"))
    outcome = _run(cloud, write_keys, replace(SMALL, sources=("web-shop",)), requests=_many_users(80))
    # THEN the failed attempt's objects were removed and the retry wrote every accepted event once
    assert cloud.faults.fired["s3.put_object"] == 1
    _no_loss(outcome)
    assert outcome.report.lake is not None and outcome.report.lake.duplicated == ()
    assert set(outcome.report.census.lake) == set(outcome.report.ledger.accepted)
