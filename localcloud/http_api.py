"""The HTTP API locally: a request becomes the API Gateway HTTP API event (payload 2.0) of its route.

Routes come from the translated template (the OpenAPI body SAM generates for AWS::Serverless::HttpApi),
so ``POST /v1/events`` reaches the function the template wires to it. The function's answer is turned
back into status, headers and body as API Gateway does; a function error is a 500
``{"message":"Internal Server Error"}``, an unknown route a 404 ``{"message":"Not Found"}``.
``ApiServer`` serves the same on 127.0.0.1 for `make local`. With a CorsConfiguration the API answers
a browser's preflight (OPTIONS with Origin and Access-Control-Request-Method) itself, without the
function, and adds the CORS headers to every answer to an allowed Origin, as API Gateway does.

``LoadBalancer`` is the template's optional Application Load Balancer front door (FrontDoor Alb or
Both): every request, on any path and method (OPTIONS preflights included), becomes the event of a
Lambda target group in the shape its ``lambda.multi_value_headers.enabled`` attribute (read from the
template) selects, and the function's answer goes back as the load balancer passes it on; a function
error is a 502, as the load balancer answers one. It has no CORS settings: the function answers
preflights itself. ``ApiServer`` serves either.

A client may send a header more than once (``Headers`` as the list of its fields keeps the repeats):
the HTTP API joins the values with commas (payload 2.0 has no multi-value fields); the load balancer
keeps the last one, or with multi-value headers on every one, in order. The same holds of a query
parameter given more than once; the load balancer passes query values URL-encoded, as sent.
"""

from __future__ import annotations

import base64
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import urlsplit

from localcloud import timeshare
from localcloud.runtime import FunctionRuntime, Invocation
from localcloud.template import ACCOUNT_ID, HttpCors, HttpRoute
from signal_platform import codec

_TEXT_TYPES = ("application/json", "text/", "application/xml")
_ROOT_FIELD: Final = re.compile(r"(?:^|;)\s*root\s*=", re.IGNORECASE)
_SELF_FIELD: Final = re.compile(r"\s*self\s*=", re.IGNORECASE)
# The target group attribute that selects the load balancer's event and answer shape.
MULTI_VALUE_HEADERS: Final = "lambda.multi_value_headers.enabled"

# A request's header fields: a mapping, or the fields in the order sent, a name repeated as a client
# may repeat it.
Headers = Mapping[str, str] | Sequence[tuple[str, str]]


def multi_value_headers(target_group: Mapping[str, Any]) -> bool:
    """Whether a Lambda target group's properties turn multi-value headers on (off by default)."""
    attributes = {
        str(attribute.get("Key")): str(attribute.get("Value"))
        for attribute in target_group.get("TargetGroupAttributes") or []
    }
    return attributes.get(MULTI_VALUE_HEADERS, "false").lower() == "true"


def header_fields(headers: Headers) -> list[tuple[str, str]]:
    """The fields with lower-case names, in the order sent."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return [(name.lower(), value) for name, value in pairs]


def _joined(fields: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Each name once, the values of a repeated one joined with commas (API Gateway's payload 2.0)."""
    joined: dict[str, str] = {}
    for name, value in fields:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def _listed(fields: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    listed: dict[str, list[str]] = {}
    for name, value in fields:
        listed.setdefault(name, []).append(value)
    return listed


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return codec.loads(self.body)


def http_api_event(
    method: str,
    path: str,
    body: bytes | None,
    headers: Headers,
    *,
    query: str = "",
    request_id: str,
    source_ip: str = "127.0.0.1",
    api_id: str = "localcloud",
) -> dict[str, Any]:
    """The API Gateway HTTP API event (payload format 2.0) for one request."""
    lowered = _joined(header_fields(headers))
    text, is_base64 = _body_text(body, lowered)
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": lowered,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": api_id,
            "domainName": f"{api_id}.execute-api.localhost",
            "domainPrefix": api_id,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": is_base64,
    }
    if text is not None:
        event["body"] = text
    return event


