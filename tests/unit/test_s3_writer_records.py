"""The Pipe payload's envelope (a fault fails the invocation) and each record's enriched batch."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from s3_writer.records import PipeEventError, UndecodableRecordError, decode_signals, parse_records
from signal_platform import codec
from tests.unit.test_s3_writer_support import (
    SHARD_ID,
    batch_record,
    enriched_batch,
    eventbridge_event,
    kinesis_record,
    sequence,
    signal,
)


def _decode(record: dict[str, Any]) -> list[Any]:
    return decode_signals(parse_records([record])[0])


def test_parse_records_valid_payload_keeps_order_and_ids() -> None:
    # GIVEN a Pipe payload of two records
    payload = [batch_record([signal()], 0), batch_record([signal()], 1)]
    # WHEN it is parsed
    records = parse_records(payload)
    # THEN each record keeps its eventID, shard, sequence number and the raw record
    assert [record.event_id for record in records] == [
        f"{SHARD_ID}:{sequence(0)}",
        f"{SHARD_ID}:{sequence(1)}",
    ]
    assert {record.shard_id for record in records} == {SHARD_ID}
    assert records[1].position == int(sequence(1))
    assert records[0].raw is payload[0]


def test_parse_records_empty_array_gives_no_records() -> None:
    assert parse_records([]) == []


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"Records": []}, "JSON array"),
        (["not a record"], "not an object"),
        ([{**batch_record([signal()], 0), "sequenceNumber": None}], "sequenceNumber"),
        ([{**batch_record([signal()], 0), "eventID": ""}], "eventID"),
        ([{**batch_record([signal()], 0), "eventID": "shardId-000000000000:123"}], "eventID"),
        ([{**batch_record([signal()], 0), "eventID": f"shard/../x:{sequence(0)}"}], "shard id"),
        ([{**batch_record([signal()], 0), "approximateArrivalTimestamp": "yesterday"}], "approximateArrival"),
        (
            [{**batch_record([signal()], 0), "approximateArrivalTimestamp": float("inf")}],
            "approximateArrival",
        ),
        ([{**batch_record([signal()], 0), "approximateArrivalTimestamp": True}], "approximateArrival"),
    ],
)
def test_parse_records_broken_envelope_raises_pipe_event_error(payload: Any, message: str) -> None:
    # WHEN a payload that is not the Pipe's record array is parsed THEN the whole invocation fails
    with pytest.raises(PipeEventError, match=message):
        parse_records(payload)


def test_decode_signals_enriched_batch_gives_one_line_per_signal_as_is() -> None:
    # GIVEN a record carrying an enriched batch of two signals
    first, second = signal(), signal(derived_at="2025-11-26T15:00:00.000Z")
    # WHEN it is decoded
    signals = _decode(batch_record([first, second], 0))
    # THEN every signal is one line, byte-equal to the signal object, with its partition
    assert [codec.loads(item.line) for item in signals] == [first, second]
    assert all(b"\n" not in item.line for item in signals)
    assert [(item.event_type, item.dt, item.hour) for item in signals] == [
        ("page_view", "2025-11-26", "14"),
        ("page_view", "2025-11-26", "15"),
    ]


def test_decode_signals_offset_timestamp_partitions_by_utc_hour() -> None:
    # GIVEN a derived_at with a +02:00 offset, one hour before midnight UTC on the next day locally
    item = signal(derived_at="2025-11-27T01:30:00.000+02:00")
    # WHEN decoded THEN the partition is the UTC date and hour
    (decoded,) = _decode(batch_record([item], 0))
    assert (decoded.dt, decoded.hour) == ("2025-11-26", "23")


def _with_data(data: bytes) -> dict[str, Any]:
    return kinesis_record(data, 0)


@pytest.mark.parametrize(
    ("record", "code"),
    [
        ({**kinesis_record(b"{}", 0), "data": "not base64!"}, "bad_base64"),
        ({**kinesis_record(b"{}", 0), "data": None}, "bad_base64"),
        (_with_data(b"\x00\xffnot json"), "not_json"),
        (_with_data(b"[1, 2]"), "not_an_enriched_batch"),
        (_with_data(codec.dumps({"detail": "text"})), "not_an_enriched_batch"),
        (
            _with_data(
                codec.dumps(eventbridge_event({**enriched_batch([signal()]), "schema_version": "2-0-0"}))
            ),
            "not_an_enriched_batch",
        ),
        (
            _with_data(codec.dumps(eventbridge_event({**enriched_batch([signal()]), "signals": []}))),
            "not_an_enriched_batch",
        ),
        (
            _with_data(codec.dumps(eventbridge_event({**enriched_batch([signal()]), "signals": ["a"]}))),
            "bad_signal",
        ),
        (batch_record([{**signal(), "event_id": ""}], 0), "bad_signal"),
        (batch_record([{**signal(), "event_type": "Page View/.."}], 0), "bad_signal"),
        (batch_record([{**signal(), "derived_at": None}], 0), "bad_signal"),
        (batch_record([{**signal(), "derived_at": "yesterday"}], 0), "bad_signal"),
        (batch_record([{**signal(), "derived_at": "2025-11-26T14:03:21.602"}], 0), "bad_signal"),
        # an offset that moves the moment out of UTC's years 1 to 9999
        (batch_record([{**signal(), "derived_at": "0001-01-01T00:30:00+01:00"}], 0), "bad_signal"),
        (batch_record([{**signal(), "derived_at": "9999-12-31T23:30:00-01:00"}], 0), "bad_signal"),
    ],
)
def test_decode_signals_undecodable_record_raises_with_reason_code(record: dict[str, Any], code: str) -> None:
    # WHEN a record that cannot become lake lines is decoded THEN it is undecodable, with a reason code
    with pytest.raises(UndecodableRecordError) as caught:
        _decode(record)
    assert caught.value.code == code
    assert str(caught.value)


def test_decode_signals_one_bad_signal_makes_the_whole_record_undecodable() -> None:
    # GIVEN a batch whose second signal has no event_id
    record = batch_record([signal(), {**signal(), "event_id": None}], 0)
    # WHEN decoded THEN the record is refused as a whole and the reason names the signal
    with pytest.raises(UndecodableRecordError, match=r"signals\[1\]\.event_id"):
        _decode(record)


def test_decode_signals_data_is_strict_base64() -> None:
    # GIVEN data with a character outside the base64 alphabet inside otherwise valid base64
    good = base64.b64encode(codec.dumps(eventbridge_event(enriched_batch([signal()])))).decode()
    record = {**kinesis_record(b"", 0), "data": good[:8] + "*" + good[8:]}
    # WHEN decoded THEN it is refused rather than silently repaired
    with pytest.raises(UndecodableRecordError):
        _decode(record)


@pytest.mark.parametrize(
    ("derived_at", "partition"),
    [
        ("2025-11-26T14:03:21.602Z", ("2025-11-26", "14")),
        ("2025-11-26T14:03:21Z", ("2025-11-26", "14")),
        ("2025-11-26T23:59:59.999999+00:00", ("2025-11-26", "23")),
        ("2025-11-26T20:00:00-05:00", ("2025-11-27", "01")),
        ("2025-W48-3T14:00:00Z", ("2025-11-26", "14")),  # an ISO week date is valid RFC 3339's cousin
    ],
)
def test_decode_signals_partition_is_the_utc_date_and_hour(
    derived_at: str, partition: tuple[str, str]
) -> None:
    (decoded,) = _decode(batch_record([signal(derived_at=derived_at)], 0))
    assert (decoded.dt, decoded.hour) == partition
