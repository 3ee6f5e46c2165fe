"""The generalised SignalBatcher as the enrichment uses it: grouped by partition key, unsigned, own fields."""

from __future__ import annotations

import json
import uuid
from functools import partial
from typing import Any

import pytest

from signal_platform import codec, signing
from signal_platform.signal_batches import (
    MAX_ENTRY_BYTES,
    BusEntry,
    EncodedSignal,
    IngestMetadata,
    SignalBatcher,
    batch_id_for,
    by_partition_key,
    group_in_arrival_order,
    unsigned_bytes,
)

FIELDS = {"source_batch_id": "5e0b7c3a9d2f41e8b6a1c4d7e9f02b38", "enriched_at": "2026-11-26T16:00:01.000Z"}
KEY = b"test-signing-key"


def enriched(n: int, partition_key: str, event_type: str = "page_view", *, pad: int = 0) -> EncodedSignal:
    event_id = str(uuid.UUID(int=n))
    body = codec.canonical({"event_id": event_id, "partition_key": partition_key, "pad": "x" * pad})
    return EncodedSignal(event_id, event_type, "web-shop", body, partition_key)


def batcher(max_signals: int = 50, **kwargs: Any) -> SignalBatcher:
    options: dict[str, Any] = {
        "signer": None,
        "group_key": by_partition_key,
        "group_field": "partition_key",
        **kwargs,
    }
    return SignalBatcher(
        bus_name="data-platform", entry_source="signals.enriched", max_signals=max_signals, **options
    )


def detail(entry: BusEntry) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(entry.entry["Detail"])
    return parsed


def test_pack_groups_by_event_type_and_partition_key_in_arrival_order() -> None:
    # GIVEN interleaved signals of two people and two event types
    arrivals = [
        ("u1", "page_view"),
        ("u2", "page_view"),
        ("u1", "click"),
        ("u1", "page_view"),
        ("u2", "page_view"),
    ]
    signals = [enriched(n, key, event_type) for n, (key, event_type) in enumerate(arrivals)]
    # WHEN they are packed
    entries = batcher().pack(signals, FIELDS)
    # THEN one entry per (event type, partition key), in first-arrival order, members in arrival order
    assert [(e.entry["DetailType"], detail(e)["partition_key"], e.event_ids) for e in entries] == [
        ("page_view", "u1", (signals[0].event_id, signals[3].event_id)),
        ("page_view", "u2", (signals[1].event_id, signals[4].event_id)),
        ("click", "u1", (signals[2].event_id,)),
    ]
    assert [[s.event_id for s in g] for g in group_in_arrival_order(signals, by_partition_key)] == [
        list(e.event_ids) for e in entries
    ]


def test_pack_detail_is_the_enriched_batch_shape_unsigned_and_canonical() -> None:
    # GIVEN two signals of one person
    signals = [enriched(0, "u1"), enriched(1, "u1")]
    # WHEN packed without a signer
    (entry,) = batcher().pack(signals, FIELDS)
    parsed = detail(entry)
    # THEN the Detail carries exactly the contract's fields, no signature, canonical bytes
    assert set(parsed) == {
        "batch_id",
        "schema_version",
        "event_type",
        "partition_key",
        "source_batch_id",
        "enriched_at",
        "signals",
    }
    assert parsed["batch_id"] == entry.batch_id == batch_id_for("page_view", "u1", entry.event_ids)
    assert parsed["signals"] == [json.loads(s.body) for s in signals]
    assert entry.entry["Detail"].encode() == codec.canonical(parsed)
    assert (entry.entry["Source"], entry.entry["EventBusName"]) == ("signals.enriched", "data-platform")
    assert entry.size == sum(len(entry.entry[f].encode()) for f in ("Detail", "DetailType", "Source"))


def test_pack_same_signals_again_gives_the_same_batch_ids() -> None:
    # GIVEN the same enriched signals packed on two attempts (a retried invocation)
    signals = [enriched(n, f"u{n % 3}") for n in range(30)]
    first = batcher(max_signals=4).pack(signals, FIELDS)
    # WHEN packed again, even at another enriched_at
    second = batcher(max_signals=4).pack(signals, {**FIELDS, "enriched_at": "2026-11-26T16:05:00.000Z"})
    # THEN the batch ids and members are identical
    assert [(e.batch_id, e.event_ids) for e in first] == [(e.batch_id, e.event_ids) for e in second]


@pytest.mark.parametrize(("count", "max_signals", "expected"), [(120, 50, [50, 50, 20]), (3, 1, [1, 1, 1])])
def test_pack_respects_the_count_cap(count: int, max_signals: int, expected: list[int]) -> None:
    entries = batcher(max_signals=max_signals).pack([enriched(n, "u1") for n in range(count)], FIELDS)
    assert [len(e.event_ids) for e in entries] == expected


def test_pack_respects_64_kb_per_entry_exactly() -> None:
    # GIVEN 2 KB signals of one person and no count pressure
    signals = [enriched(n, "u1", pad=2000) for n in range(100)]
    # WHEN packed
    entries = batcher(max_signals=500).pack(signals, FIELDS)
    # THEN every entry fits 64 KB and the next signal would not have fitted
    assert all(e.size <= MAX_ENTRY_BYTES for e in entries)
    assert all(e.size + 1 + len(signals[0].body) > MAX_ENTRY_BYTES for e in entries[:-1])
    assert sum(len(e.event_ids) for e in entries) == 100


@pytest.mark.parametrize("field", ["batch_id", "signals", "signature", "partition_key"])
def test_pack_fields_shadowing_the_batchers_own_are_refused(field: str) -> None:
    with pytest.raises(ValueError, match="written by the batcher"):
        batcher().pack([enriched(0, "u1")], {field: "x"})


def test_group_field_reserved_name_is_refused() -> None:
    with pytest.raises(ValueError, match="reserved"):
        batcher(group_field="batch_id")


def test_signed_pack_with_a_field_sorting_after_signature_stays_canonical_and_verifies() -> None:
    # GIVEN a signing batcher and a field that sorts after "signature" ("source_batch_id")
    signed = batcher(signer=partial(signing.sign, KEY))
    # WHEN it packs
    (entry,) = signed.pack([enriched(0, "u1")], FIELDS)
    parsed = detail(entry)
    # THEN the Detail is canonical (signature in its sorted place) and the signature verifies
    assert entry.entry["Detail"].encode() == codec.canonical(parsed)
    assert signing.verify(KEY, unsigned_bytes(parsed), parsed["signature"])
    assert entry.size == len(entry.entry["Detail"]) + len("page_view") + len("signals.enriched")


def test_build_for_the_ingress_is_unchanged_by_the_generalisation() -> None:
    # GIVEN the ingress batcher (defaults) and the same signals through the general pack
    ingress = SignalBatcher(
        bus_name="ingress", entry_source="signals.ingest", max_signals=50, signer=partial(signing.sign, KEY)
    )
    metadata = IngestMetadata("2026-11-26T16:00:00.000Z", "us-west-2", "req", "web-shop")
    signals = [enriched(n, "") for n in range(3)]
    # WHEN both build / THEN they are identical, grouped by source, signed, with the ingest metadata
    assert ingress.build(signals, metadata) == ingress.pack(signals, {"ingest": metadata.as_dict()})
    (entry,) = ingress.build(signals, metadata)
    assert entry.batch_id == batch_id_for("page_view", "web-shop", entry.event_ids)
    assert set(detail(entry)) == {
        "batch_id",
        "event_type",
        "ingest",
        "schema_version",
        "signals",
        "signature",
    }
