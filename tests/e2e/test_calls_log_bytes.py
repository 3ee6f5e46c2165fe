"""`make bench`'s call accounting counts what each function prints (its EMF metric lines), by function:
the bytes `make cost` prices as CloudWatch Logs ingestion."""

from __future__ import annotations

import pytest

from bench import calls
from localcloud.cloud import LocalCloud


def test_every_function_that_ran_is_charged_its_own_metric_lines(
    cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a small run of one-event requests (the shape where every signal is an invocation)
    monkeypatch.setattr(calls, "SIGNALS_PER_SHAPE", 60)
    shape = calls.Shape("realistic-1", 1, None, "realistic")
    # WHEN the calls are measured
    functions = calls.measure_on(cloud, [shape])["realistic-1"]["per_1000_signals"]["functions"]
    # THEN each function that ran printed its own metric line per invocation, and the validator's
    # line for one accepted event holds only its non-zero counts (three of them: under 400 bytes)
    assert {"ValidatorFunction", "EnrichmentFunction", "S3WriterFunction"} <= set(functions)
    for name, function in functions.items():
        assert function["log_bytes"] >= 100 * function["invocations"], name
    validator = functions["ValidatorFunction"]
    assert validator["log_bytes"] / validator["invocations"] < 400
    # AND the cloud is left without the accounting's observer
    assert "log bytes" not in cloud.runtime.observers
