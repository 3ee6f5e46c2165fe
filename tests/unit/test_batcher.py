"""The batcher: buffer records re-packed into the validator's signal batches, segment by segment,
records that are not signal batches set aside on BufferDlq, and the first record of an undelivered
segment reported back to the event source mapping."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from batcher import dependencies, handler
from batcher.buffer_dlq import BufferDlq
from batcher.models import Invocation, KinesisRecord
from batcher.packing import BufferedRecord, pack_segment, parse_record, segments
from batcher.service import Forwarder
from batcher.settings import BatcherSettings
from dlq_hydrate.messages import KinesisBatchFailure, parse_message
from signal_platform import codec, signing
from signal_platform.bus_publisher import PublishOutcome
from signal_platform.errors import ConfigurationError, DeadLetterSendError, SegmentCutsError
from signal_platform.signal_batches import BusEntry, EncodedSignal, IngestMetadata, SignalBatcher
from tests.conftest import FakeLambdaContext

KEY = b"k" * 32
STREAM_ARN = "arn:aws:kinesis:us-west-2:123456789012:stream/customer-signals-BufferStream"
SHARD = "shardId-000000000003"
INVOCATION = Invocation("req-1", "arn:aws:lambda:us-west-2:123456789012:function:batcher", "7")
ARRIVAL = 1796637600.25


def signal(event_id: str, event_type: str = "page_view", source: str = "web-shop") -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_type": event_type,
        "schema_version": "1-0-0",
        "occurred_at": "2026-12-01T10:00:00Z",
        "derived_at": "2026-12-01T10:00:00Z",
        "source": source,
        "data": {"page_url": "https://shop.example.com/"},
    }


def request_record(
    request: int, *event_ids: str, event_type: str = "page_view", source: str = "web-shop"
) -> bytes:
    """What the validator writes for one request: its signal batch's Detail."""
    ingest = IngestMetadata(f"2026-12-01T10:00:0{request % 10}Z", "us-west-2", f"req-{request}", source)
    batcher = SignalBatcher(bus_name="ingress", entry_source="signals.ingest", max_signals=50, signer=None)
    signals = [
        EncodedSignal(e, event_type, source, codec.canonical(signal(e, event_type, source)))
        for e in event_ids
    ]
    (entry,) = batcher.build(signals, ingest)
    return str(entry.entry["Detail"]).encode()


def packer(max_signals: int = 50) -> SignalBatcher:
    return SignalBatcher(
        bus_name="ingress",
        entry_source="signals.ingest",
        max_signals=max_signals,
        signer=lambda payload: signing.sign(KEY, payload),
    )


def kinesis_record(sequence_number: str, data: bytes) -> KinesisRecord:
    return KinesisRecord(STREAM_ARN, SHARD, sequence_number, ARRIVAL, data)


def records(count: int) -> list[KinesisRecord]:
    return [kinesis_record(f"{index:05d}", request_record(index, f"e{index:05d}")) for index in range(count)]


class Dlq:
    """Keeps what is sent; refuses it (as ``BufferDlq`` does on an SDK error) while ``failing``."""

    def __init__(self, *, failing: bool = False) -> None:
        self.failing = failing
        self.sent: list[Mapping[str, Any]] = []

    def send(self, message: Mapping[str, Any]) -> str:
        if self.failing:
            raise DeadLetterSendError("SendMessage failed: AccessDenied")
        self.sent.append(message)
        return f"m-{len(self.sent)}"


class Cuts:
    """Keeps cuts as ``SegmentCuts`` does; refuses to read or to write while told to."""

    def __init__(self, *, unreadable: bool = False, unwritable: bool = False) -> None:
        self.kept: dict[tuple[str, str], str] = {}
        self.unreadable, self.unwritable = unreadable, unwritable

    def end_of(self, shard_id: str, first_sequence: str) -> str | None:
        if self.unreadable:
            raise SegmentCutsError("GetItem on cuts failed: ProvisionedThroughputExceededException")
        return self.kept.get((shard_id, first_sequence))

    def remember(self, shard_id: str, first_sequence: str, last_sequence: str) -> None:
        if self.unwritable:
            raise SegmentCutsError("PutItem on cuts failed: AccessDeniedException")
        self.kept[(shard_id, first_sequence)] = last_sequence


