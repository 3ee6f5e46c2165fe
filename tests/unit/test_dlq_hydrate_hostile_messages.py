"""DLQ messages of odd shapes through ``Hydrator``: every one is stored (as what it is, or whole under
``unparsed``), never raised, so SQS does not redrive it until it lands, unstored, in the hydrate's own
DLQ; and every stored object is one the replay tool can read and write again."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlq_hydrate.hydrate import Hydrator
from dlq_hydrate.keys import parse_record_key
from dlq_hydrate.settings import HydrateSettings
from dlq_replay.selection import Window, parse_moment, select_keys
from dlq_replay.targets import record_bytes
from signal_platform import codec
from tests.conftest import load_event
from tests.fuzz.strategies import _paths, _replace
from tests.unit.test_dlq_hydrate import NOW, MemoryStore, ScriptedReader, pipe_sample, stream_record

# Times that parse but name no moment of years 1..9999 in UTC, or lie past the platform's time_t.
OUT_OF_RANGE_TIMES = ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", 1e20, -1e20, 10**30]


def _hydrator(store: MemoryStore, records: list[Any] | None = None) -> Hydrator:
    settings = HydrateSettings(store_bucket_name="memory", consumer_by_queue={}, write_concurrency=1)
    return Hydrator(settings, reader=ScriptedReader(records or []), store=store, now=lambda: NOW)


def _sample(name: str) -> dict[str, Any]:
    record: dict[str, Any] = load_event(name)["Records"][0]
    return record


def _with_body(record: dict[str, Any], change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    changed = copy.deepcopy(record)
    body = codec.loads(changed["body"])
    change(body)
    changed["body"] = json.dumps(body)  # any JSON text: past orjson's integers and depth too
    return changed


def _deep(levels: int) -> Any:
    value: Any = 0
    for _ in range(levels):
        value = {"a": value}
    return value


class Listing:
    """What the replay tool lists of a store: its keys under a prefix, in key order."""

    def __init__(self, store: MemoryStore) -> None:
        self._keys = sorted(store.objects)

    def list_keys(self, prefix: str) -> Iterator[str]:
        return (key for key in self._keys if key.startswith(prefix))


def _rewritable(store: MemoryStore) -> None:
    """Every object reads as JSON and writes again (what the replay tool's ``replace`` does)."""
    for body in store.objects.values():
        codec.dumps(codec.loads(body))


EVENT_TIMES: dict[str, Callable[[dict[str, Any], Any], None]] = {
    "rule-target": lambda body, value: body.__setitem__("time", value),
    "destination": lambda body, value: body["requestPayload"].__setitem__("time", value),
}
SAMPLES = {
    "rule-target": "dlq-hydrate-rule-target-dlq.json",
    "destination": "dlq-hydrate-enrichment-failure.json",
}


@pytest.mark.parametrize("time", OUT_OF_RANGE_TIMES)
@pytest.mark.parametrize("shape", sorted(EVENT_TIMES))
def test_event_whose_time_is_out_of_range_kept_unparsed_not_raised(shape: str, time: Any) -> None:
    # GIVEN a failed event whose time parses but names no moment the store can file it under
    # (was: OverflowError or OSError, the message redriven until it left for the hydrate's own DLQ)
    record = _with_body(_sample(SAMPLES[shape]), lambda body: EVENT_TIMES[shape](body, time))
    store = MemoryStore()
    # WHEN it is hydrated
    outcome = _hydrator(store).hydrate(record, deadline=10.0)
    # THEN the whole SQS record is kept under unparsed, with the reason
    assert outcome.kind == "unparsed"
    assert "time" in str(outcome.reason)
    assert [store.json(key)["message"] for key in store.objects] == [record]


@pytest.mark.parametrize("time", OUT_OF_RANGE_TIMES)
def test_kinesis_batch_with_an_out_of_range_arrival_still_hydrated(time: Any) -> None:
    # GIVEN a Kinesis batch failure whose arrival time is out of range (was: OverflowError, redriven)
    record, info = pipe_sample()
    record = _with_body(
        record, lambda body: body["KinesisBatchInfo"].__setitem__("approximateArrivalOfFirstRecord", time)
    )
    store = MemoryStore()
    # WHEN it is hydrated, with one of its three records still in the stream
    outcome = _hydrator(store, [stream_record(info["startSequenceNumber"], b"{}")]).hydrate(
        record, deadline=10.0
    )
    # THEN the record is stored and the manifest filed under the message's SQS time instead
    assert outcome.kind == "kinesis_batch" and outcome.records_recovered == 1
    assert outcome.manifest_key is not None and "/2026/11/26/" in outcome.manifest_key
    _rewritable(store)


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("dlq-hydrate-rule-target-dlq.json", lambda body: body.__setitem__("detail", _deep(300))),
        (
            "dlq-hydrate-enrichment-failure.json",
            lambda body: body["requestPayload"].__setitem__("detail", _deep(300)),
        ),
        ("dlq-hydrate-pipe-dlq.json", lambda body: body.__setitem__("extra", _deep(300))),
    ],
    ids=["rule-target", "destination", "pipe"],
)
def test_message_nested_past_what_a_stored_object_can_hold_kept_unparsed(
    name: str, change: Callable[[dict[str, Any]], None]
) -> None:
    # GIVEN a message nested 300 levels deep (was: a TypeError from the encoder for the destination
    # record and the pipe message, redriven; a rule-target object no replay could write again)
    record = _with_body(_sample(name), change)
    store = MemoryStore()
    # WHEN it is hydrated
    outcome = _hydrator(store).hydrate(record, deadline=10.0)
    # THEN the SQS record is kept whole under unparsed (its body as text), with the reason
    assert outcome.kind == "unparsed"
    assert "levels deep" in str(outcome.reason)
    _rewritable(store)