def _body_text(body: bytes | None, headers: Mapping[str, str]) -> tuple[str | None, bool]:
    """The body as an event carries it: text when it is text, else base64 (and ``isBase64Encoded``)."""
    content_type = headers.get("content-type", "")
    textual = not headers.get("content-encoding") and (
        not content_type or content_type.startswith(_TEXT_TYPES)
    )
    if body is None:
        return None, False
    if textual:
        try:
            return body.decode(), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode(), True


def load_balancer_event(
    method: str,
    path: str,
    body: bytes | None,
    headers: Headers,
    *,
    query: str = "",
    trace_id: str,
    target_group_arn: str,
    source_ip: str = "127.0.0.1",
    multi_value: bool = False,
) -> dict[str, Any]:
    """An Application Load Balancer's event for a Lambda target: lower-case header names, the
    client's address appended to (the last) X-Forwarded-For, the trace id in X-Amzn-Trace-Id. With
    ``multi_value`` off, of a header or query parameter sent more than once the last value, in
    ``headers`` / ``queryStringParameters``; on, every value in ``multiValueHeaders`` /
    ``multiValueQueryStringParameters``. Query values stay URL-encoded."""
    listed = _listed(header_fields(headers))
    forwarded = listed.get("x-forwarded-for", [])
    if forwarded:
        forwarded[-1] = f"{forwarded[-1]}, {source_ip}"
    else:
        listed["x-forwarded-for"] = [source_ip]
    listed.setdefault("x-forwarded-proto", ["https"])
    listed.setdefault("x-forwarded-port", ["443"])
    listed["x-amzn-trace-id"] = [_trace_header(listed.get("x-amzn-trace-id", [""])[-1], trace_id)]
    last = {name: values[-1] for name, values in listed.items()}
    text, is_base64 = _body_text(body, last)
    parameters = _listed(
        [(name, value) for name, _, value in (part.partition("=") for part in query.split("&")) if name]
    )
    shaped: dict[str, Any] = (
        {"multiValueQueryStringParameters": parameters, "multiValueHeaders": listed}
        if multi_value
        else {
            "queryStringParameters": {name: values[-1] for name, values in parameters.items()},
            "headers": last,
        }
    )
    return {
        "requestContext": {"elb": {"targetGroupArn": target_group_arn}},
        "httpMethod": method,
        "path": path,
        **shaped,
        "body": text or "",
        "isBase64Encoded": is_base64,
    }


def _trace_header(sent: str, trace_id: str) -> str:
    """X-Amzn-Trace-Id as the load balancer forwards it (its request tracing docs): a client's header
    with a Root field is kept, with a Self field of ``trace_id`` inserted (or its Self updated); any
    other becomes a Root of ``trace_id`` (without a Root field, the docs do not say: a guess)."""
    if not _ROOT_FIELD.search(sent):
        return f"Root={trace_id}"
    fields = [field for field in sent.split(";") if not _SELF_FIELD.match(field)]
    return ";".join([*fields, f"Self={trace_id}"])


def lambda_response(invocation: Invocation) -> HttpResponse:
    """What API Gateway makes of the function's answer (payload 2.0 rules)."""
    if not invocation.ok:
        return HttpResponse(500, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}')
    answer = invocation.payload
    if not isinstance(answer, dict) or "statusCode" not in answer:
        return HttpResponse(200, {"content-type": "application/json"}, codec.dumps(answer))
    body = answer.get("body") or ""
    raw = base64.b64decode(body) if answer.get("isBase64Encoded") else str(body).encode()
    headers = {str(key).lower(): str(value) for key, value in (answer.get("headers") or {}).items()}
    return HttpResponse(int(answer["statusCode"]), headers, raw)


