"""The one place where outcomes and errors become HTTP answers (status, headers, body).

| status | when | resend safe? |
|---|---|---|
| 200 | every event accepted | yes (duplicates are suppressed by event_id) |
| 207 | some accepted, others rejected or `retry` | resend only the `retry` events |
| 400 | malformed request, or every event rejected | no: fix the request first |
| 401 / 403 | missing or wrong write key / disabled source | no |
| 404 / 405 | a path the API does not serve / a method other than POST | no |
| 413 / 415 | body, batch or decompressed body too large / media type or encoding | no |
| 429 | the bus is throttling: resend after Retry-After | yes |
| 503 | the bus or a dependency is down: resend after Retry-After | yes |
| 500 | a fault of the platform itself | yes |
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from signal_platform import errors
from signal_platform.bus_publisher import FailureKind
from validator.ingest import IngestAnswer

THROTTLED_RETRY_AFTER_SECONDS: Final = 5
UNAVAILABLE_RETRY_AFTER_SECONDS: Final = 30
EVENTS_PATH: Final = "/v1/events"
EVENTS_METHOD: Final = "POST"

_STATUS_BY_ERROR: Final[tuple[tuple[type[errors.SignalPlatformError], int], ...]] = (
    (errors.MalformedRequestError, 400),
    (errors.AuthenticationError, 401),
    (errors.ForbiddenSourceError, 403),
    (errors.RouteNotFoundError, 404),
    (errors.MethodNotAllowedError, 405),
    (errors.PayloadTooLargeError, 413),
    (errors.UnsupportedMediaTypeError, 415),
    (errors.BusThrottledError, 429),
    (errors.DependencyError, 503),
)


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def _retry_after(failure: FailureKind) -> dict[str, str]:
    seconds = THROTTLED_RETRY_AFTER_SECONDS if failure == "throttled" else UNAVAILABLE_RETRY_AFTER_SECONDS
    return {"Retry-After": str(seconds)}


def status_for(answer: IngestAnswer) -> int:
    counts = answer.counts
    if counts.accepted == counts.received:
        return 200
    if counts.accepted:
        return 207
    if counts.retry:
        return 429 if answer.failure == "throttled" else 503
    return 400


def ingest_answer(answer: IngestAnswer) -> HttpAnswer:
    headers = _retry_after(answer.failure) if answer.counts.retry and answer.failure else {}
    return HttpAnswer(status_for(answer), answer.as_dict(), headers)


def error_answer(error: errors.SignalPlatformError, request_id: str) -> HttpAnswer:
    status = next((code for kind, code in _STATUS_BY_ERROR if isinstance(error, kind)), 500)
    headers: dict[str, str] = {}
    if status in (429, 503):
        headers = _retry_after("throttled" if status == 429 else "unavailable")
    if isinstance(error, errors.AuthenticationError):
        headers["WWW-Authenticate"] = 'Basic realm="signals"'
    if isinstance(error, errors.MethodNotAllowedError):
        headers["Allow"] = EVENTS_METHOD
    message = str(error) if status < 500 else "the platform could not take the request; resend it later"
    return HttpAnswer(
        status,
        {
            "error": {
                "code": error.code,
                "message": message,
                "retryable": status >= 429,
            },
            "request_id": request_id,
        },
        headers,
    )


def unexpected_answer(request_id: str) -> HttpAnswer:
    return error_answer(errors.SignalPlatformError("unexpected"), request_id)