def forwarder(bus: Bus, segment_signals: int, dlq: Dlq | None = None, cuts: Cuts | None = None) -> Forwarder:
    return Forwarder(
        packer(),
        bus,
        segment_signals=segment_signals,
        dead_letters=dlq or Dlq(),
        cuts=cuts if cuts is not None else Cuts(),
        clock=lambda: datetime(2026, 12, 7, 10, 0, 1, tzinfo=UTC),
    )


class Bus:
    """Fails every entry that carries one of ``failing`` event ids, ``times`` times."""

    def __init__(self, failing: Sequence[str] = (), times: int = 1) -> None:
        self.failing = set(failing)
        self.times = times
        self.published: list[BusEntry] = []

    def publish(self, entries: Sequence[BusEntry], *, deadline: float) -> PublishOutcome:  # noqa: ARG002
        outcome = PublishOutcome(calls=1, attempts=1)
        for entry in entries:
            if self.times > 0 and self.failing.intersection(entry.event_ids):
                outcome.undelivered.append(entry)
            else:
                outcome.delivered.append(entry)
                self.published.append(entry)
        if outcome.undelivered:
            self.times -= 1
            outcome.failure = "unavailable"
        return outcome


def test_pack_many_single_event_requests_become_full_signal_batches_of_the_validators_contract() -> None:
    # GIVEN 120 one-event requests of one source and type
    parsed = [parse_record(record.sequence_number, record.data) for record in records(120)]
    # WHEN one segment is packed
    entries = pack_segment(parsed, packer())
    # THEN 3 batches of 50, 50, 20 signals in arrival order, signed, with the first request's ingest
    assert [len(e.event_ids) for e in entries] == [50, 50, 20]
    assert [i for e in entries for i in e.event_ids] == [f"e{n:05d}" for n in range(120)]
    detail = json.loads(entries[0].entry["Detail"])
    assert detail["ingest"] == {
        "received_at": "2026-12-01T10:00:00Z",
        "region": "us-west-2",
        "request_id": "req-0",
        "source_id": "web-shop",
    }
    signature = detail.pop("signature")
    assert signing.verify(KEY, codec.canonical(detail), signature)
    assert detail["signals"][1] == signal("e00001")
    assert entries[0].entry["Source"] == "signals.ingest" and entries[0].entry["DetailType"] == "page_view"


def test_pack_sources_and_types_never_share_a_batch() -> None:
    parsed = [
        parse_record("1", request_record(1, "a1", source="web-shop")),
        parse_record("2", request_record(2, "b1", source="ios-app")),
        parse_record("3", request_record(3, "a2", event_type="add_to_cart", source="web-shop")),
        parse_record("4", request_record(4, "a3", source="web-shop")),
    ]
    entries = pack_segment(parsed, packer())
    assert sorted(e.event_ids for e in entries) == [("a1", "a3"), ("a2",), ("b1",)]
    ingest = {e.event_ids: json.loads(e.entry["Detail"])["ingest"]["source_id"] for e in entries}
    assert ingest == {("a1", "a3"): "web-shop", ("a2",): "web-shop", ("b1",): "ios-app"}


def test_pack_the_same_records_give_the_same_batch_ids() -> None:
    parsed = [parse_record(record.sequence_number, record.data) for record in records(70)]
    first = [e.batch_id for e in pack_segment(parsed, packer())]
    again = [e.batch_id for e in pack_segment(list(parsed), packer())]
    assert first == again and len(set(first)) == 2


