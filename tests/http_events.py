"""API Gateway HTTP API (payload format 2.0) events for the validator, as AWS sends them."""

from __future__ import annotations

import base64
import gzip
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from signal_platform import codec


def http_api_event(
    body: bytes | str | None,
    *,
    write_key: str | None = None,
    headers: dict[str, str] | None = None,
    gzip_body: bool = False,
    content_type: str | None = "application/json",
) -> dict[str, Any]:
    all_headers = {"host": "api.example.com", "user-agent": "pytest"}
    if content_type:
        all_headers["content-type"] = content_type
    if write_key is not None:
        all_headers["authorization"] = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
    raw = body.encode() if isinstance(body, str) else body
    is_base64 = False
    if gzip_body and raw is not None:
        raw = gzip.compress(raw)
        all_headers["content-encoding"] = "gzip"
    if raw is not None and gzip_body:
        text: str | None = base64.b64encode(raw).decode()
        is_base64 = True
    else:
        text = raw.decode() if raw is not None else None
    all_headers.update(headers or {})
    request_id = str(uuid.uuid4())
    return {
        "version": "2.0",
        "routeKey": "POST /v1/events",
        "rawPath": "/v1/events",
        "rawQueryString": "",
        "headers": all_headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api1234567",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": {
                "method": "POST",
                "path": "/v1/events",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "pytest",
            },
            "requestId": request_id,
            "routeKey": "POST /v1/events",
            "stage": "$default",
            "time": "26/Nov/2026:16:00:00 +0000",
            "timeEpoch": 1795708800000,
        },
        "body": text,
        "isBase64Encoded": is_base64,
    }


def page_view(
    source: str = "web-shop", *, occurred: datetime | None = None, **overrides: Any
) -> dict[str, Any]:
    """A realistic page_view 1-0-0 event of about 0.7 KB."""
    moment = occurred or datetime.now(UTC) - timedelta(seconds=5)
    event: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "event_type": "page_view",
        "schema_version": "1-0-0",
        "occurred_at": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "source": source,
        "data": {
            "page_url": "https://shop.example.com/products/trail-running-shoe-42?utm_source=newsletter",
            "page_title": "Trail Running Shoe 42 | Example Shop",
            "page_type": "product",
            "referrer_url": "https://www.example.org/search?q=trail+shoes",
        },
        "context": {
            "anonymous_id": "anon-7f3c2a9e-5d1b-4c8e-9a6f-2b4d8e1c3a5f",
            "session_id": "sess-20261126-4821",
            "user_agent": (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 "
                "(KHTML, like Gecko) Version/17.5 Safari/605.1.15"
            ),
            "ip": "198.51.100.23",
            "locale": "en-US",
            "page": {
                "url": "https://shop.example.com/products/trail-running-shoe-42?utm_source=newsletter",
                "path": "/products/trail-running-shoe-42",
                "title": "Trail Running Shoe 42 | Example Shop",
            },
            "library": {"name": "signals-js", "version": "2.4.1"},
        },
    }
    event.update(overrides)
    return event


def batch_body(events: list[Any], **extra: Any) -> bytes:
    return codec.dumps({"events": events, **extra})


TARGET_GROUP_ARN = (
    "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/cs-dev-validator/0123456789abcdef"
)


def as_load_balancer_event(event: dict[str, Any]) -> dict[str, Any]:
    """The same request as an Application Load Balancer delivers it to a Lambda target (multi-value
    headers off): ``httpMethod``/``path``, the client's address appended to ``X-Forwarded-For``, a
    trace id instead of a request id, and ``requestContext.elb``."""
    http = event["requestContext"]["http"]
    headers = dict(event["headers"])
    forwarded = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{forwarded}, {http['sourceIp']}" if forwarded else http["sourceIp"]
    headers.setdefault("x-forwarded-proto", "https")
    headers.setdefault("x-forwarded-port", "443")
    trace = uuid.UUID(event["requestContext"]["requestId"]).hex
    headers["x-amzn-trace-id"] = f"Root=1-{trace[:8]}-{trace[8:]}"
    return {
        "requestContext": {"elb": {"targetGroupArn": TARGET_GROUP_ARN}},
        "httpMethod": http["method"],
        "path": event["rawPath"],
        "queryStringParameters": {},
        "headers": headers,
        "body": event.get("body") or "",
        "isBase64Encoded": event["isBase64Encoded"],
    }


def with_multi_value_headers(event: dict[str, Any]) -> dict[str, Any]:
    """A load balancer's event as a target group with multi-value headers on sends it: every header
    and query parameter as a list of its values, under ``multiValueHeaders`` /
    ``multiValueQueryStringParameters`` (and no single-value fields)."""
    multi = {key: value for key, value in event.items() if key not in ("headers", "queryStringParameters")}
    multi["multiValueHeaders"] = {name: [value] for name, value in event["headers"].items()}
    multi["multiValueQueryStringParameters"] = {
        name: [value] for name, value in (event.get("queryStringParameters") or {}).items()
    }
    return multi
