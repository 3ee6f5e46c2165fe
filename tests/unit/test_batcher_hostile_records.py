"""Buffer records that are not what the validator wrote, among good ones: every good record is
forwarded, each signal once, and every bad one set aside on BufferDlq, never re-packed into a batch of
the contract. When a bad one cannot be set aside, the good records before it are forwarded and it and
everything after it are retried from it (the mapping's checkpoint): never skipped."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batcher.packing import parse_record
from signal_platform import codec
from signal_platform.errors import MalformedBatchError
from tests.fuzz.strategies import _paths, _replace
from tests.unit.test_batcher import INVOCATION, Bus, Dlq, forwarder, kinesis_record, request_record


def _changed(record: bytes, path: tuple[Any, ...], value: Any) -> bytes:
    return json.dumps(_replace(codec.loads(record), path, value, delete=False)).encode()


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("schema_version",), "2-0-0"),
        (("schema_version",), "10-0-0"),
        (("schema_version",), 1),
        (("signals", 0, "event_id"), 7),
        (("signals", 0, "event_type"), None),
        (("signals", 0, "event_type"), {"name": "page_view"}),
        (("signals", 0, "event_type"), " "),
        (("ingest", "received_at"), 1795708800),
        (("ingest", "received_at"), "yesterday"),
        (("ingest", "region"), None),
        (("ingest", "source_id"), ""),
        (("ingest", "request_id"), ["r-1"]),
    ],
    ids=[
        "major-2",
        "major-10",
        "version-number",
        "id-number",
        "type-null",
        "type-object",
        "type-blank",
        "received-number",
        "received-not-a-time",
        "region-null",
        "source-empty",
        "request-list",
    ],
)
def test_record_of_another_version_or_with_odd_ids_or_metadata_is_malformed(
    path: tuple[Any, ...], value: Any
) -> None:
    # GIVEN a validator's record of another major version, whose signal's id or type or whose
    # ingestion metadata is not text, or whose received_at is no time (was: re-packed and signed as a
    # batch of version 1, the values coerced to text; odd metadata became that of a whole packed
    # batch, which the enrichment then set aside with every other request's signals in it)
    record = _changed(request_record(1, "e1"), path, value)
    # WHEN / THEN it is malformed, with its sequence number
    with pytest.raises(MalformedBatchError, match="record 00001"):
        parse_record("00001", record)


def test_record_of_a_minor_version_of_the_contract_is_packed() -> None:
    # GIVEN a record of the mixed batches' minor version 1-1-0
    record = _changed(request_record(1, "e1"), ("schema_version",), "1-1-0")
    # WHEN / THEN it is a signal batch like any other
    assert [signal.event_id for signal in parse_record("1", record).signals] == ["e1"]


DEEP: Any = 0
for _ in range(300):
    DEEP = [DEEP]
GOOD = [request_record(index, f"e{index:03d}", f"f{index:03d}") for index in range(6)]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def bad_records(draw: st.DrawFn) -> bytes:
    """What no validator writes: bytes, JSON of another shape, or a good record with a member replaced
    by a value of another type (or nested far deeper than a signal may be)."""
    how = draw(st.sampled_from(["bytes", "json", "member"]))
    if how == "bytes":
        return draw(st.binary(max_size=40))
    if how == "json":
        return json.dumps(draw(JSON_VALUES)).encode()
    record = codec.loads(draw(st.sampled_from(GOOD)))
    paths = [
        path for path in _paths(record) if path[-1] in ("schema_version", "signals", "ingest", "event_id")
    ]
    value = draw(JSON_VALUES.filter(lambda v: not isinstance(v, str)) | st.just(DEEP))
    return json.dumps(_replace(record, draw(st.sampled_from(paths)), value, delete=False)).encode()


def _good_or_not(record: bytes) -> bool:
    try:
        parse_record("0", record)
    except MalformedBatchError:
        return False
    return True


@pytest.mark.parametrize("set_aside", [True, False], ids=["set-aside", "dlq-refuses"])
def test_bad_records_among_good_ones_are_set_aside_or_stop_the_invocation_and_lose_nothing(
    set_aside: bool,
) -> None:
    @settings(max_examples=120, deadline=None, database=None)
    @given(st.lists(st.sampled_from(GOOD) | bad_records(), min_size=1, max_size=8), st.integers(1, 4))
    def check(datas: list[bytes], segment_signals: int) -> None:
        # GIVEN records of which any may be one no validator wrote
        records = [kinesis_record(f"{index:05d}", data) for index, data in enumerate(datas)]
        bus, dlq = Bus(), Dlq(failing=not set_aside)
        # WHEN they are forwarded
        outcome = forwarder(bus, segment_signals, dlq).forward(records, deadline=1e9, invocation=INVOCATION)
        bad = [index for index, data in enumerate(datas) if not _good_or_not(data)]
        # THEN with BufferDlq taking them, every good record's signals are forwarded and every bad one
        # is set aside, in order; else the signals of the records before the first bad one are
        # forwarded and the mapping resumes at that bad one (or nothing is to be resumed)
        first_bad = len(datas) if set_aside or not bad else bad[0]
        expected = [
            signal.event_id
            for data in datas[:first_bad]
            if _good_or_not(data)
            for signal in parse_record("0", data).signals
        ]
        published = [event_id for entry in bus.published for event_id in entry.event_ids]
        # (a record repeated in a later segment is a resend the batcher forwards again, by design)
        assert set(published) == set(expected) and len(published) <= len(expected)
        resume = [] if first_bad == len(datas) else [{"itemIdentifier": f"{first_bad:05d}"}]
        assert outcome.response() == {"batchItemFailures": resume}
        named = [message["KinesisBatchInfo"]["startSequenceNumber"] for message in dlq.sent]
        assert named == ([f"{index:05d}" for index in bad] if set_aside else [])

    check()