def test_segments_are_runs_of_consecutive_records_within_the_signal_budget() -> None:
    meta = IngestMetadata("t", "us-west-2", "r", "s")

    def record(seq: str, size: int) -> BufferedRecord:
        return BufferedRecord(
            seq, f"b{seq}", meta, tuple(EncodedSignal(f"{seq}-{i}", "t", "s", b"{}") for i in range(size))
        )

    runs = list(segments([record("1", 3), record("2", 2), record("3", 6), record("4", 1)], 5))
    assert [[r.sequence_number for r in run] for run in runs] == [["1", "2"], ["3"], ["4"]]


def test_parse_record_that_is_not_a_signal_batch_is_malformed() -> None:
    from signal_platform.errors import MalformedBatchError

    with pytest.raises(MalformedBatchError, match="record 9"):
        parse_record("9", b'{"signals": []}')


def test_forward_all_delivered_reports_no_failure() -> None:
    bus = Bus()
    outcome = forwarder(bus, 100).forward(records(250), deadline=1e9, invocation=INVOCATION)
    assert outcome.response() == {"batchItemFailures": []}
    assert outcome.signals_forwarded == 250 and outcome.bus_entries == 5
    assert len({i for e in bus.published for i in e.event_ids}) == 250


def test_forward_a_failed_segment_resumes_at_its_first_record_and_the_retry_repacks_it_identically() -> None:
    # GIVEN 250 records in segments of 100; the bus refuses the batch holding e00130 once
    bus = Bus(failing=["e00130"], times=1)
    batcher = forwarder(bus, 100)
    batch = records(250)
    # WHEN the batch is forwarded
    first = batcher.forward(batch, deadline=1e9, invocation=INVOCATION)
    # THEN the second segment's first record is reported; nothing after that segment was published
    assert first.response() == {"batchItemFailures": [{"itemIdentifier": "00100"}]}
    assert first.signals_forwarded == 100
    delivered_before = {e.batch_id: e.event_ids for e in bus.published}
    assert max(i for ids in delivered_before.values() for i in ids) == "e00199"
    # WHEN the mapping retries from that record (as Lambda does after ReportBatchItemFailures)
    retry = batcher.forward(batch[100:], deadline=1e9, invocation=INVOCATION)
    # THEN the already delivered batch of that segment comes again with the same id and members
    assert retry.response() == {"batchItemFailures": []}
    again = {e.batch_id: e.event_ids for e in bus.published[len(delivered_before) :]}
    assert {k: v for k, v in again.items() if k in delivered_before} == {
        k: v for k, v in delivered_before.items() if v[0] >= "e00100"
    }
    assert len({i for e in bus.published for i in e.event_ids}) == 250


def test_forward_a_failed_last_segment_is_cut_again_where_it_ended_when_the_retry_holds_more_records() -> (
    None
):
    # GIVEN 180 records in segments of 100 (the last holds 80: the batch ends there); the bus refuses
    # the batch holding e00120 once, after the batch of e00100..e00119 is delivered
    bus, cuts = Bus(failing=["e00120"], times=1), Cuts()
    batcher = forwarder(bus, 100, cuts=cuts)
    first = batcher.forward(records(180), deadline=1e9, invocation=INVOCATION)
    assert first.response() == {"batchItemFailures": [{"itemIdentifier": "00100"}]}
    # THEN the segment's cut is kept
    assert cuts.kept == {(SHARD, "00100"): "00179"}
    delivered = {e.batch_id: e.event_ids for e in bus.published}

    # WHEN the mapping retries from that record and the shard holds 20 more records by then
    retry = batcher.forward(records(200)[100:], deadline=1e9, invocation=INVOCATION)

    # THEN the failed segment is packed as before: the batch delivered the first time comes again
    # with the same id and members (the enrichment suppresses it), and no signal is in two batches
    assert retry.response() == {"batchItemFailures": []}
    again = {e.batch_id: e.event_ids for e in bus.published[len(delivered) :]}
    assert {k: v for k, v in again.items() if k in delivered} == {
        k: v for k, v in delivered.items() if v[0] >= "e00100"
    }
    batches_of = {}
    for entry in bus.published:
        for event_id in entry.event_ids:
            batches_of.setdefault(event_id, set()).add(entry.batch_id)
    assert len(batches_of) == 200
    assert all(len(ids) == 1 for ids in batches_of.values())
    # AND the records after the cut form segments of their own
    assert [e.event_ids[0] for e in bus.published[len(delivered) :]][-1] == "e00180"


