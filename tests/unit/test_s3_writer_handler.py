"""The handler: the Pipe's array in, ``batchItemFailures`` out, metrics emitted; S3 is an in-memory fake."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from s3_writer import dependencies
from s3_writer.handler import lambda_handler
from s3_writer.records import PipeEventError
from s3_writer.writer import BatchWriter
from signal_platform import codec
from tests.conftest import FakeLambdaContext
from tests.unit.test_s3_writer_support import FakeLedger, FakeStore, event_ids, failures, pipe_batch, signal


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStore]:
    fake = FakeStore()
    writer = BatchWriter(fake, FakeLedger(), lake_prefix="events", bad_prefix="bad", concurrency=1)
    monkeypatch.setattr(dependencies, "batch_writer", lambda: writer)
    yield fake
    writer.close()


def _metrics(output: str) -> dict[str, float]:
    """The metric values of the EMF blob(s) Powertools printed, by name (repeated values summed)."""
    values: dict[str, float] = {}
    for line in output.splitlines():
        if '"_aws"' not in line:
            continue
        blob = codec.loads(line)
        for definition in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            value = blob[definition["Name"]]
            values[definition["Name"]] = sum(value) if isinstance(value, list) else value
    return values


def test_handler_pipe_batch_written_and_counted(
    store: FakeStore, lambda_context: FakeLambdaContext, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a Pipe batch with one duplicate signal and one bad record
    first = signal()
    payload = pipe_batch([first, signal("click")], [first], [signal()])
    payload[2]["data"] = "bm90IGpzb24="
    # WHEN the Pipe invokes the function
    response = lambda_handler(payload, lambda_context)
    # THEN nothing is retried, and the metrics say what happened
    assert response == {"batchItemFailures": []}
    metrics = _metrics(capsys.readouterr().out)
    assert metrics["RecordsReceived"] == 3
    assert metrics["SignalsWritten"] == 2
    assert metrics["LakeObjectsWritten"] == 2
    assert metrics["DuplicateSignalsDropped"] == 1
    assert metrics["BadRecords"] == 1
    assert len(store.objects) == 3


def test_handler_clean_batch_metric_line_has_no_zero_counts(
    store: FakeStore, lambda_context: FakeLambdaContext, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a Pipe batch without duplicates or bad records
    payload = pipe_batch([signal()], [signal("click")])
    # WHEN the Pipe invokes the function
    lambda_handler(payload, lambda_context)
    # THEN the metric line counts what was written and leaves the zero counts out
    assert _metrics(capsys.readouterr().out) == {
        "RecordsReceived": 2,
        "SignalsWritten": 2,
        "LakeObjectsWritten": 2,
    }


def test_handler_write_failure_answers_every_event_id(
    monkeypatch: pytest.MonkeyPatch, lambda_context: FakeLambdaContext, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN S3 refusing the click partition
    fake = FakeStore(fail_put=lambda key: "event_type=click" in key)
    writer = BatchWriter(fake, FakeLedger(), lake_prefix="events", bad_prefix="bad", concurrency=1)
    monkeypatch.setattr(dependencies, "batch_writer", lambda: writer)
    payload = pipe_batch([signal()], [signal("click")], [signal()])
    # WHEN invoked
    response = lambda_handler(payload, lambda_context)
    # THEN every eventID is in batchItemFailures, exactly, and the failure is counted
    assert response == failures(*event_ids(payload))
    assert all(item["itemIdentifier"] for item in response["batchItemFailures"])
    metrics = _metrics(capsys.readouterr().out)
    assert metrics["LakeWriteFailures"] == 1
    assert metrics["RecordsRetried"] == 3
    assert "SignalsWritten" not in metrics
    assert fake.objects == {}


def test_handler_empty_array_answers_no_failures(store: FakeStore, lambda_context: FakeLambdaContext) -> None:
    assert lambda_handler([], lambda_context) == {"batchItemFailures": []}
    assert store.puts == []


def test_handler_event_source_mapping_shape_fails_the_whole_batch(
    store: FakeStore, lambda_context: FakeLambdaContext
) -> None:
    # GIVEN the Lambda ESM shape instead of the Pipe's bare array (a wiring mistake)
    event: Any = {"Records": pipe_batch([signal()])}
    # WHEN invoked THEN the invocation fails loudly rather than answering an unknown itemIdentifier
    with pytest.raises(PipeEventError):
        lambda_handler(event, lambda_context)
    assert store.puts == []
