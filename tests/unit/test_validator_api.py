"""The one mapping from outcomes and errors to HTTP answers."""

from __future__ import annotations

import pytest

from signal_platform import errors
from validator.api import error_answer, ingest_answer, unexpected_answer
from validator.ingest import Counts, IngestAnswer


def _answer(accepted: int, rejected: int, retry: int, failure: str | None = None) -> IngestAnswer:
    return IngestAnswer(
        request_id="r-1",
        received_at="2026-11-26T00:00:00.000Z",
        results=[],
        counts=Counts(accepted + rejected + retry, accepted, rejected, retry),
        failure=failure,  # type: ignore[arg-type]
        bus_entries=0,
        put_events_calls=0,
        error_codes={},
    )


@pytest.mark.parametrize(
    ("counts", "failure", "status", "retry_after"),
    [
        ((3, 0, 0), None, 200, None),
        ((2, 1, 0), None, 207, None),
        ((2, 0, 1), "unavailable", 207, "30"),
        ((0, 3, 0), None, 400, None),
        ((0, 0, 3), "unavailable", 503, "30"),
        ((0, 1, 2), "throttled", 429, "5"),
    ],
)
def test_ingest_answer_counts_map_to_status(
    counts: tuple[int, int, int], failure: str | None, status: int, retry_after: str | None
) -> None:
    # GIVEN an outcome / WHEN it becomes an answer
    answer = ingest_answer(_answer(*counts, failure=failure))
    # THEN the status and Retry-After follow the documented table
    assert answer.status == status
    assert answer.headers.get("Retry-After") == retry_after


@pytest.mark.parametrize(
    ("error", "status", "retryable"),
    [
        (errors.MalformedRequestError("x"), 400, False),
        (errors.AuthenticationError("x"), 401, False),
        (errors.ForbiddenSourceError("x"), 403, False),
        (errors.PayloadTooLargeError("x"), 413, False),
        (errors.UnsupportedMediaTypeError("x"), 415, False),
        (errors.BusThrottledError("x"), 429, True),
        (errors.BusUnavailableError("x"), 503, True),
        (errors.SourceRegistryUnavailableError("x"), 503, True),
        (errors.SigningKeyUnavailableError("x"), 503, True),
        (errors.ConfigurationError("x"), 500, True),
    ],
)
def test_error_answer_each_error_has_its_status(
    error: errors.SignalPlatformError, status: int, retryable: bool
) -> None:
    answer = error_answer(error, "r-1")
    assert answer.status == status
    assert answer.body["error"]["code"] == error.code
    assert answer.body["error"]["retryable"] is retryable
    assert ("Retry-After" in answer.headers) is (status in (429, 503))


def test_error_answer_client_errors_explain_server_errors_hide_details() -> None:
    client = error_answer(errors.MalformedRequestError("the body is not valid JSON"), "r-1")
    server = error_answer(errors.SourceRegistryUnavailableError("botocore said: secret endpoint"), "r-1")
    assert client.body["error"]["message"] == "the body is not valid JSON"
    assert "botocore" not in server.body["error"]["message"]


def test_error_answer_unauthenticated_asks_for_basic_auth() -> None:
    assert error_answer(errors.AuthenticationError("x"), "r").headers["WWW-Authenticate"].startswith("Basic")


def test_unexpected_answer_is_500_without_internals() -> None:
    answer = unexpected_answer("r-9")
    assert (answer.status, answer.body["request_id"]) == (500, "r-9")
