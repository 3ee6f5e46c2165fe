"""Fault injection: the CLI form, when faults fire, and the wrapped AWS clients of the project's code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from localcloud.faults import (
    Concurrency,
    Duplicate,
    Faults,
    RecordAging,
    RegionOutage,
    ReplicationLag,
    Reshard,
    SdkFault,
    TargetFault,
    parse,
)
from signal_platform import aws_clients
from tests.localcloud.conftest import Recorder, arn, function, queue, running


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("target:EnrichmentFunction,times=3", TargetFault("EnrichmentFunction", times=3)),
        (
            "target:S3WriterFunction,window=0-30,mode=timeout",
            TargetFault("S3WriterFunction", window=(0.0, 30.0), mode="timeout"),
        ),
        (
            "target:PartnerApiDestination,ids=a|b",
            TargetFault("PartnerApiDestination", event_ids=frozenset({"a", "b"})),
        ),
        ("throttle:times=5", SdkFault("events", "put_events", times=5)),
        (
            "throttle:times=9,per_entry=true,function=EnrichmentFunction",
            SdkFault("events", "put_events", times=9, per_entry=True, function="EnrichmentFunction"),
        ),
        (
            "sdk:s3.put_object,times=2,code=InternalError",
            SdkFault("s3", "put_object", times=2, code="InternalError"),
        ),
        ("age:SignalStream,seconds=90000", RecordAging("SignalStream", 90000.0)),
        ("region:us-west-2,window=10-70", RegionOutage("us-west-2", (10.0, 70.0))),
        (
            "target:S3WriterFunction,mode=timeout,after_calls=2,times=1",
            TargetFault("S3WriterFunction", times=1, mode="timeout", after_calls=2),
        ),
        ("duplicate:*,p=0.2,seed=3", Duplicate("*", 0.2, 3)),
        ("concurrency:EnrichmentFunction,limit=1,hold=2", Concurrency("EnrichmentFunction", 1, 2.0)),
        ("reshard:SignalStream,after=10", Reshard("SignalStream", 10)),
        ("lag:seconds=300", ReplicationLag(300.0)),
    ],
)
def test_faults_parse_from_the_cli_form(spec: str, expected: object) -> None:
    assert parse(spec) == expected


def test_unknown_fault_kinds_and_modes_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        parse("meteor:us-west-2")
    with pytest.raises(ValueError, match="mode"):
        parse("target:X,mode=explode")


def test_times_window_and_event_ids_decide_when_a_target_fault_fires() -> None:
    now = [100.0]
    faults = Faults(lambda: now[0], started_at=100.0)
    faults.add(
        TargetFault("A", times=2),
        TargetFault("B", window=(10, 20)),
        TargetFault("C", event_ids=frozenset({"e1"})),
    )
    assert [faults.target_fault(["A"], set) is not None for _ in range(3)] == [True, True, False]
    assert faults.target_fault(["B"], set) is None
    now[0] = 115.0
    assert faults.target_fault(["B"], set) is not None
    assert faults.target_fault(["C"], lambda: {"e2"}) is None
    assert faults.target_fault(["C"], lambda: {"e1", "e2"}) is not None
    assert faults.fired == {"A:error": 2, "B:error": 1, "C:error": 1}


def _bus_and_queue() -> dict[str, Any]:
    return {
        "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "bus"}},
        "Sink": queue(),
        "Rule": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "EventBusName": "bus",
                "EventPattern": {"source": ["t"]},
                "Targets": [{"Id": "q", "Arn": arn("Sink")}],
            },
        },
        "Fn": function("fn"),
    }


ENTRY = {"Source": "t", "DetailType": "d", "Detail": json.dumps({"n": 1}), "EventBusName": "bus"}


def test_throttled_put_events_raises_for_the_project_code_then_recovers(tmp_path: Path) -> None:
    with running(
        tmp_path, _bus_and_queue(), handlers={"Fn": Recorder()}, faults=(SdkFault(times=2),)
    ) as cloud:
        events = aws_clients.client("events")
        outcomes = []
        for _ in range(3):
            try:
                events.put_events(Entries=[ENTRY])
                outcomes.append("ok")
            except ClientError as exc:
                outcomes.append(exc.response["Error"]["Code"])
        delivered = cloud.services.client("sqs").receive_message(
            QueueUrl=cloud.stack.get("Sink").ref, MaxNumberOfMessages=10
        )
    assert outcomes == ["ThrottlingException", "ThrottlingException", "ok"]
    assert len(delivered.get("Messages", [])) == 1


def test_per_entry_failures_deliver_only_the_passing_entries(tmp_path: Path) -> None:
    with running(
        tmp_path, _bus_and_queue(), handlers={"Fn": Recorder()}, faults=(SdkFault(times=1, per_entry=True),)
    ) as cloud:
        answer = aws_clients.client("events").put_events(Entries=[ENTRY] * 4)
        sqs = cloud.services.client("sqs")
        url = cloud.stack.get("Sink").ref
        delivered = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"
        ]
    failed = answer["FailedEntryCount"]
    assert 1 <= failed <= 4
    assert [e.get("ErrorCode") for e in answer["Entries"]].count("ThrottlingException") == failed
    assert int(delivered["ApproximateNumberOfMessages"]) == 4 - failed


def test_sdk_faults_can_aim_at_one_function(tmp_path: Path) -> None:
    def put(event: Any, call: int) -> Any:
        try:
            aws_clients.client("events").put_events(Entries=[ENTRY])
        except ClientError as exc:
            return exc.response["Error"]["Code"]
        return "ok"

    fault = SdkFault(times=5, function="Fn")
    with running(tmp_path, _bus_and_queue(), handlers={"Fn": Recorder(put)}, faults=(fault,)) as cloud:
        aws_clients.client("events").put_events(Entries=[ENTRY])  # not inside Fn: untouched
        inside = cloud.runtime.invoke("Fn", {}).payload
    assert inside == "ThrottlingException"


def test_a_region_outage_fails_every_call_to_that_region(tmp_path: Path) -> None:
    with running(
        tmp_path, _bus_and_queue(), handlers={"Fn": Recorder()}, faults=(RegionOutage("us-west-2"),)
    ) as cloud:
        with pytest.raises(EndpointConnectionError):
            aws_clients.client("events").put_events(Entries=[ENTRY])
        assert cloud.faults.region_down("us-west-2")
        assert not cloud.faults.region_down("us-east-1")


def test_concurrency_throttles_invocations_while_every_slot_is_held() -> None:
    now = [0.0]
    faults = Faults(lambda: now[0])
    faults.add(Concurrency("Fn", limit=2, hold=10.0))
    assert [faults.throttled(["Fn"]) for _ in range(3)] == [False, False, True]
    now[0] = 10.5  # both slots free again
    assert [faults.throttled(["Fn"]) for _ in range(3)] == [False, False, True]
    assert not faults.throttled(["Other"])


def test_a_duplicate_fault_draws_from_its_own_seed() -> None:
    def draws(seed: int) -> list[bool]:
        faults = Faults(lambda: 0.0)
        faults.add(Duplicate("*", 0.5, seed=seed))
        return [faults.duplicate(["anything"]) for _ in range(32)]

    assert draws(1) == draws(1)
    assert draws(1) != draws(2)
    assert 0 < sum(draws(1)) < 32


def test_overlapping_outages_end_when_the_last_one_does() -> None:
    # GIVEN two overlapping outages of one Region and one of the other
    now = [100.0]
    faults = Faults(lambda: now[0], started_at=100.0)
    faults.add(
        RegionOutage("us-west-2", (10.0, 50.0)),
        RegionOutage("us-west-2", (40.0, 90.0)),
        RegionOutage("us-east-1", (200.0, 300.0)),
    )

    # THEN, 20 s in, us-west-2 is back at 90 s, both Regions at 90 s, and the next edge is at 40 s
    now[0] = 120.0
    assert faults.down_until("us-west-2") == 190.0
    assert faults.down_until("us-west-2", "us-east-1") == 190.0
    assert faults.down_until("us-east-1") == 120.0  # not down now
    assert faults.next_region_change() == 140.0
    assert faults.any_region_down()
    # and after the last edge nothing changes any more
    now[0] = 400.0
    assert faults.next_region_change() is None
    assert not faults.any_region_down()


def test_the_longest_active_replication_lag_applies() -> None:
    faults = Faults(lambda: 0.0)
    assert faults.replication_lag(1.0) == 1.0
    faults.add(
        ReplicationLag(30.0), ReplicationLag(300.0, window=(0.0, 10.0)), ReplicationLag(900.0, (50.0, 60.0))
    )
    assert faults.replication_lag(1.0) == 300.0