def preflight_answer(cors: HttpCors, headers: Mapping[str, str]) -> HttpResponse:
    """API Gateway's own answer to a CORS preflight: 204, with the CORS headers if the origin and
    the requested method are allowed, without them (so the browser refuses) otherwise."""
    origin = headers.get("origin", "")
    method = headers.get("access-control-request-method", "").upper()
    if not cors.allows(origin) or method not in cors.allow_methods:
        return HttpResponse(204, {}, b"")
    answer = {
        "access-control-allow-origin": "*" if "*" in cors.allow_origins else origin,
        "access-control-allow-methods": ",".join(cors.allow_methods),
        "access-control-allow-headers": ",".join(cors.allow_headers),
    }
    if cors.max_age is not None:
        answer["access-control-max-age"] = str(cors.max_age)
    return HttpResponse(204, answer, b"")


def with_cors_headers(response: HttpResponse, cors: HttpCors, headers: Mapping[str, str]) -> HttpResponse:
    """The function's answer with the CORS headers API Gateway adds for an allowed Origin."""
    origin = headers.get("origin")
    if origin is None or not cors.allows(origin):
        return response
    added = {"access-control-allow-origin": "*" if "*" in cors.allow_origins else origin}
    if cors.expose_headers:
        added["access-control-expose-headers"] = ",".join(cors.expose_headers)
    return HttpResponse(response.status, {**response.headers, **added}, response.body)


class HttpApi:
    def __init__(
        self,
        routes: tuple[HttpRoute, ...],
        runtime: FunctionRuntime,
        *,
        seed: int = 0,
        api_id: str = "localcloud",
        cors: HttpCors | None = None,
    ) -> None:
        self._cors = cors
        self._routes = {(route.method, route.path): route for route in routes}
        self._runtime = runtime
        self._rng = random.Random(seed)
        self._api_id = api_id
        self._lock = threading.Lock()
        self.shares = timeshare.TimeShares()  # the cloud's, once started
        # Told of every answer with its latency in ms (the local CloudWatch counts API Gateway's metrics).
        self.observers: dict[str, Callable[[HttpResponse, float], None]] = {}

    @property
    def routes(self) -> list[HttpRoute]:
        return list(self._routes.values())

    def request(
        self, method: str, target: str, body: bytes | None = None, headers: Headers | None = None
    ) -> HttpResponse:
        if self._cors is not None:
            lowered = _joined(header_fields(headers or {}))
            if method.upper() == "OPTIONS" and "access-control-request-method" in lowered:
                return preflight_answer(self._cors, lowered)
            if "origin" in lowered:
                response = self._route(method, target, body, headers)
                return with_cors_headers(response, self._cors, lowered)
        return self._route(method, target, body, headers)

    def _route(self, method: str, target: str, body: bytes | None, headers: Headers | None) -> HttpResponse:
        parts = urlsplit(target)
        started = time.perf_counter()
        with self.shares.within(timeshare.EMULATORS):
            response, waited = self._answer(method, parts.path, parts.query, body, headers)
        latency = max(time.perf_counter() - started, waited) * 1000
        for observer in self.observers.values():
            observer(response, latency)
        return response

    def _answer(
        self, method: str, path: str, query: str, body: bytes | None, headers: Headers | None
    ) -> tuple[HttpResponse, float]:
        """The answer, and how long the function took as Lambda reports it (a timeout lasts its Timeout)."""
        route = self._routes.get((method.upper(), path))
        if route is None:
            return HttpResponse(404, {"content-type": "application/json"}, b'{"message":"Not Found"}'), 0.0
        with self._lock:
            request_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        event = http_api_event(
            method.upper(),
            path,
            body,
            headers or {},
            query=query,
            request_id=request_id,
            api_id=self._api_id,
        )
        invocation = self._runtime.invoke(route.function, event)
        return lambda_response(invocation), invocation.duration


