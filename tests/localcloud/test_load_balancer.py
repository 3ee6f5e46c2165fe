"""The local load balancer front door's event and answer rules (localcloud.http_api.LoadBalancer)."""

from __future__ import annotations

import base64
import gzip

from localcloud.http_api import load_balancer_event, load_balancer_response
from localcloud.runtime import Invocation


def _event(body: bytes | None, headers: dict[str, str]) -> dict[str, object]:
    return load_balancer_event(
        "POST",
        "/v1/t",
        body,
        headers,
        query="a=1",
        trace_id="1-00000001-000000000000000000000002",
        target_group_arn="arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/cs-dev-validator/0a",
    )


def test_event_has_the_lambda_target_shape_with_the_client_appended_to_x_forwarded_for() -> None:
    # GIVEN a text request from a client that sent its own X-Forwarded-For
    event = _event(b'{"a":1}', {"Content-Type": "text/plain", "X-Forwarded-For": "10.0.0.9"})
    # THEN the load balancer's shape: method, path, query, lower-case single-value headers, the
    # connecting address appended last, the trace id, the target group
    assert (event["httpMethod"], event["path"], event["queryStringParameters"]) == (
        "POST",
        "/v1/t",
        {"a": "1"},
    )
    headers = event["headers"]
    assert isinstance(headers, dict)
    assert headers["x-forwarded-for"] == "10.0.0.9, 127.0.0.1"
    assert headers["x-amzn-trace-id"] == "Root=1-00000001-000000000000000000000002"
    assert (event["body"], event["isBase64Encoded"]) == ('{"a":1}', False)
    assert "elb" in event["requestContext"]  # type: ignore[operator]


def test_compressed_body_is_base64_encoded() -> None:
    # GIVEN a gzip body
    raw = gzip.compress(b'{"a":1}')
    event = _event(raw, {"Content-Type": "text/plain", "Content-Encoding": "gzip"})
    # THEN it is delivered base64-encoded
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(str(event["body"])) == raw


def test_a_failed_or_malformed_function_answer_is_a_502() -> None:
    # GIVEN a function that failed, and one that answered without a status
    failed = Invocation("r-1", error_type="Runtime.Error", error_message="boom")
    malformed = Invocation("r-2", payload={"body": "x"})
    # THEN the load balancer answers 502 for both
    assert load_balancer_response(failed).status == 502
    assert load_balancer_response(malformed).status == 502
    # AND a good answer passes with its headers lower-cased
    good = load_balancer_response(
        Invocation("r-3", payload={"statusCode": 200, "headers": {"Retry-After": "5"}, "body": "{}"})
    )
    assert (good.status, good.headers, good.body) == (200, {"retry-after": "5"}, b"{}")
