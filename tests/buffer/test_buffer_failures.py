"""The front-door buffer's failure paths in the local cloud: its alarms go to ALARM when their
failure happens, records that age out of the batcher's mapping are dead-lettered, stored by the
DLQ-hydrate and replayed by the runbook's recovery into the lake exactly once, and a record that is
not a signal batch is set aside at once while the traffic behind it goes on."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Final

import pytest

from localcloud import scenario
from localcloud.cloud import LocalCloud
from localcloud.faults import RecordAging, SdkFault, TargetFault
from localcloud.recovery import recover
from localcloud.scenario import Scenario

FEW = Scenario(events=40, per_request=1, invalid_share=0.0, resend_share=0.0, seed=9, sources=("web-shop",))
DAY_AND_AN_HOUR = 25 * 3600.0  # past the mapping's MaximumRecordAgeInSeconds (one day)
# The alarms each drill below sends to ALARM (tests/regions/test_alarm_drills.py checks every
# alarm of the template is in one drill or another).
BUFFER_DRILLS: Final = {
    "batcher fails": ("BatcherErrorsAlarm",),
    "batcher behind the stream": ("BatcherIteratorAgeAlarm",),
    "records age out": ("BufferDlqMessagesSentAlarm",),
    "dead letter nobody consumes": ("BufferDlqAlarm", "BufferDlqMessagesSentAlarm"),
    "malformed record set aside": ("BufferDlqMessagesSentAlarm",),
    "malformed record held, BufferDlq refusing": ("BatcherHeldRecordsAlarm",),
}


def _let_time_pass(cloud: LocalCloud, seconds: float) -> None:
    deadline = cloud.clock.now() + seconds
    cloud.settle(horizon=seconds)
    cloud.wait(max(0.0, deadline - cloud.clock.now()))
    cloud.settle(horizon=0.0)
    cloud.primary.cloudwatch.evaluate()


def _alarmed(cloud: LocalCloud, alarm: str, after: float) -> bool:
    went = cloud.primary.cloudwatch.first_alarm(alarm)
    return went is not None and went > after


def test_a_failing_batcher_sends_its_errors_alarm_to_alarm(cloud: LocalCloud) -> None:
    started = cloud.clock.now()
    cloud.faults.add(TargetFault("BatcherFunction", times=3))
    outcome = scenario.run(cloud, FEW, write_keys={})
    _let_time_pass(cloud, 600.0)
    assert outcome.settled
    assert all(_alarmed(cloud, alarm, started) for alarm in BUFFER_DRILLS["batcher fails"])
    assert not _alarmed(cloud, "BufferDlqMessagesSentAlarm", started)
    assert set(outcome.report.census.lake) == set(outcome.report.ledger.accepted)


def test_a_batcher_behind_the_stream_sends_its_iterator_age_alarm_to_alarm(cloud: LocalCloud) -> None:
    started = cloud.clock.now()
    cloud.faults.add(RecordAging("BufferStream", 3600.0))  # records an hour behind the tip
    outcome = scenario.run(cloud, FEW, write_keys={})
    _let_time_pass(cloud, 600.0)
    assert outcome.settled
    assert all(_alarmed(cloud, alarm, started) for alarm in BUFFER_DRILLS["batcher behind the stream"])


def test_records_that_age_out_are_stored_alarmed_and_replayed_into_the_lake_exactly_once(
    cloud: LocalCloud,
) -> None:
    # GIVEN buffer records older than the mapping's one-day limit when the batcher first reads them
    started = cloud.clock.now()
    cloud.faults.add(RecordAging("BufferStream", DAY_AND_AN_HOUR))

    # WHEN one-event requests are accepted
    outcome = scenario.run(cloud, replace(FEW, events=30), write_keys={})
    _let_time_pass(cloud, 120.0)
    accepted = set(outcome.report.ledger.accepted)
    census = cloud.report(outcome.report.ledger).census

    # THEN none reached the lake, every one is in the DLQ store (BufferDlq, hydrated), and it alarmed
    assert accepted and not census.lake
    assert census.dead_lettered("BufferDlq") == accepted
    assert all(_alarmed(cloud, alarm, started) for alarm in BUFFER_DRILLS["records age out"])

    # WHEN the runbook's recovery replays the store (the records back onto the buffer stream)
    recovery = recover(cloud)
    after = cloud.report(outcome.report.ledger).census

    # THEN every accepted event is in the lake exactly once
    assert recovery.ok, recovery.output
    assert recovery.replays == {"buffer": 0}
    assert set(after.lake) == accepted
    assert all(copies == 1 for copies in after.lake.values())


def test_a_dead_letter_nobody_consumes_sends_the_queue_alarm_to_alarm(cloud: LocalCloud) -> None:
    # GIVEN the DLQ-hydrate not consuming (as in an edge-only Region) and records that age out
    started = cloud.clock.now()
    for mapping in cloud.sqs_mappings:
        mapping.spec = replace(mapping.spec, enabled=False)
    cloud.faults.add(RecordAging("BufferStream", DAY_AND_AN_HOUR))

    # WHEN requests are accepted and a few minutes pass
    scenario.run(cloud, replace(FEW, events=5), write_keys={})
    _let_time_pass(cloud, 300.0)

    # THEN the on-failure record waits in BufferDlq, naming the range, and both queue alarms fired
    queue = cloud.stack.get("BufferDlq").ref
    messages = cloud.services.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
    bodies = [json.loads(message["Body"]) for message in messages["Messages"]]
    assert {body["requestContext"]["condition"] for body in bodies} == {"MaximumRecordAgeExceeded"}
    assert sum(body["KinesisBatchInfo"]["batchSize"] for body in bodies) == 5
    assert all(_alarmed(cloud, alarm, started) for alarm in BUFFER_DRILLS["dead letter nobody consumes"])


def test_what_waits_in_the_buffer_dlq_counts_as_dead_lettered(cloud: LocalCloud) -> None:
    # GIVEN the DLQ-hydrate not consuming and buffer records that age out
    for mapping in cloud.sqs_mappings:
        mapping.spec = replace(mapping.spec, enabled=False)
    cloud.faults.add(RecordAging("BufferStream", DAY_AND_AN_HOUR))

    # WHEN requests are accepted and their on-failure records wait in BufferDlq
    outcome = scenario.run(cloud, replace(FEW, events=5), write_keys={})
    _let_time_pass(cloud, 300.0)
    accepted = set(outcome.report.ledger.accepted)
    census = cloud.census()

    # THEN the census counts them as dead-lettered upstream of every consumer (the accounting and the
    # recovery's check of what is still waiting both read this), not as lost
    assert accepted and census.dead_lettered("BufferDlq") == accepted
    assert census.dlq_scope["BufferDlq"] is None


def _malformed(name: str) -> bytes:
    """A record no validator writes (another major version of the contract), naming one signal."""
    signal = {"event_id": name, "event_type": "page_view"}
    return json.dumps({"schema_version": "2-0-0", "batch_id": name, "signals": [signal]}).encode()


@pytest.mark.parametrize(
    "refusals", [0, 1, 3], ids=["set-aside", "set-aside-after-a-refusal", "set-aside-after-refusals"]
)
def test_a_malformed_record_is_set_aside_at_once_and_the_traffic_behind_it_reaches_the_lake(
    cloud: LocalCloud, refusals: int
) -> None:
    # GIVEN a record that is not a signal batch put on every shard of the buffer stream after the
    # tenth of 40 one-event requests, so good records follow it on its shard (and BufferDlq refusing
    # the batcher's first ``refusals`` messages)
    started = cloud.clock.now()
    cloud.faults.add(
        SdkFault("sqs", "send_message", times=refusals, code="AccessDenied", function="BatcherFunction")
    )
    kinesis, stream = cloud.services.client("kinesis"), str(cloud.stack.get("BufferStream").ref)
    shards = kinesis.list_shards(StreamName=stream)["Shards"]
    bad: dict[str, str] = {}
    sent = 0

    def put_malformed(_: int) -> None:
        nonlocal sent
        sent += 1
        if sent == 10:
            for shard in shards:
                name = f"malformed-{shard['ShardId']}"
                put: dict[str, Any] = kinesis.put_record(
                    StreamName=stream,
                    Data=_malformed(name),
                    PartitionKey=name,
                    ExplicitHashKey=shard["HashKeyRange"]["StartingHashKey"],
                )
                bad[name] = put["ShardId"]

    # WHEN the requests are sent and the pipeline settles
    outcome = scenario.run(cloud, FEW, write_keys={}, on_request=put_malformed)
    accepted = set(outcome.report.ledger.accepted)

    # THEN every accepted event is in the lake once, well before the mapping's one-day age limit (a
    # refused record was held and retried: nothing behind it went on without it)
    assert sorted(bad.values()) == sorted(shard["ShardId"] for shard in shards)
    assert outcome.settled and cloud.clock.now() - started < 600.0
    assert accepted and set(outcome.report.census.lake) == accepted
    assert all(copies == 1 for copies in outcome.report.census.lake.values())
    assert all(balance.lost == () for balance in outcome.report.balances)
    assert _batcher_metric(cloud, "MalformedBufferRecordsHeld") == refusals
    # AND each bad record was set aside on BufferDlq and stored by the DLQ-hydrate, nothing else
    census = outcome.report.census
    assert set(census.hydrated.get("BufferDlq", ())) == set(bad)
    assert not census.unrecoverable and not census.unparsed and not census.dropped
    assert _batcher_metric(cloud, "MalformedBufferRecords") == len(bad) + refusals
    _let_time_pass(cloud, 60.0)
    assert all(_alarmed(cloud, alarm, started) for alarm in BUFFER_DRILLS["malformed record set aside"])
    assert not _alarmed(cloud, "BatcherIteratorAgeAlarm", started)
    # AND set-asides refused again on retry page as such; one hold alone (as when the deadline comes
    # before SendMessage) does not
    held = BUFFER_DRILLS["malformed record held, BufferDlq refusing"]
    assert all(_alarmed(cloud, alarm, started) == (refusals > 1) for alarm in held)

    # WHEN the runbook's recovery replays the DLQ store
    recovery = recover(cloud)

    # THEN the set-aside records are kept as the evidence, not sent round again as new objects
    assert recovery.ok, recovery.output
    assert recovery.output.count("kept: ") == len(bad)
    assert set(cloud.census().hydrated.get("BufferDlq", ())) == set(bad)


def _batcher_metric(cloud: LocalCloud, name: str) -> float:
    return sum(cloud.primary.cloudwatch.values("CustomerSignals", name, {"service": "batcher"}))
