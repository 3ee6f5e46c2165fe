"""Every alarm of template.yaml goes to ALARM when its failure happens, in the local cloud.

Each scenario produces one way ingestion or delivery fails (a fault, an outage, a poison record, a
deleted queue, a hydrate that is not consuming) and names the alarms that must fire for it; the
local CloudWatch evaluates the template's alarms from what the functions print (EMF) and what the
emulators count, on the cloud's clock. A clean run fires none, and every alarm of the template has
a scenario.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from localcloud.eventbridge import STREAM_THROTTLED
from localcloud.faults import Fault, RecordAging, SdkFault, TargetFault
from localcloud.pipes import RETRY_CONDITION
from localcloud.services import iso_millis
from localcloud.traffic import TrafficGenerator
from signal_platform import codec
from signal_platform.schema_registry import SchemaRegistry

MINUTE = 60.0
HALF_A_DAY = 13 * 3600.0  # past PipeDlqAgeAlarmPercent (50 %) of the dev stack's 24 h window


@dataclass
class Drive:
    """A test's hands on the cloud: requests, faults, stores, and what to undo afterwards."""

    cloud: LocalCloud
    traffic: TrafficGenerator
    key: str = ""
    undo: list[Callable[[], object]] = field(default_factory=list)

    def fault(self, *faults: Fault) -> None:
        self.cloud.faults.add(*faults)

    def post(self, events: int = 3) -> int:
        """One request of valid events; its status."""
        if not self.key:
            self.key = self.cloud.register_source("alarm-drill")
        now = datetime.now(UTC)
        body = codec.dumps({"events": [self.traffic.valid("alarm-drill", now) for _ in range(events)]})
        headers = {"content-type": "application/json", "x-api-key": self.key}
        status = self.cloud.api.request("POST", "/v1/events", body, headers).status
        self.cloud.pump()
        return status

    def post_each_minute(self, minutes: int) -> list[int]:
        statuses = []
        for _ in range(minutes):
            statuses.append(self.post())
            self.cloud.settle()
            self.cloud.wait(MINUTE)
        return statuses

    def stop_hydrating(self) -> None:
        """The DLQ-hydrate's event source mappings disabled: dead letters stay in their queues."""
        for mapping in self.cloud.sqs_mappings:
            mapping.spec = replace(mapping.spec, enabled=False)

    def remove_queue(self, logical_id: str) -> None:
        """A queue deleted (as by a wrong stack update); it is created again when the test ends. The
        hydrate's mappings are disabled first: nothing polls the missing queue."""
        self.stop_hydrating()
        queue = self.cloud.stack.get(logical_id)
        self.cloud.services.client("sqs").delete_queue(QueueUrl=queue.ref)
        self.undo.append(lambda: self.cloud.primary.provisioner.recreate(queue))

    def send_to(self, logical_id: str, body: Any) -> None:
        queue = self.cloud.stack.get(logical_id)
        text = body if isinstance(body, str) else json.dumps(body)
        self.cloud.services.client("sqs").send_message(QueueUrl=queue.ref, MessageBody=text)
        self.cloud.pump()

    def put_on_stream(self, data: bytes) -> None:
        self.cloud.services.put_record(self.cloud.stack.get("SignalStream").ref, data, "poison")
        self.cloud.pump()


# ---------------------------------------------------------------------------- the scenarios
def validator_fails(drive: Drive) -> None:
    drive.fault(TargetFault("ValidatorFunction"))
    assert set(drive.post_each_minute(4)) == {500}


def validator_times_out(drive: Drive) -> None:
    drive.fault(TargetFault("ValidatorFunction", mode="timeout"))
    assert set(drive.post_each_minute(4)) == {500}


def sources_table_outage(drive: Drive) -> None:
    drive.key = drive.cloud.register_source("alarm-drill")  # a cold validator: no source cached
    drive.fault(SdkFault("dynamodb", "get_item", code="InternalServerError", function="ValidatorFunction"))
    assert set(drive.post_each_minute(3)) == {503}


