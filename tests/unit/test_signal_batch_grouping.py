"""Signal batches per request (SignalBatchGrouping Request, docs/adr/0010): several event types in one
batch, every signal once, arrival order kept, within the size and count limits, deterministic ids."""

from __future__ import annotations

import json
import uuid
from functools import partial
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signal_platform import codec, signing
from signal_platform import settings as env
from signal_platform.errors import ConfigurationError
from signal_platform.signal_batches import (
    MAX_ENTRY_BYTES,
    MIXED_EVENT_TYPE,
    MIXED_SCHEMA_VERSION,
    EncodedSignal,
    IngestMetadata,
    SignalBatcher,
    by_partition_key,
    group_by_key_in_arrival_order,
    unsigned_bytes,
)

KEY = b"test-signing-key-0123456789abcdef"
INGEST = IngestMetadata("2025-11-26T14:03:22.100Z", "us-west-2", "req-1", "web-storefront")
TYPES = ("page_view", "click", "search", "add_to_cart", "purchase", "identify")


def signal(
    n: int, event_type: str, *, source: str = "web-storefront", pad: int = 0, key: str = ""
) -> EncodedSignal:
    event_id = str(uuid.UUID(int=n))
    body = codec.canonical(
        {"event_id": event_id, "event_type": event_type, "source": source, "pad": "x" * pad}
    )
    return EncodedSignal(event_id, event_type, source, body, key)


def batcher(*, by_type: bool, max_signals: int = 50, **kwargs: Any) -> SignalBatcher:
    return SignalBatcher(
        bus_name="ingress",
        entry_source="signals.ingest",
        max_signals=max_signals,
        signer=partial(signing.sign, KEY),
        by_type=by_type,
        **kwargs,
    )


def realistic_request(count: int = 100) -> list[EncodedSignal]:
    return [signal(n, TYPES[(n * 7) % len(TYPES)], pad=900) for n in range(count)]


def test_request_grouping_of_a_mixed_request_needs_fewer_entries_than_per_type() -> None:
    # GIVEN a 100-event request of six types, ~1 KB each
    signals = realistic_request()
    # WHEN it is batched per type and per request
    per_type = batcher(by_type=True).build(signals, INGEST)
    per_request = batcher(by_type=False).build(signals, INGEST)
    # THEN per type needs an entry per type and size cut (>= 6); per request only the size cut (2 of 64 KB)
    assert len(per_type) >= len(TYPES)
    assert len(per_request) == 2
    assert sum(len(entry.event_ids) for entry in per_request) == 100


def test_request_grouping_entry_names_the_mixed_shape_and_lists_its_types() -> None:
    # GIVEN three signals of two types
    signals = [signal(0, "page_view"), signal(1, "click"), signal(2, "page_view")]
    # WHEN they are batched per request
    (entry,) = batcher(by_type=False).build(signals, INGEST)
    detail = json.loads(entry.entry["Detail"])
    # THEN DetailType and event_type say "mixed", event_types lists the types sorted, version 1-1-0,
    # the signals are in arrival order and the signature verifies over the canonical bytes
    assert entry.entry["DetailType"] == MIXED_EVENT_TYPE == detail["event_type"]
    assert detail["event_types"] == ["click", "page_view"]
    assert detail["schema_version"] == MIXED_SCHEMA_VERSION == "1-1-0"
    assert [item["event_id"] for item in detail["signals"]] == [s.event_id for s in signals]
    assert signing.verify(KEY, unsigned_bytes(detail), detail["signature"]) is True


def test_request_grouping_of_one_type_still_uses_the_mixed_shape_and_another_id() -> None:
    # GIVEN signals of one type
    signals = [signal(n, "click") for n in range(3)]
    # WHEN batched per type and per request
    (typed,) = batcher(by_type=True).build(signals, INGEST)
    (mixed,) = batcher(by_type=False).build(signals, INGEST)
    # THEN the shape follows the setting, not the content, and the ids differ
    assert typed.entry["DetailType"] == "click"
    assert mixed.entry["DetailType"] == MIXED_EVENT_TYPE
    assert json.loads(mixed.entry["Detail"])["event_types"] == ["click"]
    assert typed.batch_id != mixed.batch_id


def test_request_grouping_refuses_fields_that_shadow_event_types() -> None:
    # GIVEN a mixed batcher WHEN a caller's fields hold event_types THEN it refuses them
    with pytest.raises(ValueError, match="event_types"):
        batcher(by_type=False).pack([signal(0, "click")], {"event_types": ["x"]})