def test_stream_record_nested_past_what_a_stored_object_can_hold_kept_as_bytes() -> None:
    # GIVEN a Kinesis batch whose record data is JSON nested 300 levels (was: embedded as JSON, an
    # object the replay tool could not write again)
    record, info = pipe_sample()
    data = json.dumps(_deep(300)).encode()
    store = MemoryStore()
    # WHEN it is hydrated
    _hydrator(store, [stream_record(info["startSequenceNumber"], data)]).hydrate(record, deadline=10.0)
    # THEN the record is stored as its bytes, which a replay sends unchanged
    [stored] = [store.json(key) for key in store.objects if key.startswith("dlq/")]
    assert "data" not in stored["record"]
    assert record_bytes(stored["record"]) == data
    _rewritable(store)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
ODD_VALUES = JSON_VALUES | st.sampled_from([*OUT_OF_RANGE_TIMES, _deep(260), "", "../..", "shardId-1"])
SAMPLE_RECORDS = [_sample(name) for name in sorted(set(SAMPLES.values()))] + [
    pipe_sample()[0],
    _sample("dlq-hydrate-esm-on-failure.json"),
]


@st.composite
def odd_messages(draw: st.DrawFn) -> dict[str, Any]:
    """A sample DLQ message with one member of its body replaced by any JSON value."""
    record = copy.deepcopy(draw(st.sampled_from(SAMPLE_RECORDS)))
    body = codec.loads(record["body"])
    path = draw(st.sampled_from(_paths(body)))
    record["body"] = json.dumps(_replace(body, path, draw(ODD_VALUES), delete=False))
    return record


def test_any_odd_member_in_a_dlq_message_is_stored_never_raised() -> None:
    # GIVEN DLQ messages of every known shape with one member replaced by any JSON value
    @settings(max_examples=150, deadline=None, database=None)
    @given(odd_messages())
    def check(record: dict[str, Any]) -> None:
        store = MemoryStore()
        # WHEN each is hydrated (the stream still holding one record of a Kinesis batch)
        outcome = _hydrator(store, [stream_record("1", b'{"a": 1}')]).hydrate(record, deadline=10.0)
        # THEN something is stored for it, and every object can be written again
        assert store.objects, outcome
        _rewritable(store)

    check()


@pytest.mark.parametrize("time", ["0001-01-01T00:00:00Z", "0999-05-01T03:04:05.678Z"])
def test_event_of_a_year_before_1000_filed_where_the_replay_tool_finds_it(time: str) -> None:
    # GIVEN a failed event whose time lies before year 1000 (was: filed under "1/01/01" or "999/...",
    # a key the replay tool neither listed nor replayed: stored, but out of every operator's sight)
    record = _with_body(_sample(SAMPLES["rule-target"]), lambda body: body.__setitem__("time", time))
    store = MemoryStore()
    # WHEN it is hydrated
    outcome = _hydrator(store).hydrate(record, deadline=10.0)
    # THEN its key has a four-digit year, and the replay tool's selection of the consumer finds it,
    # whole and within a window around its day
    [key] = store.objects
    assert outcome.kind == "rule_target" and f"/{time[:4]}/{time[5:7]}/{time[8:10]}/" in key
    assert parse_record_key("dlq", key) is not None
    day = parse_moment(time[:10])
    for window in (Window(), Window(day, parse_moment(time[:10], end=True))):
        assert list(select_keys(Listing(store), "dlq", [outcome.consumer], window, None, now=NOW)) == [key]