def test_forward_a_kept_cut_applies_only_to_a_batch_starting_at_its_first_record() -> None:
    # GIVEN a cut kept for a segment that started at 00100
    cuts = Cuts()
    cuts.kept[(SHARD, "00100")] = "00104"
    bus = Bus()
    # WHEN a batch starting elsewhere is forwarded, THEN its segments follow the count alone
    forwarder(bus, 100, cuts=cuts).forward(records(120), deadline=1e9, invocation=INVOCATION)
    assert [len(e.event_ids) for e in bus.published] == [50, 50, 20]
    # AND a batch starting at 00100 ends its first segment at 00104
    bus = Bus()
    forwarder(bus, 100, cuts=cuts).forward(records(120)[100:], deadline=1e9, invocation=INVOCATION)
    assert bus.published[0].event_ids == tuple(f"e{n:05d}" for n in range(100, 105))


def test_forward_unreadable_cuts_fail_the_invocation_before_anything_is_published() -> None:
    # GIVEN the cuts cannot be read (the batch may start where a segment failed)
    bus = Bus()
    # WHEN / THEN the invocation fails (the mapping retries the batch); nothing is cut another way
    with pytest.raises(SegmentCutsError):
        forwarder(bus, 100, cuts=Cuts(unreadable=True)).forward(
            records(10), deadline=1e9, invocation=INVOCATION
        )
    assert bus.published == []


def test_forward_a_cut_that_cannot_be_kept_still_retries_the_segment_and_says_so() -> None:
    # GIVEN a segment the bus refuses, and a cuts table that refuses the write
    bus = Bus(failing=["e00005"], times=1)
    # WHEN forwarded
    outcome = forwarder(bus, 100, cuts=Cuts(unwritable=True)).forward(
        records(10), deadline=1e9, invocation=INVOCATION
    )
    # THEN its records are retried all the same (nothing lost), and the outcome names the lost cut
    assert outcome.response() == {"batchItemFailures": [{"itemIdentifier": "00000"}]}
    assert outcome.cut_not_kept == "PutItem on cuts failed: AccessDeniedException"


def test_forward_a_retry_without_the_cut_records_packs_as_usual_and_says_so() -> None:
    # GIVEN a cut ending at a record the retried batch does not hold (a shorter batch)
    cuts = Cuts()
    cuts.kept[(SHARD, "00100")] = "00179"
    bus = Bus()
    # WHEN forwarded
    outcome = forwarder(bus, 100, cuts=cuts).forward(records(150)[100:], deadline=1e9, invocation=INVOCATION)
    # THEN every record is published, and the outcome says the cut could not be repeated
    assert len({i for e in bus.published for i in e.event_ids}) == 50
    assert outcome.cut_not_reproduced and outcome.response() == {"batchItemFailures": []}


def test_segments_first_end_cuts_the_first_segment_there_and_counts_on_from_the_next_record() -> None:
    parsed = [parse_record(record.sequence_number, record.data) for record in records(12)]

    cut = [[r.sequence_number for r in segment] for segment in segments(parsed, 5, first_end="00002")]

    assert cut == [
        ["00000", "00001", "00002"],
        ["00003", "00004", "00005", "00006", "00007"],
        ["00008", "00009", "00010", "00011"],
    ]