def test_request_grouping_on_the_data_platform_bus_groups_by_partition_key_only() -> None:
    # GIVEN enriched signals of two users, mixed types, interleaved
    signals = [signal(n, TYPES[n % 3], key=f"user-{n % 2}") for n in range(6)]
    enriched = batcher(by_type=False, group_key=by_partition_key, group_field="partition_key")
    # WHEN packed
    entries = enriched.pack(signals, {"source_batch_id": "0" * 32})
    # THEN one entry per partition key, each in arrival order, with its own types
    details = [json.loads(entry.entry["Detail"]) for entry in entries]
    assert [d["partition_key"] for d in details] == ["user-0", "user-1"]
    assert [[s["event_id"] for s in d["signals"]] for d in details] == [
        [signals[n].event_id for n in (0, 2, 4)],
        [signals[n].event_id for n in (1, 3, 5)],
    ]
    assert details[0]["event_types"] == sorted({TYPES[0], TYPES[2], TYPES[1]})


@settings(max_examples=60, deadline=None)
@given(
    plan=st.lists(
        st.tuples(st.sampled_from(TYPES), st.sampled_from(("web", "app")), st.integers(0, 20_000)),
        min_size=1,
        max_size=60,
    ),
    max_signals=st.integers(1, 20),
)
def test_request_grouping_keeps_every_signal_once_in_order_within_limits(
    plan: list[tuple[str, str, int]], max_signals: int
) -> None:
    # GIVEN any mix of types, sources and sizes
    signals = [signal(n, kind, source=source, pad=pad) for n, (kind, source, pad) in enumerate(plan)]
    # WHEN batched per request (grouped by source) twice
    entries = batcher(by_type=False, max_signals=max_signals).build(signals, INGEST)
    again = batcher(by_type=False, max_signals=max_signals).build(signals, INGEST)
    per_type_ids = {e.batch_id for e in batcher(by_type=True, max_signals=max_signals).build(signals, INGEST)}
    # THEN every signal is in exactly one entry
    carried = [event_id for entry in entries for event_id in entry.event_ids]
    assert sorted(carried) == sorted(s.event_id for s in signals)
    # AND each source's signals keep arrival order across its entries
    details = [json.loads(entry.entry["Detail"]) for entry in entries]
    for source in ("web", "app"):
        expected = [s.event_id for s in signals if s.source == source]
        got = [item["event_id"] for d in details for item in d["signals"] if item["source"] == source]
        assert got == expected
    for entry in entries:
        detail = json.loads(entry.entry["Detail"])
        kinds = {item["event_type"] for item in detail["signals"]}
        # AND an entry holds one source, lists exactly its types, fits the count and 64 KB (or is alone)
        assert len({item["source"] for item in detail["signals"]}) == 1
        assert detail["event_types"] == sorted(kinds)
        assert len(entry.event_ids) <= max_signals
        assert entry.size <= MAX_ENTRY_BYTES or len(entry.event_ids) == 1
    # AND the ids are deterministic for an identical resend and never a per-type batch's
    assert [e.batch_id for e in again] == [e.batch_id for e in entries]
    assert per_type_ids.isdisjoint(e.batch_id for e in entries)


def test_group_by_key_in_arrival_order_keeps_first_arrival_order() -> None:
    # GIVEN signals of sources b, a, b
    signals = [
        signal(0, "click", source="b"),
        signal(1, "search", source="a"),
        signal(2, "page_view", source="b"),
    ]
    # WHEN grouped by source alone THEN b's group comes first and holds both of its types
    groups = group_by_key_in_arrival_order(signals, lambda s: s.source)
    assert [[s.event_id for s in group] for group in groups] == [
        [signals[0].event_id, signals[2].event_id],
        [signals[1].event_id],
    ]


@pytest.mark.parametrize(("raw", "expected"), [("", False), ("EventType", True), ("Request", False)])
def test_groups_by_type_reads_the_template_setting(raw: str, expected: bool) -> None:
    assert env.groups_by_type({"SIGNAL_BATCH_GROUPING": raw}) is expected


def test_groups_by_type_refuses_an_unknown_setting() -> None:
    with pytest.raises(ConfigurationError, match="SIGNAL_BATCH_GROUPING"):
        env.groups_by_type({"SIGNAL_BATCH_GROUPING": "request"})
