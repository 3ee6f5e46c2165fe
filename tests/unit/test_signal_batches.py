"""Signal batches: deterministic ids, grouping, size/count packing, signatures, PutEvents calls."""

from __future__ import annotations

import json
import math
import uuid
from functools import partial
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signal_platform import codec, signing
from signal_platform.signal_batches import (
    BATCH_SCHEMA_VERSION,
    MAX_CALL_BYTES,
    MAX_ENTRIES_PER_CALL,
    MAX_ENTRY_BYTES,
    BusEntry,
    EncodedSignal,
    IngestMetadata,
    SignalBatcher,
    batch_id_for,
    calls,
    chunk_by_size_and_count,
    group_in_arrival_order,
    unsigned_bytes,
)

KEY = b"test-signing-key-0123456789abcdef"
INGEST = IngestMetadata(
    received_at="2025-11-26T14:03:22.100Z",
    region="us-west-2",
    request_id="c6af9ac6-7b61-11e6-9a41-93e812345678",
    source_id="web-storefront",
)
BUS = "ingress"
ENTRY_SOURCE = "signals.ingest"


def event_id(n: int) -> str:
    return str(uuid.UUID(int=n))


def signal(
    n: int,
    event_type: str = "page_view",
    source: str = "web-storefront",
    *,
    size: int | None = None,
    data: dict[str, Any] | None = None,
) -> EncodedSignal:
    """A canonical signal; with ``size`` its body is padded to exactly that many bytes."""
    value: dict[str, Any] = {
        "data": data if data is not None else {"n": n},
        "event_id": event_id(n),
        "event_type": event_type,
        "source": source,
    }
    body = codec.canonical(value)
    if size is not None:
        value["pad"] = ""
        padding = size - len(codec.canonical(value))
        assert padding >= 0, "size too small for this signal"
        value["pad"] = "x" * padding
        body = codec.canonical(value)
        assert len(body) == size
    return EncodedSignal(event_id=event_id(n), event_type=event_type, source=source, body=body)


def batcher(max_signals: int = 50, **kwargs: Any) -> SignalBatcher:
    return SignalBatcher(
        bus_name=BUS,
        entry_source=ENTRY_SOURCE,
        max_signals=max_signals,
        signer=partial(signing.sign, KEY),
        **kwargs,
    )


def utf8_size(entry: BusEntry) -> int:
    """What EventBridge bills: Detail + DetailType + Source, in UTF-8 bytes."""
    return sum(len(entry.entry[field].encode()) for field in ("Detail", "DetailType", "Source"))


def parsed(entry: BusEntry) -> dict[str, Any]:
    """The Detail as a consumer sees it (standard-library JSON)."""
    detail: dict[str, Any] = json.loads(entry.entry["Detail"])
    return detail


# --- batch ids -------------------------------------------------------------------------------------


def test_batch_id_for_same_signals_is_deterministic() -> None:
    # GIVEN the same event type, source and event ids twice
    ids = [event_id(n) for n in range(5)]
    # WHEN the id is derived twice
    first = batch_id_for("page_view", "web", ids)
    second = batch_id_for("page_view", "web", list(ids))
    # THEN it is the same 32-hex id
    assert first == second
    assert len(first) == 32
    assert int(first, 16) >= 0
    assert first == first.lower()


@pytest.mark.parametrize(
    ("event_type", "source", "ids"),
    [
        ("page_view", "web", [event_id(1), event_id(0), event_id(2), event_id(3), event_id(4)]),  # order
        ("page_view", "web", [event_id(n) for n in range(4)]),  # one fewer
        ("page_view", "web", [event_id(n) for n in range(6)]),  # one more
        ("page_view", "web", [event_id(n) for n in (0, 1, 2, 3, 9)]),  # one replaced
        ("click", "web", [event_id(n) for n in range(5)]),  # other type
        ("page_view", "app", [event_id(n) for n in range(5)]),  # other source
        ("page_vie", "wweb", [event_id(n) for n in range(5)]),  # fields are separated, not concatenated
        ("page_view", "web", []),
    ],
    ids=["order", "fewer", "more", "replaced", "event-type", "source", "boundary", "empty"],
)
def test_batch_id_for_different_order_or_composition_differs(
    event_type: str, source: str, ids: list[str]
) -> None:
    # GIVEN a reference batch of five signals
    reference = batch_id_for("page_view", "web", [event_id(n) for n in range(5)])
    # WHEN any part of the batch differs
    other = batch_id_for(event_type, source, ids)
    # THEN the id differs
    assert other != reference


