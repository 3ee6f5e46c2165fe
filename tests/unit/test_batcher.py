"""The batcher: buffer records re-packed into the validator's signal batches, segment by segment,
and the first record of an undelivered segment reported back to the event source mapping."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

import pytest

from batcher import dependencies, handler
from batcher.packing import BufferedRecord, pack_segment, parse_record, segments
from batcher.service import Forwarder
from batcher.settings import BatcherSettings
from signal_platform import codec, signing
from signal_platform.bus_publisher import PublishOutcome
from signal_platform.errors import ConfigurationError
from signal_platform.signal_batches import BusEntry, EncodedSignal, IngestMetadata, SignalBatcher
from tests.conftest import FakeLambdaContext

KEY = b"k" * 32


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


def records(count: int) -> list[tuple[str, bytes]]:
    return [(f"{index:05d}", request_record(index, f"e{index:05d}")) for index in range(count)]


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
    parsed = [parse_record(seq, data) for seq, data in records(120)]
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
    parsed = [parse_record(seq, data) for seq, data in records(70)]
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
    outcome = Forwarder(packer(), bus, segment_signals=100).forward(records(250), deadline=1e9)
    assert outcome.response() == {"batchItemFailures": []}
    assert outcome.signals_forwarded == 250 and outcome.bus_entries == 5
    assert len({i for e in bus.published for i in e.event_ids}) == 250


def test_forward_a_failed_segment_resumes_at_its_first_record_and_the_retry_repacks_it_identically() -> None:
    # GIVEN 250 records in segments of 100; the bus refuses the batch holding e00130 once
    bus = Bus(failing=["e00130"], times=1)
    forwarder = Forwarder(packer(), bus, segment_signals=100)
    batch = records(250)
    # WHEN the batch is forwarded
    first = forwarder.forward(batch, deadline=1e9)
    # THEN the second segment's first record is reported; nothing after that segment was published
    assert first.response() == {"batchItemFailures": [{"itemIdentifier": "00100"}]}
    assert first.signals_forwarded == 100
    delivered_before = {e.batch_id: e.event_ids for e in bus.published}
    assert max(i for ids in delivered_before.values() for i in ids) == "e00199"
    # WHEN the mapping retries from that record (as Lambda does after ReportBatchItemFailures)
    retry = forwarder.forward(batch[100:], deadline=1e9)
    # THEN the already delivered batch of that segment comes again with the same id and members
    assert retry.response() == {"batchItemFailures": []}
    again = {e.batch_id: e.event_ids for e in bus.published[len(delivered_before) :]}
    assert {k: v for k, v in again.items() if k in delivered_before} == {
        k: v for k, v in delivered_before.items() if v[0] >= "e00100"
    }
    assert len({i for e in bus.published for i in e.event_ids}) == 250


def test_forward_an_identical_resend_in_the_same_invocation_is_forwarded_once() -> None:
    # GIVEN a request and its identical resend (same events: same batch id), a record apart
    bus = Bus()
    original, other = records(2)
    resend = ("00002", request_record(7, "e00000"))  # another request id, the same event
    # WHEN they are forwarded in one invocation
    outcome = Forwarder(packer(), bus, segment_signals=100).forward([original, other, resend], deadline=1e9)
    # THEN the event is published once, the resend counted as dropped
    assert [i for e in bus.published for i in e.event_ids] == ["e00000", "e00001"]
    assert outcome.resends_dropped == 1 and outcome.response() == {"batchItemFailures": []}


def test_forward_a_malformed_record_publishes_the_ones_before_and_stops_at_it() -> None:
    bus = Bus()
    batch = [*records(3), ("00003", b"not json"), ("00004", request_record(4, "e00004"))]
    outcome = Forwarder(packer(), bus, segment_signals=100).forward(batch, deadline=1e9)
    assert outcome.response() == {"batchItemFailures": [{"itemIdentifier": "00003"}]}
    assert outcome.malformed is not None
    assert [i for e in bus.published for i in e.event_ids] == ["e00000", "e00001", "e00002"]


def test_handler_answers_the_kinesis_mapping_with_sequence_numbers(
    monkeypatch: pytest.MonkeyPatch, lambda_context: FakeLambdaContext
) -> None:
    bus = Bus(failing=["e00001"], times=1)
    monkeypatch.setattr(dependencies, "forwarder", lambda: Forwarder(packer(), bus, segment_signals=1))
    event = {
        "Records": [
            {
                "kinesis": {
                    "sequenceNumber": seq,
                    "data": base64.b64encode(data).decode(),
                    "partitionKey": "p",
                },
                "eventID": f"shardId-000000000000:{seq}",
                "eventSource": "aws:kinesis",
            }
            for seq, data in records(3)
        ]
    }
    assert handler.lambda_handler(event, lambda_context) == {
        "batchItemFailures": [{"itemIdentifier": "00001"}]
    }


def test_settings_defaults_and_the_template_variables() -> None:
    settings = BatcherSettings.from_env({"INGRESS_BUS_NAME": "ingress", "SEGMENT_SIGNALS": "800"})
    assert (settings.ingress_bus_name, settings.global_endpoint_id) == ("ingress", None)
    assert (settings.max_signals_per_entry, settings.segment_signals) == (50, 800)
    with pytest.raises(ConfigurationError, match="SEGMENT_SIGNALS"):
        BatcherSettings.from_env({"INGRESS_BUS_NAME": "ingress", "SEGMENT_SIGNALS": "0"})
    with pytest.raises(ConfigurationError, match="INGRESS_BUS_NAME"):
        BatcherSettings.from_env({})


def test_forward_a_resend_is_dropped_only_next_to_its_original_so_a_retried_segment_packs_alike() -> None:
    # GIVEN segments of one record; a resend of the first request in the second segment
    resend = ("00001", request_record(9, "e00000"))
    batch = [records(1)[0], resend]
    bus = Bus()
    # WHEN forwarded, and the second segment again on its own (as a retry from its first record)
    first = Forwarder(packer(), bus, segment_signals=1).forward(batch, deadline=1e9)
    retried = Forwarder(packer(), bus, segment_signals=1).forward(batch[1:], deadline=1e9)
    # THEN the resend's segment was packed the same both times: one batch, the same id
    ids = [entry.batch_id for entry in bus.published]
    assert first.resends_dropped == retried.resends_dropped == 0
    assert ids[1] == ids[2] and len(ids) == 3
