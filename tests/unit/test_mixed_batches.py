"""Mixed signal batches (SignalBatchGrouping Request, docs/adr/0010) downstream: the enrichment verifies,
enriches and regroups them by partition key, quarantines what breaks them; the batcher re-packs them."""

from __future__ import annotations

import copy
import json
from functools import partial
from typing import Any

import jsonschema_rs
import pytest

from batcher.packing import pack_segment, parse_record
from enrichment.models import BusEvent, SourceBatch
from enrichment.service import EnrichmentService
from s3_writer.records import decode_signals, parse_records
from signal_platform import codec, signing
from signal_platform.errors import MalformedBatchError
from signal_platform.schema_registry import SchemaRegistry
from signal_platform.signal_batches import (
    MIXED_EVENT_TYPE,
    MIXED_SCHEMA_VERSION,
    EncodedSignal,
    IngestMetadata,
    SignalBatcher,
)
from tests.unit.test_enrichment_service import FakeEvents, FakeS3, make_service, signal
from tests.unit.test_s3_writer_support import eventbridge_event, kinesis_record

KEY = b"unit-test-signing-key"
INGEST = IngestMetadata("2026-11-26T16:00:00.140Z", "us-west-2", "req-1", "web-shop")
KINDS = ("page_view", "click", "search")


def mixed_signals(count: int) -> list[dict[str, Any]]:
    return [
        signal(n, anonymous_id=("anon-1", "anon-2")[n % 2], event_type=KINDS[n % 3], data={"n": n})
        for n in range(count)
    ]


def ingress_batcher(*, by_type: bool = False, signer: Any = None) -> SignalBatcher:
    return SignalBatcher(
        bus_name="ingress", entry_source="signals.ingest", max_signals=500, signer=signer, by_type=by_type
    )


def mixed_event(signals: list[dict[str, Any]]) -> BusEvent:
    encoded = [EncodedSignal(s["event_id"], s["event_type"], "web-shop", codec.canonical(s)) for s in signals]
    (entry,) = ingress_batcher(signer=partial(signing.sign, KEY)).build(encoded, INGEST)
    return BusEvent.parse(
        {
            "id": "0d9f8e7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f",
            "detail-type": entry.entry["DetailType"],
            "source": "signals.ingest",
            "time": "2026-11-26T23:59:59Z",
            "region": "us-west-2",
            "detail": codec.loads(entry.entry["Detail"]),
        }
    )


def mixed_service(*, by_type: bool) -> tuple[EnrichmentService, FakeS3, FakeEvents]:
    return make_service(key=lambda: KEY, max_signals=50, by_type=by_type)


def test_enrichment_of_a_mixed_batch_forwards_one_entry_per_partition_key() -> None:
    # GIVEN a signed mixed batch: six signals of three types and two visitors
    signals = mixed_signals(6)
    service, s3, events = mixed_service(by_type=False)
    # WHEN it is handled with per-request grouping
    outcome = service.handle(mixed_event(signals), deadline=float("inf"))
    # THEN every signal is enriched and forwarded once, one mixed entry per visitor, in arrival order
    assert (outcome.status, outcome.forwarded, outcome.quarantined, outcome.entries) == ("enriched", 6, 0, 2)
    details = events.details()
    assert [(d["partition_key"], [s["event_id"] for s in d["signals"]]) for d in details] == [
        ("anon-1", [signals[n]["event_id"] for n in (0, 2, 4)]),
        ("anon-2", [signals[n]["event_id"] for n in (1, 3, 5)]),
    ]
    assert [d["event_types"] for d in details] == [sorted(KINDS), sorted(KINDS)]
    assert {request["DetailType"] for call in events.requests for request in call} == {MIXED_EVENT_TYPE}
    assert s3.objects == {}


def test_enrichment_of_a_mixed_batch_with_type_grouping_splits_it_per_type() -> None:
    # GIVEN the same mixed batch WHEN the enrichment groups by event type (a stack switched back)
    service, _, events = mixed_service(by_type=True)
    outcome = service.handle(mixed_event(mixed_signals(6)), deadline=float("inf"))
    # THEN it is accepted and split per (type, visitor): both shapes are read whatever the setting
    assert (outcome.status, outcome.forwarded, outcome.entries) == ("enriched", 6, 6)
    assert {d["event_type"] for d in events.details()} == set(KINDS)