def test_batcher_identical_resend_gives_identical_entries() -> None:
    # GIVEN the same signals sent twice with the same metadata
    signals = [signal(n, "click" if n % 3 else "page_view") for n in range(40)]
    # WHEN both are batched by independent batchers
    first = batcher(max_signals=7).build(signals, INGEST)
    second = batcher(max_signals=7).build(list(signals), INGEST)
    # THEN ids, members and bytes are identical
    assert first == second
    assert [e.batch_id for e in first] == [
        batch_id_for(e.entry["DetailType"], "web-storefront", e.event_ids) for e in first
    ]


def test_batcher_different_order_gives_different_batch_ids() -> None:
    # GIVEN the same signals in another order
    signals = [signal(n) for n in range(6)]
    # WHEN both orders are batched
    forward = batcher().build(signals, INGEST)
    backward = batcher().build(signals[::-1], INGEST)
    # THEN the batch ids differ (order is part of the batch)
    assert forward[0].batch_id != backward[0].batch_id
    assert backward[0].event_ids == tuple(event_id(n) for n in reversed(range(6)))


# --- grouping --------------------------------------------------------------------------------------


def test_group_in_arrival_order_groups_by_type_and_source_in_first_arrival_order() -> None:
    # GIVEN interleaved signals of several (event type, source) pairs
    arrivals = [
        ("click", "web"),
        ("page_view", "web"),
        ("click", "app"),
        ("click", "web"),
        ("page_view", "web"),
        ("click", "app"),
        ("search", "web"),
        ("click", "web"),
    ]
    signals = [signal(n, event_type, source) for n, (event_type, source) in enumerate(arrivals)]
    # WHEN they are grouped
    groups = group_in_arrival_order(signals)
    # THEN groups follow first arrival, and members keep arrival order
    assert [[s.event_id for s in group] for group in groups] == [
        [event_id(0), event_id(3), event_id(7)],
        [event_id(1), event_id(4)],
        [event_id(2), event_id(5)],
        [event_id(6)],
    ]
    assert all(len({(s.event_type, s.source) for s in group}) == 1 for group in groups)


def test_group_in_arrival_order_empty_returns_no_groups() -> None:
    # GIVEN no signals / WHEN grouped / THEN no groups
    assert group_in_arrival_order([]) == []


