"""The one place where outcomes and errors become HTTP answers (status, headers, body).

| status | when | resend safe? |
|---|---|---|
| 200 | every event accepted | yes (duplicates are suppressed by event_id) |
| 207 | some accepted, others rejected or `retry` | resend only the `retry` events |
| 400 | malformed request, or every event rejected | no: fix the request first |
| 401 / 403 | missing or wrong write key / disabled source, unregistered Origin, closed front door | no |
| 404 / 405 | a path the API does not serve / a method other than POST | no |
| 413 / 415 | body, batch, decompressed body or a second's events too large / media type, encoding | no |
| 429 | the source is over its rate, or the bus is throttling: resend after Retry-After | yes |
| 503 | the bus, the sources table or the signing key is unavailable: resend after Retry-After | yes |
| 500 | a fault of the platform itself | yes |

The Segment-compatible routes (``/v1/batch``, ``/v1/track``, ...) answer as Segment's API does,
because Segment's and RudderStack's libraries decide on the status alone: 200 whenever nothing
needs a resend (rejected calls are final, their reasons in the body and the logs; a 207 would make
RudderStack's library resend the whole batch), 400 for a malformed or too large body, 401 / 403,
and 429 / 503 with Retry-After when any accepted call could not be forwarded: both libraries
resend the whole batch, which is safe because each call's event_id derives from its messageId.
Error bodies carry ``code`` and ``message`` at the top, where those libraries read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from signal_platform import codec, errors
from signal_platform.bus_publisher import FailureKind
from signal_platform.schema_registry import clip
from validator.ingest import IngestAnswer
from validator.segment import CALL_TYPES, CallType

THROTTLED_RETRY_AFTER_SECONDS: Final = 5
UNAVAILABLE_RETRY_AFTER_SECONDS: Final = 30
# A load balancer passes a Lambda target's answer of at most 1 MB (API Gateway: 6 MB). Listed reasons
# can outgrow it (500 events, up to 21 reasons each, quoting what was sent): past this size an answer
# keeps each rejected event's first reason, and cuts what it quotes of the request.
MAX_ANSWER_BYTES: Final = 900_000
EVENTS_PATH: Final = "/v1/events"
EVENTS_METHOD: Final = "POST"
SEGMENT_BATCH_PATH: Final = "/v1/batch"
# Route path -> the call type it implies (None: /v1/batch, where each call names its type).
# analytics.js (analytics-next) posts to the type's first letter (/v1/t, /v1/p, ...) and batches to /v1/b.
SEGMENT_ROUTES: Final[dict[str, CallType | None]] = {
    SEGMENT_BATCH_PATH: None,
    "/v1/b": None,
    **{f"/v1/{call_type}": call_type for call_type in CALL_TYPES},
    **{f"/v1/{call_type[0]}": call_type for call_type in CALL_TYPES},
}

_STATUS_BY_ERROR: Final[tuple[tuple[type[errors.SignalPlatformError], int], ...]] = (
    (errors.MalformedRequestError, 400),
    (errors.AuthenticationError, 401),
    (errors.ForbiddenSourceError, 403),
    (errors.RouteNotFoundError, 404),
    (errors.MethodNotAllowedError, 405),
    (errors.PayloadTooLargeError, 413),
    (errors.UnsupportedMediaTypeError, 415),
    (errors.RateLimitedError, 429),
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


def _answer_body(answer: IngestAnswer) -> dict[str, Any]:
    """The answer's body, within ``MAX_ANSWER_BYTES`` (measured only when something was rejected)."""
    body = answer.as_dict()
    if answer.counts.rejected and len(codec.dumps(body)) > MAX_ANSWER_BYTES:
        body["results"] = [_first_reason(result) for result in body["results"]]
    return body


def _first_reason(result: dict[str, Any]) -> dict[str, Any]:
    reasons = result.get("errors")
    if not reasons:
        return result
    first = reasons[0]
    return {
        **result,
        "event_id": _cut(result["event_id"]),
        "errors": [{**first, "path": _cut(first["path"]), "message": _cut(first["message"])}],
    }


def _cut(text: str | None) -> str | None:
    return None if text is None else clip(text)


def ingest_answer(answer: IngestAnswer) -> HttpAnswer:
    headers = _retry_after(answer.failure) if answer.counts.retry and answer.failure else {}
    return HttpAnswer(status_for(answer), _answer_body(answer), headers)


def error_answer(error: errors.SignalPlatformError, request_id: str) -> HttpAnswer:
    status = next((code for kind, code in _STATUS_BY_ERROR if isinstance(error, kind)), 500)
    headers: dict[str, str] = {}
    if isinstance(error, errors.RateLimitedError):
        headers = {"Retry-After": str(error.retry_after_seconds)}
    elif status in (429, 503):
        headers = _retry_after("throttled" if status == 429 else "unavailable")
    if isinstance(error, errors.AuthenticationError):
        headers["WWW-Authenticate"] = 'Basic realm="signals"'
    if isinstance(error, errors.MethodNotAllowedError):
        headers["Allow"] = EVENTS_METHOD
    # A reason may quote what the client sent (a media type, an Origin, a method): bounded here, for
    # every refusal, so no header of any length makes the answer grow with it.
    message = clip(str(error)) if status < 500 else "the platform could not take the request; resend it later"
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


def segment_answer(answer: IngestAnswer) -> HttpAnswer:
    """200 unless an accepted call could not be forwarded: then the whole request is to be resent."""
    if not answer.counts.retry:
        return HttpAnswer(200, {"success": True, **_answer_body(answer)})
    failure = answer.failure or "unavailable"
    status = 429 if failure == "throttled" else 503
    body = {
        "success": False,
        "code": "throttled" if status == 429 else "bus_unavailable",
        "message": "some calls could not be forwarded: resend the request after Retry-After",
        **_answer_body(answer),
    }
    return HttpAnswer(status, body, _retry_after(failure))


def segment_error_answer(error: errors.SignalPlatformError, request_id: str) -> HttpAnswer:
    """The native answer in Segment's shape: ``code``/``message`` at the top; too large is a 400."""
    native = error_answer(error, request_id)
    status = 400 if isinstance(error, errors.PayloadTooLargeError) else native.status
    problem = native.body["error"]
    body = {"success": False, **problem, "request_id": request_id}
    return HttpAnswer(status, body, native.headers)