def test_enrichment_quarantines_a_signal_whose_type_the_mixed_batch_does_not_list() -> None:
    # GIVEN a mixed batch listing page_view and click, and one signal claiming purchase (signed as such)
    signals = [*mixed_signals(2), signal(9, event_type="purchase")]
    event = mixed_event(signals)
    raw = copy.deepcopy(dict(event.raw))
    raw["detail"]["event_types"] = ["click", "page_view"]
    unsigned = {k: v for k, v in raw["detail"].items() if k != "signature"}
    raw["detail"]["signature"] = signing.sign(KEY, codec.canonical(unsigned))
    service, s3, _ = mixed_service(by_type=False)
    # WHEN it is handled
    outcome = service.handle(BusEvent.parse(raw), deadline=float("inf"))
    # THEN the two listed signals go on, the third is quarantined with the reason and the batch's types
    assert (outcome.forwarded, outcome.quarantined) == (2, 1)
    ((body, _),) = s3.objects.values()
    document = json.loads(body)
    assert document["event_types"] == ["click", "page_view"]
    assert (
        document["rejected"][0]["reason"]
        == "event_type 'purchase' is not one of the batch's ['click', 'page_view']"
    )


def test_source_batch_of_type_mixed_without_its_list_is_malformed() -> None:
    # GIVEN a mixed batch's Detail without event_types
    detail = dict(mixed_event(mixed_signals(3)).detail or {})
    del detail["event_types"]
    # WHEN parsed THEN it is a malformed batch (quarantined whole by the service)
    with pytest.raises(MalformedBatchError, match="event_types"):
        SourceBatch.parse(detail)


def test_batcher_repacks_mixed_and_per_type_buffer_records_per_source() -> None:
    # GIVEN buffer records of two requests, one written per request (mixed), one per type
    first = [
        EncodedSignal(s["event_id"], s["event_type"], "web-shop", codec.canonical(s))
        for s in mixed_signals(3)
    ]
    second = [EncodedSignal(s["event_id"], "page_view", "web-shop", codec.canonical(s)) for s in [signal(7)]]
    (mixed,) = ingress_batcher(by_type=False).build(first, INGEST)
    (typed,) = ingress_batcher(by_type=True).build(second, INGEST)
    records = [
        parse_record("1", str(mixed.entry["Detail"]).encode()),
        parse_record("2", str(typed.entry["Detail"]).encode()),
    ]
    # WHEN the batcher packs them per request
    (entry,) = pack_segment(records, ingress_batcher(by_type=False, signer=partial(signing.sign, KEY)))
    detail = json.loads(entry.entry["Detail"])
    # THEN one mixed batch holds all four, each signal keeping its own type
    assert entry.event_ids == (*(s.event_id for s in first), second[0].event_id)
    assert [s["event_type"] for s in detail["signals"]] == ["page_view", "click", "search", "page_view"]
    assert detail["event_types"] == ["click", "page_view", "search"]
    # AND packed per type, the mixed record's signals split by their own types
    per_type = pack_segment(records, ingress_batcher(by_type=True))
    assert sorted(e.entry["DetailType"] for e in per_type) == ["click", "page_view", "search"]


def test_no_registered_event_type_takes_the_mixed_name() -> None:
    # The mixed batch id and DetailType must never be a registered type's.
    assert MIXED_EVENT_TYPE not in SchemaRegistry().event_types


def _contract(name: str) -> Any:
    schema = SchemaRegistry().contract(name, MIXED_SCHEMA_VERSION)
    return jsonschema_rs.Draft7Validator(schema, validate_formats=True, offline=True)


def test_mixed_batches_meet_their_contracts_1_1_0_and_the_lake_writer_reads_them() -> None:
    # GIVEN a mixed ingress batch, and what the enrichment makes of it per partition key
    event = mixed_event(mixed_signals(6))
    service, _, events = mixed_service(by_type=False)
    service.handle(event, deadline=float("inf"))
    # THEN the ingress batch meets signal_batch 1-1-0 and the enriched ones enriched_batch 1-1-0
    errors = [error.message for error in _contract("signal_batch").iter_errors(dict(event.detail or {}))]
    assert errors == []
    enriched = _contract("enriched_batch")
    for detail in events.details():
        assert [error.message for error in enriched.iter_errors(detail)] == []
    # AND the S3 writer turns each into one lake line per signal, under the signal's own type
    records = [
        kinesis_record(codec.dumps(eventbridge_event(detail)), index)
        for index, detail in enumerate(events.details())
    ]
    lines = [line for record in parse_records(records) for line in decode_signals(record)]
    assert sorted(line.event_type for line in lines) == sorted(KINDS[n % 3] for n in range(6))