def broken_source_record(drive: Drive) -> None:
    table = drive.cloud.function_with_env("SOURCES_TABLE_NAME").environment["SOURCES_TABLE_NAME"]
    # a record written by hand without its key hash: reading it is a fault of the platform itself
    drive.cloud.services.client("dynamodb").put_item(
        TableName=table, Item={"source_id": {"S": "hand-made"}, "enabled": {"BOOL": True}}
    )
    drive.key = "hand-made.c2VjcmV0LXRoYXQtaXMtbG9uZy1lbm91Z2g"
    assert drive.post() == 500


def bus_refuses(drive: Drive) -> None:
    drive.fault(SdkFault("events", "put_events", code="AccessDeniedException", function="ValidatorFunction"))
    assert set(drive.post_each_minute(3)) == {503}


def forged_batch(drive: Drive) -> None:
    bus = drive.cloud.stack.get("IngressBus").ref
    detail = {"batch_id": "ab" * 16, "signature": "v1=0000", "signals": [{"event_id": "x"}]}
    drive.cloud.services.client("events").put_events(
        Entries=[
            {
                "EventBusName": bus,
                "Source": "signals.ingest",
                "DetailType": "signal_batch",
                "Detail": json.dumps(detail),
            }
        ]
    )
    drive.cloud.settle()


def enrichment_fails(drive: Drive) -> None:
    drive.stop_hydrating()
    drive.fault(TargetFault("EnrichmentFunction"))
    drive.post()


def enrichment_failure_destination_gone(drive: Drive) -> None:
    drive.remove_queue("EnrichmentFailureDlq")
    drive.fault(TargetFault("EnrichmentFunction"))
    drive.post()


def enrichment_rule_target_fails(drive: Drive) -> None:
    drive.stop_hydrating()
    drive.fault(TargetFault("EnrichmentRule/enrichment"))
    drive.post()


def enrichment_rule_dlq_gone(drive: Drive) -> None:
    drive.remove_queue("EnrichmentTargetDlq")
    drive.fault(TargetFault("EnrichmentRule/enrichment"))
    drive.post()


def stream_refuses(drive: Drive) -> None:
    drive.stop_hydrating()
    drive.fault(TargetFault("SignalStream"))
    drive.post()


def stream_throttled(drive: Drive) -> None:
    """Too few shards for 20 minutes: puts refused, retried, and delivered once the window ends."""
    elapsed = drive.cloud.clock.now() - drive.cloud.faults.started_at
    window = (elapsed, elapsed + 20 * MINUTE)
    drive.fault(TargetFault("SignalStream", error=STREAM_THROTTLED, window=window))
    drive.post_each_minute(15)


def stream_rule_dlq_gone(drive: Drive) -> None:
    drive.remove_queue("StreamTargetDlq")
    drive.fault(TargetFault("SignalStream"))
    drive.post()


def lake_writer_fails(drive: Drive) -> None:
    drive.stop_hydrating()
    drive.fault(TargetFault("S3WriterFunction"))
    for _ in range(3):  # a batch in each of three five-minute periods
        drive.post()
        drive.cloud.settle()
        drive.cloud.wait(5 * MINUTE)


def partner_outage(drive: Drive) -> None:
    assert drive.cloud.partner is not None
    drive.stop_hydrating()
    drive.cloud.partner.failing = lambda body: True
    for _ in range(3):
        drive.post()
        drive.cloud.settle()
        drive.cloud.wait(5 * MINUTE)


def stream_lag(drive: Drive) -> None:
    drive.fault(RecordAging("SignalStream", 2 * 3600.0))  # records two hours behind the stream's tip
    drive.post()


def poison_record(drive: Drive) -> None:
    drive.put_on_stream(b"not an enriched batch")


def lake_clean_up_fails(drive: Drive) -> None:
    drive.fault(
        SdkFault("s3", "put_object", times=1, code="InternalError", function="S3WriterFunction"),
        SdkFault("s3", "delete_object", code="AccessDenied", function="S3WriterFunction"),
    )
    drive.post()


def hydrate_fails(drive: Drive) -> None:
    drive.fault(TargetFault("DlqHydrateFunction"))
    drive.send_to("EnrichmentTargetDlq", "a message the hydrate never gets to read")


