"""The front-door buffer's sink: records durably in the stream before the answer, failures as retries."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from signal_platform.bus_publisher import PublishOutcome
from signal_platform.signal_batches import BusEntry
from validator.buffer import FrontDoor, StreamPublisher
from validator.settings import ValidatorSettings


def entry(batch_id: str, signals: int = 1) -> BusEntry:
    detail = json.dumps({"batch_id": batch_id, "signals": list(range(signals))})
    return BusEntry(
        batch_id=batch_id,
        event_ids=tuple(f"{batch_id}-{index}" for index in range(signals)),
        entry={"Source": "signals.ingest", "DetailType": "page_view", "Detail": detail, "EventBusName": "b"},
        size=len(detail),
    )


class FakeKinesis:
    """Fails the records whose partition key is in ``failing`` (code) for the first ``times`` calls."""

    def __init__(
        self, failing: dict[str, str] | None = None, times: int = 1, raises: Exception | None = None
    ):
        self.failing = failing or {}
        self.times = times
        self.raises = raises
        self.calls: list[dict[str, Any]] = []
        self.stored: list[bytes] = []

    def put_records(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
        if self.raises is not None:
            raise self.raises
        results: list[dict[str, str]] = []
        for record in request["Records"]:
            code = self.failing.get(record["PartitionKey"]) if len(self.calls) <= self.times else None
            if code is None:
                self.stored.append(record["Data"])
                results.append({"SequenceNumber": str(len(self.stored)), "ShardId": "shardId-000000000000"})
            else:
                results.append({"ErrorCode": code, "ErrorMessage": "x"})
        return {"FailedRecordCount": sum("ErrorCode" in r for r in results), "Records": results}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def stream_publisher(kinesis: FakeKinesis) -> StreamPublisher:
    clock = Clock()
    return StreamPublisher(
        stream_name="buffer", client=lambda: kinesis, sleep=clock.sleep, clock=clock, rand=lambda: 0.5
    )


def test_stream_publisher_one_request_is_one_put_records_call_with_the_details_as_records() -> None:
    # GIVEN the entries of one request
    kinesis = FakeKinesis()
    batch = [entry("a"), entry("b")]
    # WHEN they are published
    outcome = stream_publisher(kinesis).publish(batch, deadline=1e9)
    # THEN one call holds them, keyed by batch id, and every entry counts as delivered
    assert len(kinesis.calls) == 1
    assert [r["PartitionKey"] for r in kinesis.calls[0]["Records"]] == ["a", "b"]
    assert kinesis.stored == [e.entry["Detail"].encode() for e in batch]
    assert [e.batch_id for e in outcome.delivered] == ["a", "b"] and outcome.failure is None


def test_stream_publisher_failed_records_are_retried_alone_until_written() -> None:
    kinesis = FakeKinesis({"b": "ProvisionedThroughputExceededException"}, times=2)
    outcome = stream_publisher(kinesis).publish([entry("a"), entry("b")], deadline=1e9)
    assert [[r["PartitionKey"] for r in call["Records"]] for call in kinesis.calls] == [
        ["a", "b"],
        ["b"],
        ["b"],
    ]
    assert sorted(e.batch_id for e in outcome.delivered) == ["a", "b"]
    assert outcome.undelivered == [] and outcome.failure is None


def test_stream_publisher_throttling_until_the_deadline_answers_throttled_for_those_records() -> None:
    kinesis = FakeKinesis({"b": "ProvisionedThroughputExceededException"}, times=1_000)
    outcome = stream_publisher(kinesis).publish([entry("a"), entry("b")], deadline=1.0)
    assert [e.batch_id for e in outcome.undelivered] == ["b"]
    assert outcome.failure == "throttled"
    assert kinesis.stored == [entry("a").entry["Detail"].encode()]


def test_stream_publisher_stream_unavailable_answers_unavailable() -> None:
    error = ClientError({"Error": {"Code": "KMSDisabledException", "Message": "x"}}, "PutRecords")
    outcome = stream_publisher(FakeKinesis(raises=error)).publish([entry("a")], deadline=0.5)
    assert [e.batch_id for e in outcome.undelivered] == ["a"]
    assert outcome.failure == "unavailable" and set(outcome.error_codes) == {"KMSDisabledException"}


class Sink:
    def __init__(self, failure: str | None = None) -> None:
        self.failure = failure
        self.got: list[str] = []

    def publish(self, entries: Any, *, deadline: float) -> PublishOutcome:  # noqa: ARG002
        self.got += [e.batch_id for e in entries]
        if self.failure is None:
            return PublishOutcome(delivered=list(entries), calls=1, attempts=1)
        return PublishOutcome(undelivered=list(entries), failure=self.failure, calls=1, attempts=1)  # type: ignore[arg-type]


def test_front_door_small_batches_go_to_the_buffer_full_ones_to_the_bus() -> None:
    bus, buffer = Sink(), Sink()
    door = FrontDoor(bus=bus, buffer=buffer, buffer_below=25)
    outcome = door.publish([entry("one", 1), entry("full", 25), entry("some", 24)], deadline=1e9)
    assert buffer.got == ["one", "some"] and bus.got == ["full"]
    assert sorted(e.batch_id for e in outcome.delivered) == ["full", "one", "some"]
    assert outcome.calls == 2


def test_front_door_an_outage_on_either_side_is_an_outage() -> None:
    bus, buffer = Sink("throttled"), Sink("unavailable")
    outcome = FrontDoor(bus=bus, buffer=buffer, buffer_below=25).publish(
        [entry("one", 1), entry("full", 30)], deadline=1e9
    )
    assert outcome.failure == "unavailable"
    assert sorted(e.batch_id for e in outcome.undelivered) == ["full", "one"]


def test_front_door_only_the_buffer_is_called_for_single_event_requests() -> None:
    bus, buffer = Sink(), Sink()
    FrontDoor(bus=bus, buffer=buffer, buffer_below=25).publish([entry("one", 1)], deadline=1e9)
    assert bus.got == [] and buffer.got == ["one"]


def test_validator_settings_buffer_is_off_unless_its_stream_is_named() -> None:
    base = {"AWS_REGION": "us-west-2", "INGRESS_BUS_NAME": "ingress", "SOURCES_TABLE_NAME": "sources"}
    assert ValidatorSettings.from_env(base).buffer_stream_name is None
    on = ValidatorSettings.from_env({**base, "BUFFER_STREAM_NAME": "buffer", "BUFFER_BELOW_SIGNALS": "10"})
    assert (on.buffer_stream_name, on.buffer_below_signals) == ("buffer", 10)
