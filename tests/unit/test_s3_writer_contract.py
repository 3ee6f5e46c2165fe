"""The S3 writer reads what the enrichment writes: contracts/enriched_batch/1-0-0, examples and samples."""

from __future__ import annotations

import base64
from typing import Any

import jsonschema_rs
import pytest

from s3_writer.records import decode_signals, parse_records
from signal_platform import codec
from signal_platform.schema_registry import SchemaRegistry
from tests.conftest import EVENTS_DIR
from tests.unit.test_s3_writer_support import eventbridge_event, kinesis_record, pipe_batch, signal

CONTRACT = SchemaRegistry().contract("enriched_batch", "1-0-0")


@pytest.fixture(scope="module")
def contract() -> Any:
    return jsonschema_rs.Draft7Validator(CONTRACT, validate_formats=True, offline=True)


def _details(payload: list[dict[str, Any]]) -> list[Any]:
    details = []
    for record in payload:
        try:
            details.append(codec.loads(base64.b64decode(record["data"]))["detail"])
        except codec.JSONDecodeError:
            continue  # the deliberately broken record of the bad-record sample
    return details


@pytest.mark.parametrize("index", range(len(CONTRACT["examples"])))
def test_contract_example_becomes_one_line_per_signal_as_is(index: int) -> None:
    # GIVEN the contract's example enriched batch, on the stream inside its EventBridge event
    example = CONTRACT["examples"][index]
    record = kinesis_record(codec.dumps(eventbridge_event(example)), 0)
    # WHEN the writer decodes the record
    signals = decode_signals(parse_records([record])[0])
    # THEN each signal is one line equal to the signal, partitioned by its derived_at
    assert [codec.loads(item.line) for item in signals] == example["signals"]
    assert [(item.dt, item.hour) for item in signals] == [
        (s["derived_at"][:10], s["derived_at"][11:13]) for s in example["signals"]
    ]


@pytest.mark.parametrize("name", ["s3-writer-pipe-batch.json", "s3-writer-bad-record.json"])
def test_sample_event_batches_follow_the_contract(name: str, contract: Any) -> None:
    payload = codec.loads((EVENTS_DIR / name).read_bytes())
    details = _details(payload)
    assert details
    for detail in details:
        assert [error.message for error in contract.iter_errors(detail)] == []


def test_test_builders_follow_the_contract(contract: Any) -> None:
    # The builders every S3 writer test uses stay in the enrichment's shape.
    for detail in _details(pipe_batch([signal(), signal()], [signal("click", data={"element_id": "x"})])):
        assert [error.message for error in contract.iter_errors(detail)] == []
