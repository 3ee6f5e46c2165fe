"""Lambda entry point of ``POST /v1/events`` and the Segment-compatible routes (``/v1/batch``,
``/v1/track``, ...): parse at the edge, call the ingestor, answer."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.event_handler import ALBResolver, APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from signal_platform import codec
from signal_platform.errors import (
    MethodNotAllowedError,
    RateLimitedError,
    RouteNotFoundError,
    SignalPlatformError,
)
from signal_platform.observability import logger, metrics, tracer
from signal_platform.schema_registry import clip
from signal_platform.timeutil import utc_now
from validator import api, dependencies, edge
from validator.ingest import IngestAnswer, IngestRequest
from validator.segment import CallType

# Time kept back from the Lambda deadline to answer the client after the last PutEvents retry.
ANSWER_MARGIN_SECONDS = 1.5
# Rejections logged per request with their reasons (the counts cover them all).
LOGGED_REJECTIONS = 20

# One set of routes behind either front door (validator/edge.py): the HTTP API or a load balancer.
app = Router()  # type: ignore[no-untyped-call]  # Powertools leaves it untyped
http_api = APIGatewayHttpResolver(serializer=lambda body: codec.dumps(body).decode())
load_balancer = ALBResolver(serializer=lambda body: codec.dumps(body).decode())


def _respond(answer: api.HttpAnswer) -> Response[Any]:
    return Response(
        status_code=answer.status,
        content_type=content_types.APPLICATION_JSON,
        body=answer.body,
        headers=answer.headers,
    )


def _record(answer: IngestAnswer, route: str) -> None:
    counts = answer.counts
    # One metric line per request goes to CloudWatch Logs: zeros stay out of it (the alarms and the
    # dashboard sum, a missing datapoint reads as zero), and events received is accepted + rejected + retry.
    for name, value in (
        ("EventsAccepted", counts.accepted),
        ("EventsRejected", counts.rejected),
        ("EventsRetry", counts.retry),
        ("BusEntries", answer.bus_entries),
        ("PutEventsCalls", answer.put_events_calls),
    ):
        if value:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    if counts.retry:
        logger.warning(
            "events not forwarded", retry=counts.retry, failure=answer.failure, error_codes=answer.error_codes
        )
    if counts.rejected:
        # The Segment routes answer 200 to rejected calls (their libraries read no body): the
        # reasons are recorded here, for every route alike.
        rejections = [result for result in answer.results if result["verdict"] == "rejected"]
        logged = rejections[:LOGGED_REJECTIONS]
        logger.info("events rejected", route=route, rejected=counts.rejected, rejections=logged)


def _request() -> IngestRequest:
    event = app.current_event
    edge.check_door(dependencies.front_door(), through_load_balancer=edge.is_load_balancer_event(event))
    context: LambdaContext = app.lambda_context
    remaining = context.get_remaining_time_in_millis() / 1000
    # Each Powertools property builds a new object: read each once. The headers become one plain
    # dict with lower-case names, cheaper to read than a case-insensitive one.
    headers = edge.headers(event)
    return IngestRequest(
        body=event.body,
        is_base64=bool(event.is_base64_encoded),
        headers=headers,
        request_id=edge.request_id(event),
        received_at=utc_now(),
        deadline=time.monotonic() + remaining - ANSWER_MARGIN_SECONDS,
        source_ip=edge.source_ip(event),
        user_agent=headers.get("user-agent"),
    )


@app.post(api.EVENTS_PATH)
def post_events() -> Response[Any]:
    answer = dependencies.ingestor().ingest(_request())
    _record(answer, api.EVENTS_PATH)
    return _respond(api.ingest_answer(answer))


def _segment_route(path: str, call_type: CallType | None) -> None:
    def post_segment() -> Response[Any]:
        answer = dependencies.ingestor().ingest_segment(_request(), call_type)
        _record(answer, path)
        return _respond(api.segment_answer(answer))

    app.post(path)(post_segment)


for _path, _call_type in api.SEGMENT_ROUTES.items():
    _segment_route(_path, _call_type)


@app.exception_handler(SignalPlatformError)  # type: ignore[untyped-decorator]  # Powertools leaves it untyped
def on_platform_error(error: SignalPlatformError) -> Response[Any]:
    return _refuse(error)


def _refuse(error: SignalPlatformError) -> Response[Any]:
    event = app.current_event
    request_id = edge.request_id(event)
    if event.path in api.SEGMENT_ROUTES:
        answer = api.segment_error_answer(error, request_id)
    else:
        answer = api.error_answer(error, request_id)
    log = logger.error if answer.status >= 500 else logger.info
    log("request refused", status=answer.status, code=error.code, reason=clip(str(error)))
    metrics.add_metric(name=f"Requests{answer.status}", unit=MetricUnit.Count, value=1)
    if isinstance(error, RateLimitedError):  # told apart from a throttling bus's 429
        metrics.add_metric(name="RequestsRateLimited", unit=MetricUnit.Count, value=1)
    return _respond(answer)


@app.exception_handler(NotFoundError)  # type: ignore[untyped-decorator]
def on_not_found(_error: Exception) -> Response[Any]:
    """No route matched: the one path with another method is a 405, any other path a 404."""
    event = app.current_event
    if event.path == api.EVENTS_PATH or event.path in api.SEGMENT_ROUTES:
        method = edge.valid_text(event.http_method)  # the client's: any text
        return _refuse(MethodNotAllowedError(f"{method} is not allowed on {event.path}: use POST"))
    return _refuse(RouteNotFoundError(f"no such path: send events to POST {api.EVENTS_PATH}"))


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]
def on_unexpected_error(_error: Exception) -> Response[Any]:
    logger.exception("unexpected error")
    metrics.add_metric(name="Requests500", unit=MetricUnit.Count, value=1)
    event = app.current_event
    request_id = edge.request_id(event)
    if event.path in api.SEGMENT_ROUTES:
        return _respond(api.segment_error_answer(SignalPlatformError("unexpected"), request_id))
    return _respond(api.unexpected_answer(request_id))


http_api.include_router(app)
load_balancer.include_router(app)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Logs correlate on API Gateway's request id or the load balancer's trace id, as edge reads it:
    # the raw header is the client's, and a line holding a lone surrogate could not be written.
    logger.set_correlation_id(edge.request_id(event))
    if not edge.is_load_balancer_event(event):
        return http_api.resolve(event, context)
    if edge.is_preflight(event):
        return edge.preflight_answer(event)
    return edge.with_cors(event, load_balancer.resolve(event, context))