def hydrate_cannot_store(drive: Drive) -> None:
    drive.fault(SdkFault("s3", "put_object", code="InternalError", function="DlqHydrateFunction"))
    drive.send_to("EnrichmentTargetDlq", {"unknown": "shape"})
    drive.cloud.wait(5 * MINUTE)  # a second dead letter in the next five minutes
    drive.send_to("EnrichmentTargetDlq", {"unknown": "shape, again"})


def unparsed_dlq_message(drive: Drive) -> None:
    drive.send_to("EnrichmentTargetDlq", {"unknown": "shape"})


def records_gone_from_the_stream(drive: Drive) -> None:
    stream = drive.cloud.stack.get("SignalStream")
    pipe = drive.cloud.stack.get("LakePipe")
    shard = drive.cloud.services.client("kinesis").list_shards(StreamName=stream.ref)["Shards"][0]
    start = shard["SequenceNumberRange"]["StartingSequenceNumber"]
    now = iso_millis(drive.cloud.clock.now())
    drive.send_to(
        "LakePipeDlq",
        {
            "context": {"partnerResourceArn": pipe.arn, "condition": RETRY_CONDITION},
            "version": "1.0",
            "timestamp": now,
            "KinesisBatchInfo": {
                "shardId": shard["ShardId"],
                "startSequenceNumber": start,
                "endSequenceNumber": start,
                "approximateArrivalOfFirstRecord": now,
                "approximateArrivalOfLastRecord": now,
                "batchSize": 1,
                "streamArn": stream.arn,
            },
        },
    )


@dataclass(frozen=True)
class Drill:
    produce: Callable[[Drive], None]
    alarms: tuple[str, ...]
    wait: float = 30 * MINUTE  # cloud time to let pass after the scenario (retries, periods, ages)


DRILLS = {
    "validator errors": Drill(validator_fails, ("ValidatorErrorsAlarm", "IngestApi5xxAlarm")),
    "validator timeouts": Drill(validator_times_out, ("ApiLatencyAlarm",)),
    "sources table outage": Drill(sources_table_outage, ("ValidatorRequests503Alarm",)),
    "broken source record": Drill(broken_source_record, ("ValidatorRequests500Alarm",)),
    "ingress bus refuses": Drill(bus_refuses, ("ValidatorEventsRetryAlarm",)),
    "forged batch": Drill(forged_batch, ("EnrichmentQuarantineAlarm",)),
    "enrichment fails": Drill(
        enrichment_fails,
        ("EnrichmentErrorsAlarm", "EnrichmentFailureDlqMessagesSentAlarm", "EnrichmentFailureDlqAlarm"),
    ),
    "enrichment failure destination gone": Drill(
        enrichment_failure_destination_gone, ("EnrichmentDestinationDeliveryFailuresAlarm",)
    ),
    "enrichment rule target fails": Drill(
        enrichment_rule_target_fails,
        ("EnrichmentRuleRetriesAlarm", "EnrichmentTargetDlqMessagesSentAlarm", "EnrichmentTargetDlqAlarm"),
        wait=25 * 3600.0,
    ),
    "enrichment rule DLQ gone": Drill(
        enrichment_rule_dlq_gone, ("EnrichmentRuleDlqWriteFailedAlarm",), wait=25 * 3600.0
    ),
    "stream refuses": Drill(
        stream_refuses,
        ("StreamRuleRetriesAlarm", "StreamTargetDlqMessagesSentAlarm", "StreamTargetDlqAlarm"),
        wait=25 * 3600.0,
    ),
    "stream throttled": Drill(
        stream_throttled, ("SignalStreamWriteThrottledAlarm", "StreamRuleRetriesAlarm")
    ),
    "stream rule DLQ gone": Drill(stream_rule_dlq_gone, ("StreamRuleDlqWriteFailedAlarm",), wait=25 * 3600.0),
    "lake writer fails": Drill(
        lake_writer_fails,
        (
            "S3WriterErrorsAlarm",
            "LakePipeFailuresAlarm",
            "LakePipeDlqMessagesSentAlarm",
            "LakePipeDlqAlarm",
            "LakePipeDlqAgeAlarm",
        ),
        wait=HALF_A_DAY,
    ),
    "partner outage": Drill(
        partner_outage,
        (
            "PartnerPipeFailuresAlarm",
            "PartnerPipeDlqMessagesSentAlarm",
            "PartnerPipeDlqAlarm",
            "PartnerPipeDlqAgeAlarm",
        ),
        wait=HALF_A_DAY,
    ),
    "stream lag": Drill(stream_lag, ("SignalStreamIteratorAgeAlarm",)),
    "poison record": Drill(poison_record, ("S3WriterBadRecordsAlarm",)),
    "lake clean-up fails": Drill(lake_clean_up_fails, ("S3WriterLakeCleanupFailuresAlarm",)),
    "hydrate fails": Drill(
        hydrate_fails,
        ("DlqHydrateErrorsAlarm", "DlqHydrateFailureDlqAlarm", "DlqHydrateFailureDlqAgeAlarm"),
        wait=HALF_A_DAY + 3 * 3600.0,  # five receives 30 min apart, then the age
    ),
    "hydrate cannot store": Drill(hydrate_cannot_store, ("DlqHydrateFailuresAlarm",)),
    "unparsed DLQ message": Drill(unparsed_dlq_message, ("DlqHydrateUnparsedMessagesAlarm",)),
    "records gone from the stream": Drill(
        records_gone_from_the_stream, ("DlqHydrateUnrecoverableRecordsAlarm",)
    ),
}