def test_forward_an_identical_resend_in_the_same_invocation_is_forwarded_once() -> None:
    # GIVEN a request and its identical resend (same events: same batch id), a record apart
    bus = Bus()
    original, other = records(2)
    resend = kinesis_record("00002", request_record(7, "e00000"))  # another request id, the same event
    # WHEN they are forwarded in one invocation
    outcome = forwarder(bus, 100).forward([original, other, resend], deadline=1e9, invocation=INVOCATION)
    # THEN the event is published once, the resend counted as dropped
    assert [i for e in bus.published for i in e.event_ids] == ["e00000", "e00001"]
    assert outcome.resends_dropped == 1 and outcome.response() == {"batchItemFailures": []}


def test_forward_a_malformed_record_is_set_aside_and_the_records_around_it_are_published_in_order() -> None:
    # GIVEN a record that is not a signal batch between good ones, in segments of 2 signals
    bus, dlq = Bus(), Dlq()
    batch = [*records(3), kinesis_record("00003", b"not json"), *records(6)[4:]]
    # WHEN forwarded
    outcome = forwarder(bus, 2, dlq).forward(batch, deadline=1e9, invocation=INVOCATION)
    # THEN every good record is published, in order, nothing is left to retry
    assert [i for e in bus.published for i in e.event_ids] == [
        "e00000",
        "e00001",
        "e00002",
        "e00004",
        "e00005",
    ]
    assert outcome.response() == {"batchItemFailures": []}
    # AND the bad one is set aside: BufferDlq names just that record, marked as set aside by the batcher
    (message,) = dlq.sent
    assert message["KinesisBatchInfo"] == {
        "shardId": SHARD,
        "startSequenceNumber": "00003",
        "endSequenceNumber": "00003",
        "approximateArrivalOfFirstRecord": "2026-12-07T10:00:00.250Z",
        "approximateArrivalOfLastRecord": "2026-12-07T10:00:00.250Z",
        "batchSize": 1,
        "streamArn": STREAM_ARN,
    }
    assert message["requestContext"]["condition"] == "MalformedRecordSetAside"
    assert "record 00003 is not a signal batch" in message["setAside"]["reason"]
    assert [(r.shard_id, r.sequence_number) for r in outcome.set_aside] == [(SHARD, "00003")]
    assert outcome.malformed is None


def test_forward_a_malformed_record_that_cannot_be_set_aside_is_held_and_nothing_after_it_is_published() -> (
    None
):
    # GIVEN BufferDlq refusing the message (SQS answers AccessDenied)
    class Refusing:
        def send_message(self, **_: Any) -> dict[str, Any]:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "SendMessage")

    bus = Bus()
    dlq = BufferDlq("https://sqs.us-west-2.amazonaws.com/123456789012/buffer-dlq", client=Refusing)
    batch = [*records(3), kinesis_record("00003", b"not json"), *records(6)[4:]]
    # WHEN forwarded
    batcher = Forwarder(packer(), bus, segment_signals=2, dead_letters=dlq, cuts=Cuts())
    outcome = batcher.forward(batch, deadline=1e9, invocation=INVOCATION)
    # THEN the records before it are published, the mapping resumes at it, nothing after it went out
    assert [i for e in bus.published for i in e.event_ids] == ["e00000", "e00001", "e00002"]
    assert outcome.response() == {"batchItemFailures": [{"itemIdentifier": "00003"}]}
    assert outcome.malformed is not None and "AccessDenied" in str(outcome.set_aside_error)
    assert outcome.set_aside == []