def test_batcher_entries_hold_one_type_and_source_each_in_group_order() -> None:
    # GIVEN interleaved signals of two types and two sources
    signals = [signal(n, ("click", "page_view")[n % 2], ("web", "app")[n // 10 % 2]) for n in range(40)]
    # WHEN batched with at most 4 signals per entry
    result = batcher(max_signals=4).build(signals, INGEST)
    # THEN each entry carries one (type, source), DetailType is the type, members keep arrival order
    for entry in result:
        members = [s for s in signals if s.event_id in entry.event_ids]
        assert {(s.event_type, s.source) for s in members} == {(members[0].event_type, members[0].source)}
        assert entry.entry["DetailType"] == members[0].event_type
        assert entry.event_ids == tuple(s.event_id for s in members)
    # AND concatenating the entries gives the groups, in first-arrival order
    flattened = [event_id for entry in result for event_id in entry.event_ids]
    expected = [s.event_id for group in group_in_arrival_order(signals) for s in group]
    assert flattened == expected


def test_batcher_empty_input_returns_no_entries() -> None:
    # GIVEN no signals / WHEN batched / THEN no entries
    assert batcher().build([], INGEST) == []


@pytest.mark.parametrize("max_signals", [0, -1])
def test_batcher_max_signals_below_one_raises_value_error(max_signals: int) -> None:
    # GIVEN a non-positive signal cap / WHEN a batcher is built / THEN it is refused
    with pytest.raises(ValueError, match="max_signals"):
        batcher(max_signals=max_signals)


# --- entry shape and size --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "signals",
    [
        [signal(0)],
        [signal(n) for n in range(30)],
        [signal(n, data={"title": "Café ☕ — 東京 🚀", "q": "ü" * 50}) for n in range(20)],
        [signal(n, ("click", "search")[n % 2], data={"price": 19.99, "tiny": 1e-7}) for n in range(12)],
    ],
    ids=["one", "thirty", "non-ascii", "two-types-floats"],
)
def test_batcher_entry_size_equals_utf8_bytes_and_fits_the_limit(signals: list[EncodedSignal]) -> None:
    # GIVEN small signals (some with multi-byte characters)
    # WHEN they are batched
    result = batcher().build(signals, INGEST)
    # THEN every entry's size is exactly Detail + DetailType + Source in UTF-8 bytes, within 64 KB
    assert result
    for entry in result:
        assert entry.size == utf8_size(entry)
        assert entry.size <= MAX_ENTRY_BYTES == 65536
        assert entry.entry["Source"] == ENTRY_SOURCE
        assert entry.entry["EventBusName"] == BUS


def test_batcher_entry_size_counts_non_ascii_metadata_in_bytes() -> None:
    # GIVEN ingestion metadata with multi-byte characters
    ingest = IngestMetadata("2025-11-26T14:03:22Z", "eu-west-1", "réq-☃-01", "web")
    # WHEN a batch is built
    (entry,) = batcher().build([signal(0)], ingest)
    # THEN the size is still counted in bytes, not characters
    assert entry.size == utf8_size(entry)
    assert entry.size > len(entry.entry["Detail"]) + len("page_view") + len(ENTRY_SOURCE)


def test_batcher_detail_is_json_with_the_batch_contract_fields() -> None:
    # GIVEN three signals
    signals = [signal(n) for n in range(3)]
    # WHEN they are batched
    (entry,) = batcher().build(signals, INGEST)
    detail = parsed(entry)
    # THEN the Detail carries the contract fields, and the signals as JSON objects in order
    assert set(detail) == {"batch_id", "event_type", "ingest", "schema_version", "signals", "signature"}
    assert detail["batch_id"] == entry.batch_id
    assert detail["event_type"] == "page_view"
    assert detail["schema_version"] == BATCH_SCHEMA_VERSION
    assert detail["ingest"] == INGEST.as_dict()
    assert detail["signals"] == [json.loads(s.body) for s in signals]
    assert entry.event_ids == tuple(s.event_id for s in signals)
    # AND the Detail is itself canonical JSON (what the signature and size assume)
    assert entry.entry["Detail"].encode() == codec.canonical(detail)


# --- count and size caps ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "max_signals"),
    [(1, 1), (7, 1), (1, 50), (49, 50), (50, 50), (51, 50), (100, 50), (137, 50), (10, 3)],
)
def test_batcher_small_signals_respect_the_count_cap(count: int, max_signals: int) -> None:
    # GIVEN small signals of one type and source
    signals = [signal(n) for n in range(count)]
    # WHEN batched with a signal cap
    result = batcher(max_signals=max_signals).build(signals, INGEST)
    # THEN there are ceil(n / cap) entries, each within the cap, all full except the last
    assert len(result) == math.ceil(count / max_signals)
    assert [len(e.event_ids) for e in result[:-1]] == [max_signals] * (len(result) - 1)
    assert sum(len(e.event_ids) for e in result) == count


def test_batcher_one_kilobyte_signals_with_cap_50_give_two_entries_of_50() -> None:
    # GIVEN 100 signals of 1 KB each
    signals = [signal(n, size=1024) for n in range(100)]
    # WHEN batched with at most 50 per entry (50 KB + envelope fits 64 KB)
    result = batcher(max_signals=50).build(signals, INGEST)
    # THEN the count cap decides: two entries of 50, both within 64 KB
    assert [len(e.event_ids) for e in result] == [50, 50]
    assert all(e.size == utf8_size(e) <= MAX_ENTRY_BYTES for e in result)


def test_batcher_one_kilobyte_signals_without_count_pressure_are_cut_by_size() -> None:
    # GIVEN 300 signals of 1 KB each and a count cap that never binds
    signals = [signal(n, size=1024) for n in range(300)]
    # WHEN they are batched
    result = batcher(max_signals=1000).build(signals, INGEST)
    # THEN no entry exceeds 64 KB, and each is as full as it can be: the next signal would not fit
    overhead = (
        result[0].size
        - sum(len(s.body) for s in signals[: len(result[0].event_ids)])
        - (len(result[0].event_ids) - 1)
    )
    per_entry = (MAX_ENTRY_BYTES - overhead + 1) // (1024 + 1)
    assert len(result) == math.ceil(300 / per_entry)
    assert [len(e.event_ids) for e in result[:-1]] == [per_entry] * (len(result) - 1)
    for entry in result:
        assert entry.size == utf8_size(entry) <= MAX_ENTRY_BYTES
    for entry in result[:-1]:
        assert entry.size + 1 + 1024 > MAX_ENTRY_BYTES


def test_batcher_signal_larger_than_budget_travels_alone() -> None:
    # GIVEN a 100 KB signal between small ones
    signals = [signal(0), signal(1), signal(2, size=100_000), signal(3), signal(4)]
    # WHEN they are batched
    result = batcher().build(signals, INGEST)
    # THEN the big one gets an entry of its own (over 64 KB, still exact), the others stay together
    assert [e.event_ids for e in result] == [
        (event_id(0), event_id(1)),
        (event_id(2),),
        (event_id(3), event_id(4)),
    ]
    assert result[1].size == utf8_size(result[1]) > MAX_ENTRY_BYTES
    assert result[0].size <= MAX_ENTRY_BYTES
    assert result[2].size <= MAX_ENTRY_BYTES


def test_batcher_custom_entry_budget_is_respected_exactly() -> None:
    # GIVEN a 4 KB entry budget and 500-byte signals
    signals = [signal(n, size=500) for n in range(40)]
    # WHEN they are batched
    result = batcher(max_signals=100, max_entry_bytes=4096).build(signals, INGEST)
    # THEN every entry fits 4 KB, and adding the next signal would not have
    assert all(e.size == utf8_size(e) <= 4096 for e in result)
    assert all(e.size + 501 > 4096 for e in result[:-1])
    assert sum(len(e.event_ids) for e in result) == 40


# --- signatures ------------------------------------------------------------------------------------


def _signed_batch() -> tuple[dict[str, Any], BusEntry]:
    signals = [
        signal(
            n,
            data={
                "title": "Café ☕ 東京 🚀\u2028",
                "price": 19.99,
                "ratio": 1e-7,
                "big": 1e300,
                "count": 2**62,
                "neg": -0.0,
                "flag": n % 2 == 0,
                "nothing": None,
                "nested": {"b": [1, 2.5, {"z": 1, "a": []}], "a": '\n\t"\\'},
            },
        )
        for n in range(3)
    ]
    (entry,) = batcher().build(signals, INGEST)
    return parsed(entry), entry


def test_batcher_signature_after_json_round_trip_verifies() -> None:
    # GIVEN a signed batch with unicode, floats, big ints and nesting
    detail, _ = _signed_batch()
    # WHEN a consumer parses the Detail with the standard library and re-derives the bytes
    payload = unsigned_bytes(detail)
    # THEN the signature verifies with the shared key (and not with another key)
    assert detail["signature"].startswith(signing.SIGNATURE_PREFIX)
    assert signing.verify(KEY, payload, detail["signature"]) is True
    assert signing.verify(b"other-key", payload, detail["signature"]) is False


def test_batcher_signature_covers_the_bytes_the_signer_was_given() -> None:
    # GIVEN a signer that records what it signs
    seen: list[bytes] = []

    def signer(payload: bytes) -> str:
        seen.append(payload)
        return signing.sign(KEY, payload)

    result = SignalBatcher(bus_name=BUS, entry_source=ENTRY_SOURCE, max_signals=2, signer=signer).build(
        [signal(n) for n in range(3)], INGEST
    )
    # WHEN each entry's Detail is parsed and its unsigned bytes re-derived
    # THEN they are exactly the bytes that were signed, one signature per entry
    assert [unsigned_bytes(parsed(e)) for e in result] == seen
    assert len(seen) == 2


def _set(path: tuple[Any, ...], value: Any) -> Any:
    def tamper(detail: dict[str, Any]) -> None:
        target: Any = detail
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return tamper


@pytest.mark.parametrize(
    "tamper",
    [
        _set(("signals", 0, "event_id"), event_id(99)),
        _set(("signals", 1, "event_type"), "click"),
        _set(("signals", 2, "source"), "evil-app"),
        _set(("signals", 0, "data", "title"), "Cafe"),
        _set(("signals", 0, "data", "price"), 19.98),
        _set(("signals", 0, "data", "count"), 2**62 + 1),
        _set(("signals", 1, "data", "flag"), True),
        _set(("signals", 0, "data", "nested", "b", 0), 2),
        _set(("signals", 0, "data", "extra"), 1),
        _set(("batch_id",), "0" * 32),
        _set(("event_type",), "click"),
        _set(("schema_version",), "1-0-1"),
        _set(("ingest", "source_id"), "other"),
        _set(("ingest", "received_at"), "2025-11-26T14:03:22.101Z"),
        lambda detail: detail["signals"].pop(),
        lambda detail: detail["signals"].reverse(),
        lambda detail: detail["signals"].append(detail["signals"][0]),
        lambda detail: detail["signals"][0]["data"].pop("nothing"),
        lambda detail: detail.update(partition_key="pk"),
    ],
    ids=[
        "event_id",
        "event_type",
        "source",
        "string",
        "float",
        "int",
        "bool",
        "nested",
        "added-field",
        "batch_id",
        "batch-event_type",
        "schema_version",
        "ingest-source",
        "ingest-time",
        "dropped-signal",
        "reordered",
        "duplicated",
        "removed-null",
        "added-top-level",
    ],
)
def test_batcher_signature_after_tampering_fails(tamper: Any) -> None:
    # GIVEN a parsed, signed batch
    detail, _ = _signed_batch()
    signature = detail["signature"]
    # WHEN any field is changed after signing
    tamper(detail)
    # THEN the signature no longer verifies
    assert signing.verify(KEY, unsigned_bytes(detail), signature) is False


def test_unsigned_bytes_ignores_key_order_and_the_signature_field() -> None:
    # GIVEN the same detail with keys in another order and a signature
    detail = {"signals": [{"b": 1, "a": 2}], "batch_id": "x", "signature": "v1=abc"}
    reordered = {"batch_id": "x", "signals": [{"a": 2, "b": 1}]}
    # WHEN the unsigned bytes are derived
    # THEN they are the same canonical bytes, without the signature
    assert (
        unsigned_bytes(detail) == unsigned_bytes(reordered) == b'{"batch_id":"x","signals":[{"a":2,"b":1}]}'
    )


# --- PutEvents calls -------------------------------------------------------------------------------


def _entries(sizes: list[int]) -> list[BusEntry]:
    return [
        BusEntry(batch_id=f"b{n}", event_ids=(event_id(n),), entry={"Detail": "{}"}, size=size)
        for n, size in enumerate(sizes)
    ]


@pytest.mark.parametrize(
    ("sizes", "expected"),
    [
        ([], []),
        ([1_000] * 1, [1]),
        ([1_000] * 10, [10]),
        ([1_000] * 11, [10, 1]),
        ([1_000] * 25, [10, 10, 5]),
        ([65_536] * 30, [10, 10, 10]),
        ([300_000] * 10, [3, 3, 3, 1]),
        ([200_000] * 6, [5, 1]),
        ([MAX_CALL_BYTES], [1]),
        ([MAX_CALL_BYTES + 1, 10, 10], [1, 2]),
        ([10, MAX_CALL_BYTES - 11], [2]),  # exact fit: 10 + 1 + (MAX - 11) == MAX
        ([10, MAX_CALL_BYTES - 10], [1, 1]),
    ],
)
def test_calls_never_exceed_ten_entries_or_the_request_limit(sizes: list[int], expected: list[int]) -> None:
    # GIVEN entries of known sizes
    batch = _entries(sizes)
    # WHEN they are grouped into PutEvents calls
    result = list(calls(batch))
    # THEN the calls keep order, hold at most 10 entries, and at most 1 MB unless one entry is alone
    assert [len(call) for call in result] == expected
    assert [e for call in result for e in call] == batch
    for call in result:
        assert len(call) <= MAX_ENTRIES_PER_CALL
        assert len(call) == 1 or sum(e.size for e in call) <= MAX_CALL_BYTES


def test_calls_real_batches_fit_the_limits() -> None:
    # GIVEN entries built from 2000 mixed signals
    signals = [signal(n, ("click", "page_view", "search")[n % 3], size=200 + n % 900) for n in range(2000)]
    entries = batcher().build(signals, INGEST)
    # WHEN grouped into calls
    result = list(calls(entries))
    # THEN every call respects both limits and no entry is lost or repeated
    assert all(len(call) <= MAX_ENTRIES_PER_CALL for call in result)
    assert all(sum(utf8_size(e) for e in call) <= MAX_CALL_BYTES for call in result)
    assert [e for call in result for e in call] == entries


# --- chunk_by_size_and_count -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bodies", "overhead", "budget", "max_count", "expected"),
    [
        ([], 0, 100, 10, []),
        ([], 50, 10, 10, []),
        ([5], 0, 5, 10, [(0, 1)]),  # exact fit alone
        ([5, 4], 10, 20, 10, [(0, 2)]),  # 10 + 5 + 1 + 4 == 20: exact fit
        ([5, 4], 10, 19, 10, [(0, 1), (1, 2)]),  # one byte short (the separator counts)
        ([1] * 5, 0, 100, 2, [(0, 2), (2, 4), (4, 5)]),  # count limit
        ([1] * 3, 0, 100, 1, [(0, 1), (1, 2), (2, 3)]),
        ([5, 100, 5], 0, 50, 10, [(0, 1), (1, 2), (2, 3)]),  # oversized item alone
        ([100], 0, 50, 10, [(0, 1)]),
        ([100, 200], 0, 50, 10, [(0, 1), (1, 2)]),
        ([10] * 4, 5, 38, 10, [(0, 3), (3, 4)]),  # 5 + 10 + 11 + 11 == 37 fits; + 11 does not
        ([0, 0, 0], 0, 2, 10, [(0, 3)]),  # 0 + 1 + 1 == 2
    ],
)
def test_chunk_by_size_and_count_edge_cases(
    bodies: list[int], overhead: int, budget: int, max_count: int, expected: list[tuple[int, int]]
) -> None:
    # GIVEN item sizes, a fixed overhead, a byte budget and a count limit
    # WHEN the items are chunked
    result = list(chunk_by_size_and_count(bodies, overhead=overhead, budget=budget, max_count=max_count))
    # THEN the ranges are the greedy ones
    assert result == expected


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    bodies=st.lists(st.integers(min_value=0, max_value=120), max_size=60),
    overhead=st.integers(min_value=0, max_value=60),
    budget=st.integers(min_value=1, max_value=400),
    max_count=st.integers(min_value=1, max_value=12),
)
def test_chunk_by_size_and_count_any_input_gives_contiguous_fitting_greedy_ranges(
    bodies: list[int], overhead: int, budget: int, max_count: int
) -> None:
    # GIVEN any sizes and limits
    # WHEN chunked
    ranges = list(chunk_by_size_and_count(bodies, overhead=overhead, budget=budget, max_count=max_count))

    def cost(start: int, end: int) -> int:
        return overhead + sum(bodies[start:end]) + (end - start - 1)

    # THEN the ranges cover every item once, in order
    assert [i for start, end in ranges for i in range(start, end)] == list(range(len(bodies)))
    assert all(end > start for start, end in ranges)
    for index, (start, end) in enumerate(ranges):
        # AND each is within the count limit, and within the budget unless it is one item
        assert end - start <= max_count
        assert end - start == 1 or cost(start, end) <= budget
        # AND each is greedy: the next item would break a limit
        if index < len(ranges) - 1:
            assert end - start == max_count or cost(start, end + 1) > budget