class LoadBalancer:
    """The Application Load Balancer front door: one HTTPS listener forwarding every request to one
    Lambda target group (the template's), with no routing, no CORS and no health checks of its own;
    ``multi_value_headers``: the target group's attribute of that name."""

    def __init__(
        self,
        function: str,
        target_group_arn: str,
        runtime: FunctionRuntime,
        *,
        seed: int = 0,
        multi_value_headers: bool = False,
    ) -> None:
        self.function = function
        self.multi_value_headers = multi_value_headers
        self._target_group_arn = target_group_arn
        self._runtime = runtime
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        # Told of every answer, whether the load balancer gave it itself (a 502), and its latency in ms.
        self.observers: dict[str, Callable[[HttpResponse, bool, float], None]] = {}

    def request(
        self, method: str, target: str, body: bytes | None = None, headers: Headers | None = None
    ) -> HttpResponse:
        parts = urlsplit(target)
        with self._lock:
            bits = self._rng.getrandbits(128)
        trace_id = f"1-{bits >> 96:08x}-{bits & ((1 << 96) - 1):024x}"
        event = load_balancer_event(
            method.upper(),
            parts.path,
            body,
            headers or {},
            query=parts.query,
            trace_id=trace_id,
            target_group_arn=self._target_group_arn,
            multi_value=self.multi_value_headers,
        )
        started = time.perf_counter()
        invocation = self._runtime.invoke(self.function, event)
        response = load_balancer_response(invocation, multi_value=self.multi_value_headers)
        own = (
            not invocation.ok
            or not isinstance(invocation.payload, dict)
            or "statusCode" not in invocation.payload
        )
        latency = max(time.perf_counter() - started, invocation.duration) * 1000
        for observer in self.observers.values():
            observer(response, own, latency)
        return response


def load_balancer_response(invocation: Invocation, *, multi_value: bool = False) -> HttpResponse:
    """What the load balancer makes of a Lambda target's answer: a failed or malformed one is a 502.
    The answer's headers are read from ``multiValueHeaders`` with ``multi_value`` on, else from
    ``headers`` (the AWS docs: the function must use the one its target group selects); the values
    of a name given more than once are joined with commas here."""
    answer = invocation.payload
    if not invocation.ok or not isinstance(answer, dict) or "statusCode" not in answer:
        return HttpResponse(502, {"content-type": "text/html"}, b"<html><body>502 Bad Gateway</body></html>")
    body = answer.get("body") or ""
    raw = base64.b64decode(body) if answer.get("isBase64Encoded") else str(body).encode()
    if multi_value:
        fields = [
            (str(key), str(value))
            for key, values in (answer.get("multiValueHeaders") or {}).items()
            for value in values
        ]
    else:
        fields = [(str(key), str(value)) for key, value in (answer.get("headers") or {}).items()]
    return HttpResponse(int(answer["statusCode"]), _joined(header_fields(fields)), raw)


class ApiServer:
    """``HttpApi`` or ``LoadBalancer`` on 127.0.0.1 (threaded; the runtime serialises invocations)."""

    def __init__(
        self,
        api: HttpApi | LoadBalancer,
        *,
        port: int = 0,
        on_request: Callable[[HttpResponse], None] | None = None,
    ) -> None:
        self._api = api
        self._port = port
        self._on_request = on_request
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the API server is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> ApiServer:
        api, on_request = self._api, self._on_request

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed ACK

            def _serve(self) -> None:
                length = int(self.headers.get("content-length", "0") or 0)
                body = self.rfile.read(length) if length else None
                # Every field as sent, repeats too: each front door settles them its own way.
                fields = [(name, str(value)) for name, value in self.headers.items()]
                response = api.request(self.command, self.path, body, fields)
                if on_request is not None:
                    on_request(response)
                self.send_response(response.status)
                for key, value in response.headers.items():
                    if key != "content-length":
                        self.send_header(key, value)
                self.send_header("content-length", str(len(response.body)))
                self.end_headers()
                self.wfile.write(response.body)

            do_POST = do_GET = do_PUT = do_DELETE = do_OPTIONS = _serve  # noqa: N815

            def log_message(self, *_args: Any) -> None:  # silence the access log
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="http-api", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