def test_forward_packs_the_same_batches_whether_a_record_is_set_aside_at_once_or_on_a_retry() -> None:
    # GIVEN good records around one that is not a signal batch, all in one segment's reach
    batch = [*records(2), kinesis_record("00002", b"not json"), *records(5)[3:]]

    def published(bus: Bus) -> list[tuple[str, tuple[str, ...]]]:
        return [(entry.batch_id, tuple(entry.event_ids)) for entry in bus.published]

    # WHEN it is set aside at once
    at_once = Bus()
    forwarder(at_once, 100).forward(batch, deadline=1e9, invocation=INVOCATION)
    # AND, elsewhere, BufferDlq first refuses it and the mapping retries from it
    retried, dlq = Bus(), Dlq(failing=True)
    first = forwarder(retried, 100, dlq).forward(batch, deadline=1e9, invocation=INVOCATION)
    dlq.failing = False
    forwarder(retried, 100, dlq).forward(batch[2:], deadline=1e9, invocation=INVOCATION)
    # THEN the same batches went out, with the same ids: a segment never spans the record, so the
    # enrichment's idempotency sees a retry's batches as the ones it has
    assert first.response() == {"batchItemFailures": [{"itemIdentifier": "00002"}]}
    assert published(retried) == published(at_once)
    assert [ids for _, ids in published(at_once)] == [("e00000", "e00001"), ("e00003", "e00004")]


def test_forward_stops_setting_records_aside_at_the_deadline_and_resumes_at_the_first_not_set_aside() -> None:
    # GIVEN a batch of records no signal batch among them (a contract this batcher does not read),
    # each SendMessage taking a second, and 2.5 s to the deadline
    class SlowDlq(Dlq):
        def send(self, message: Mapping[str, Any]) -> str:
            now[0] += 1.0
            return super().send(message)

    now = [0.0]
    dlq = SlowDlq()
    batcher = Forwarder(
        packer(), Bus(), segment_signals=10, dead_letters=dlq, cuts=Cuts(), monotonic=lambda: now[0]
    )
    batch = [kinesis_record(f"{index:05d}", b"{}") for index in range(6)]
    # WHEN forwarded
    outcome = batcher.forward(batch, deadline=2.5, invocation=INVOCATION)
    # THEN the sends that began before the deadline set their records aside; the invocation answers
    # before it runs into the function's timeout (which would retry the whole batch, the same sends
    # again), the mapping resuming at the first record not set aside
    assert [m["KinesisBatchInfo"]["startSequenceNumber"] for m in dlq.sent] == ["00000", "00001", "00002"]
    assert outcome.response() == {"batchItemFailures": [{"itemIdentifier": "00003"}]}
    assert outcome.set_aside_error is not None and "deadline" in outcome.set_aside_error


def test_the_set_aside_message_is_a_one_record_range_the_dlq_hydrate_reads() -> None:
    # GIVEN the message the batcher sets a record aside with, as SQS hands it to the DLQ-hydrate
    dlq = Dlq()
    forwarder(Bus(), 10, dlq).forward(
        [kinesis_record("49640639147523129345374588230010", b"[]")], deadline=1e9, invocation=INVOCATION
    )
    sqs_record = {
        "messageId": "m-1",
        "body": codec.dumps(dlq.sent[0]).decode(),
        "eventSourceARN": "arn:aws:sqs:us-west-2:123456789012:buffer-dlq",
    }
    # WHEN parsed as the hydrate parses BufferDlq's messages
    failure = parse_message(sqs_record)
    # THEN it is the mapping's shape, naming exactly that record of that shard of that stream
    assert isinstance(failure, KinesisBatchFailure) and failure.shape == "esm"
    assert (failure.batch.shard_id, failure.batch.start, failure.batch.end) == (
        SHARD,
        49640639147523129345374588230010,
        49640639147523129345374588230010,
    )
    assert (failure.batch.batch_size, failure.batch.stream_arn) == (1, STREAM_ARN)


def _mapping_event(batch: Sequence[KinesisRecord]) -> dict[str, Any]:
    """The Kinesis event source mapping's event for ``batch``."""
    return {
        "Records": [
            {
                "kinesis": {
                    "sequenceNumber": record.sequence_number,
                    "data": base64.b64encode(record.data).decode(),
                    "partitionKey": "p",
                    "approximateArrivalTimestamp": ARRIVAL,
                },
                "eventID": f"shardId-000000000000:{record.sequence_number}",
                "eventSource": "aws:kinesis",
                "eventSourceARN": STREAM_ARN,
            }
            for record in batch
        ]
    }


