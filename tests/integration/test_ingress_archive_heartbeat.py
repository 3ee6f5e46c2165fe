"""The primary's ingress bus as the template renders it, built in moto: the archive keeps signal batches
only, heartbeats reach only their queue, and a replay of the archive reaches enrichment (replays taken)
without being archived twice or counted as a heartbeat."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.conftest import REGION
from tests.infra.rendering import SECONDARY_KEY_ARN, Role, render
from tools.deploy import SECONDARY_KEY, final_overrides

BUS = "signals-ingress"


@dataclass
class IngressBus:
    events: Any
    sqs: Any
    archive_name: str
    archive_arn: str
    queues: dict[str, str]  # rule logical id -> queue URL standing in for its target

    def put(self, source: str, detail: dict[str, Any]) -> None:
        entry = {
            "EventBusName": BUS,
            "Source": source,
            "DetailType": "page_view",
            "Detail": json.dumps(detail),
        }
        assert self.events.put_events(Entries=[entry])["FailedEntryCount"] == 0

    def received(self, rule: str) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.queues[rule], MaxNumberOfMessages=10)
        return [json.loads(message["Body"]) for message in messages.get("Messages", [])]

    def archived(self) -> int:
        return int(self.events.describe_archive(ArchiveName=self.archive_name)["EventCount"])


@pytest.fixture
def ingress_bus() -> Iterator[IngressBus]:
    # The primary as make deploy leaves it; each rule's target replaced by a queue moto can deliver to.
    rendering = render(Role(REGION, final_overrides("primary", {SECONDARY_KEY: SECONDARY_KEY_ARN})))
    assert rendering.refused is None, rendering.refused
    with mock_aws():
        events, sqs = boto3.client("events", region_name=REGION), boto3.client("sqs", region_name=REGION)
        bus_arn = events.create_event_bus(Name=BUS)["EventBusArn"]
        archive = rendering.resources["IngressBusArchive"]["Properties"]
        archive_arn = events.create_archive(
            ArchiveName="ingress",
            EventSourceArn=bus_arn,
            EventPattern=json.dumps(archive["EventPattern"]),
            RetentionDays=int(archive["RetentionDays"]),
        )["ArchiveArn"]
        queues = {}
        for name, rule in rendering.of_type("AWS::Events::Rule").items():
            properties = rule["Properties"]
            if properties["EventBusName"] != "<Ref IngressBus>":
                continue
            url = sqs.create_queue(QueueName=name)["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            events.put_rule(Name=name, EventBusName=BUS, EventPattern=json.dumps(properties["EventPattern"]))
            events.put_targets(Rule=name, EventBusName=BUS, Targets=[{"Id": "queue", "Arn": queue_arn}])
            queues[name] = url
        yield IngressBus(events, sqs, "ingress", archive_arn, queues)


def test_heartbeat_reaches_its_queue_only_and_is_not_archived(ingress_bus: IngressBus) -> None:
    # GIVEN the primary's ingress bus with its rules and archive
    assert set(ingress_bus.queues) == {"EnrichmentRule", "HeartbeatRule"}

    # WHEN a heartbeat and a signal batch arrive
    ingress_bus.put("signals.heartbeat", {"scheduled_time": "2026-12-06T10:00:00Z"})
    ingress_bus.put("signals.ingest", {"batch_id": "b-1", "signals": []})

    # THEN the heartbeat is counted by its rule only, the batch processed and archived
    assert [e["source"] for e in ingress_bus.received("HeartbeatRule")] == ["signals.heartbeat"]
    assert [e["detail"]["batch_id"] for e in ingress_bus.received("EnrichmentRule")] == ["b-1"]
    assert ingress_bus.archived() == 1


def test_replay_reaches_enrichment_again_and_is_not_archived_twice(ingress_bus: IngressBus) -> None:
    # GIVEN a batch processed and archived
    start = datetime.now(UTC) - timedelta(minutes=1)
    ingress_bus.put("signals.ingest", {"batch_id": "b-2", "signals": []})
    ingress_bus.put("signals.heartbeat", {"scheduled_time": "2026-12-06T10:01:00Z"})
    assert len(ingress_bus.received("EnrichmentRule")) == 1
    ingress_bus.received("HeartbeatRule")

    # WHEN the archive window is replayed onto the bus
    ingress_bus.events.start_replay(
        ReplayName="after-a-bug",
        EventSourceArn=ingress_bus.archive_arn,
        EventStartTime=start,
        EventEndTime=datetime.now(UTC) + timedelta(minutes=1),
        Destination={"Arn": ingress_bus.archive_arn.replace(":archive/ingress", f":event-bus/{BUS}")},
    )
    deadline = time.monotonic() + 10
    replayed: list[dict[str, Any]] = []
    while not replayed and time.monotonic() < deadline:
        replayed = ingress_bus.received("EnrichmentRule")

    # THEN enrichment gets the batch again, marked as a replay; the archive still holds one copy and
    # no heartbeat was replayed (the archive never had one)
    assert [(e["detail"]["batch_id"], e.get("replay-name")) for e in replayed] == [("b-2", "after-a-bug")]
    assert ingress_bus.archived() == 1
    assert ingress_bus.received("HeartbeatRule") == []
