"""Direct invocations on routes the API does not have: a 404 or 405 with the Error body, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from signal_platform import codec
from tests.conftest import FakeLambdaContext
from tests.http_events import as_load_balancer_event, http_api_event
from validator import dependencies
from validator.handler import lambda_handler


@pytest.fixture(params=["http-api", "load-balancer"])
def door(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(dependencies, "front_door", lambda: "Both")
    return str(request.param)


def _invoke(method: str, path: str, context: FakeLambdaContext, door: str = "http-api") -> dict[str, Any]:
    event = http_api_event(b"{}", write_key="web-shop.secret")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["routeKey"] = event["requestContext"]["routeKey"] = "$default"
    if door == "load-balancer":
        event = as_load_balancer_event(event)
    response: dict[str, Any] = lambda_handler(event, context)
    return response


@pytest.mark.parametrize("path", ["/", "/v1/event", "/v2/events", "/v1/events/extra", "/V1/EVENTS"])
def test_unrouted_path_answers_404(path: str, door: str, lambda_context: FakeLambdaContext) -> None:
    # GIVEN an invocation on a path the API does not route (behind either front door)
    # WHEN the validator handles it
    response = _invoke("POST", path, lambda_context, door)
    # THEN it answers 404 with the Error body, not retryable
    assert response["statusCode"] == 404
    body = codec.loads(response["body"])
    assert body["error"]["code"] == "not_found"
    assert body["error"]["retryable"] is False
    assert body["request_id"]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_wrong_method_on_events_answers_405_with_allow(
    method: str, door: str, lambda_context: FakeLambdaContext
) -> None:
    # GIVEN an invocation of /v1/events with a method other than POST (behind either front door)
    # WHEN the validator handles it
    response = _invoke(method, "/v1/events", lambda_context, door)
    # THEN it answers 405, naming the one method allowed
    assert response["statusCode"] == 405
    assert response["headers"]["Allow"] == "POST"
    assert codec.loads(response["body"])["error"]["code"] == "method_not_allowed"