def test_handler_counts_a_failed_segment_whose_cut_could_not_be_kept(
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN a segment the bus refuses, and a cuts table that refuses the write
    bus = Bus(failing=["e00001"], times=1)
    monkeypatch.setattr(dependencies, "forwarder", lambda: forwarder(bus, 10, cuts=Cuts(unwritable=True)))
    # WHEN the mapping's batch is handled
    answer = handler.lambda_handler(_mapping_event(records(3)), lambda_context)
    # THEN the records are retried, and the lost cut is counted and logged as an error
    assert answer == {"batchItemFailures": [{"itemIdentifier": "00000"}]}
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    (emf,) = [line for line in lines if "_aws" in line]
    assert emf["BufferSegmentCutsLost"] == [1.0]
    (logged,) = [r for r in caplog.records if r.getMessage().startswith("a failed segment's cut")]
    assert logged.levelname == "ERROR"


def test_handler_answers_the_kinesis_mapping_with_sequence_numbers(
    monkeypatch: pytest.MonkeyPatch, lambda_context: FakeLambdaContext
) -> None:
    bus = Bus(failing=["e00001"], times=1)
    monkeypatch.setattr(dependencies, "forwarder", lambda: forwarder(bus, 1))
    event = _mapping_event(records(3))
    assert handler.lambda_handler(event, lambda_context) == {
        "batchItemFailures": [{"itemIdentifier": "00001"}]
    }


def test_settings_defaults_and_the_template_variables() -> None:
    queue = {
        "BUFFER_DLQ_URL": "https://sqs.us-west-2.amazonaws.com/123456789012/buffer-dlq",
        "SEGMENT_CUTS_TABLE_NAME": "cuts",
    }
    settings = BatcherSettings.from_env({"INGRESS_BUS_NAME": "ingress", "SEGMENT_SIGNALS": "800", **queue})
    assert (settings.ingress_bus_name, settings.global_endpoint_id) == ("ingress", None)
    assert (settings.max_signals_per_entry, settings.segment_signals) == (50, 800)
    assert settings.buffer_dlq_url == queue["BUFFER_DLQ_URL"]
    with pytest.raises(ConfigurationError, match="SEGMENT_SIGNALS"):
        BatcherSettings.from_env({"INGRESS_BUS_NAME": "ingress", "SEGMENT_SIGNALS": "0", **queue})
    with pytest.raises(ConfigurationError, match="INGRESS_BUS_NAME"):
        BatcherSettings.from_env(queue)
    assert settings.segment_cuts_table_name == "cuts"
    with pytest.raises(ConfigurationError, match="BUFFER_DLQ_URL"):
        BatcherSettings.from_env({"INGRESS_BUS_NAME": "ingress"})
    with pytest.raises(ConfigurationError, match="SEGMENT_CUTS_TABLE_NAME"):
        BatcherSettings.from_env({"INGRESS_BUS_NAME": "ingress", "BUFFER_DLQ_URL": queue["BUFFER_DLQ_URL"]})


def test_forward_a_resend_is_dropped_only_next_to_its_original_so_a_retried_segment_packs_alike() -> None:
    # GIVEN segments of one record; a resend of the first request in the second segment
    resend = kinesis_record("00001", request_record(9, "e00000"))
    batch = [records(1)[0], resend]
    bus = Bus()
    # WHEN forwarded, and the second segment again on its own (as a retry from its first record)
    first = forwarder(bus, 1).forward(batch, deadline=1e9, invocation=INVOCATION)
    retried = forwarder(bus, 1).forward(batch[1:], deadline=1e9, invocation=INVOCATION)
    # THEN the resend's segment was packed the same both times: one batch, the same id
    ids = [entry.batch_id for entry in bus.published]
    assert first.resends_dropped == retried.resends_dropped == 0
    assert ids[1] == ids[2] and len(ids) == 3