@pytest.fixture
def drive(cloud: LocalCloud) -> Iterator[Drive]:
    hands = Drive(cloud, TrafficGenerator(SchemaRegistry(), seed=13))
    try:
        yield hands
    finally:
        for step in hands.undo:
            step()


def _let_time_pass(cloud: LocalCloud, seconds: float) -> None:
    """Run the cloud's work for ``seconds`` of its clock, then let the CloudWatch catch up."""
    deadline = cloud.clock.now() + seconds
    cloud.settle(horizon=seconds)
    cloud.wait(max(0.0, deadline - cloud.clock.now()))
    cloud.settle(horizon=0.0)
    cloud.primary.cloudwatch.evaluate()


@pytest.mark.parametrize("name", sorted(DRILLS))
def test_each_failure_sends_its_alarms_to_alarm(drive: Drive, name: str) -> None:
    drill = DRILLS[name]
    watch = drive.cloud.primary.cloudwatch
    started = drive.cloud.clock.now()
    # GIVEN the stack's alarms, none in ALARM
    assert "ALARM" not in watch.states.values()

    # WHEN the failure happens and time passes
    drill.produce(drive)
    _let_time_pass(drive.cloud, drill.wait)

    # THEN each of its alarms went to ALARM after it started
    for alarm in drill.alarms:
        if alarm not in watch.alarms:  # an alarm of another Region role or template revision
            continue
        went = watch.first_alarm(alarm)
        assert went is not None, f"{alarm} stayed {watch.state(alarm)}: {watch.changes(alarm)}"
        assert went > started, alarm


def test_a_clean_run_fires_no_alarm(drive: Drive) -> None:
    # GIVEN traffic without faults over a quarter of an hour
    for _ in range(3):
        drive.post(events=10)
        _let_time_pass(drive.cloud, 5 * MINUTE)

    # WHEN an hour passes
    _let_time_pass(drive.cloud, 3600.0)

    # THEN no alarm ever went to ALARM
    watch = drive.cloud.primary.cloudwatch
    assert [change for change in watch.history if change.new == "ALARM"] == []
    assert set(watch.states.values()) == {"OK"}


def test_every_alarm_of_the_template_has_a_drill(pipeline: LocalCloud) -> None:
    drilled = {alarm for drill in DRILLS.values() for alarm in drill.alarms}
    assert set(pipeline.primary.cloudwatch.alarms) <= drilled
    assert pipeline.primary.cloudwatch.alarms, "the template has no alarms"
