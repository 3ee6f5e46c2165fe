"""The two front doors the validator sits behind, and what differs between them.

The HTTP API (payload 2.0) and an Application Load Balancer (a Lambda target group, multi-value
headers off) deliver the same request in two event shapes. The routes and answers are the same;
four things differ and are settled here:

- the request id: API Gateway's ``requestContext.requestId``; the load balancer's trace id
  (``X-Amzn-Trace-Id: Root=1-...``), which its access log records too;
- the client's address: API Gateway's ``sourceIp``; behind the load balancer the LAST entry of
  ``X-Forwarded-For``, the one the load balancer appended itself (in ``append`` mode, which the
  template sets): every earlier entry is whatever the client sent, never trusted;
- CORS: API Gateway answers preflights and adds the headers (the template's CorsConfiguration); a
  load balancer has no CORS settings, so the function does the same for its requests, from
  ``CORS`` (tests/infra pins it to the template's CorsConfiguration);
- the headers: a target group with multi-value headers on (the template turns them off) sends
  ``multiValueHeaders``, each name with its list of values, and reads the answer's headers from
  there too; the function takes the last value of each, as the load balancer does with them off.

What either door passes on is read here as text every later step can encode and store (a client
controls all of it; a 5xx must never answer it):

- a header value with a lone surrogate (what JSON decoding of ``"\\udc80"`` in the Lambda event
  gives: no UTF-8 byte sequence carries it) has it replaced by U+FFFD. A User-Agent that carried one
  still fills the events' context (what only enrichment reads costs no event); a write key that
  carried one is a wrong key (401), an Origin an unregistered one (403), a media type or encoding
  an unsupported one (415), each answered with its reason as before;
- the client's address is an IP address or nothing: a value that is not one (only a hand-built
  event's can be) leaves the events' ``context.ip`` unfilled, rather than failing their schema;
- the request id is API Gateway's, or a well-formed trace id of the load balancer's header: the
  client's ``Root`` when it sent a well-formed one, else the ``Self`` the load balancer inserted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from signal_platform.errors import FrontDoorClosedError
from signal_platform.network import network

TRACE_HEADER: Final = "x-amzn-trace-id"
FORWARDED_FOR: Final = "x-forwarded-for"
_SURROGATES: Final = re.compile("[\ud800-\udfff]")
# A field of "Root=1-67891233-abcdef012345678912345678;Self=...;Sampled=1" whose value is a trace id
# as the load balancer writes it: "1-<8 hex digits of epoch seconds>-<24 hex digits>".
_TRACE_FIELDS: Final = {
    name: re.compile(rf"(?:^|;)\s*(?i:{name})\s*=\s*(1-[0-9a-f]{{8}}-[0-9a-f]{{24}})\s*(?:;|$)")
    for name in ("root", "self")
}
# The signal batch contract's bound on ingest.request_id.
MAX_REQUEST_ID_CHARS: Final = 128
# The longest text of an IP address (an IPv6 address ending in IPv4 form, with a zone index).
_MAX_ADDRESS_CHARS: Final = 64


@dataclass(frozen=True, slots=True)
class CorsPolicy:
    """What API Gateway applies with a CorsConfiguration; the function applies it behind a load balancer."""

    allow_origins: tuple[str, ...]
    allow_methods: tuple[str, ...]
    allow_headers: tuple[str, ...]
    expose_headers: tuple[str, ...]
    max_age: int

    def allows(self, origin: str) -> bool:
        return "*" in self.allow_origins or origin in self.allow_origins

    def _allowed_origin(self, origin: str) -> str:
        return "*" if "*" in self.allow_origins else origin

    def preflight(self, headers: Mapping[str, str]) -> dict[str, str]:
        """The headers of the 204 answer to a preflight: none (the browser refuses) unless the Origin
        and the requested method are allowed."""
        origin = headers.get("origin", "")
        method = headers.get("access-control-request-method", "").upper()
        if not self.allows(origin) or method not in self.allow_methods:
            return {}
        return {
            "access-control-allow-origin": self._allowed_origin(origin),
            "access-control-allow-methods": ",".join(self.allow_methods),
            "access-control-allow-headers": ",".join(self.allow_headers),
            "access-control-max-age": str(self.max_age),
        }

    def answer_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """The CORS headers added to an answer to an allowed Origin (none without one)."""
        origin = headers.get("origin")
        if origin is None or not self.allows(origin):
            return {}
        added = {"access-control-allow-origin": self._allowed_origin(origin)}
        if self.expose_headers:
            added["access-control-expose-headers"] = ",".join(self.expose_headers)
        return added


# The same as IngestApi's CorsConfiguration in template.yaml: any origin may ask (the validator
# then refuses, 403, an Origin the write key's source has not registered), POST only.
CORS: Final = CorsPolicy(
    allow_origins=("*",),
    allow_methods=("POST",),
    allow_headers=("authorization", "content-type", "content-encoding", "x-api-key", "x-retry-count"),
    expose_headers=("retry-after",),
    max_age=7200,
)


# The template's FrontDoor parameter: the doors it opens. With Alb only the load balancer is open, so
# nothing goes around its web ACL through the HTTP API (which SAM cannot make conditional).
OPEN_DOORS: Final = {
    "HttpApi": ("http-api",),
    "Alb": ("load-balancer",),
    "Both": ("http-api", "load-balancer"),
}


def check_door(front_door: str, *, through_load_balancer: bool) -> None:
    """Refuse (403) a request that came through a door ``front_door`` keeps closed."""
    door = "load-balancer" if through_load_balancer else "http-api"
    if door not in OPEN_DOORS[front_door]:
        raise FrontDoorClosedError(f"this API takes requests through its {OPEN_DOORS[front_door][0]} only")


def is_load_balancer_event(event: Mapping[str, Any]) -> bool:
    """An Application Load Balancer's event names its target group under ``requestContext.elb``."""
    context = event.get("requestContext")
    return isinstance(context, dict) and "elb" in context


def valid_text(value: str) -> str:
    """``value`` with any lone surrogate replaced by U+FFFD (an ASCII value, nearly every one, is
    returned as it is after one check)."""
    return value if value.isascii() else _SURROGATES.sub("\ufffd", value)


def headers(event: Mapping[str, Any]) -> dict[str, str]:
    """The request's headers with lower-case names (what payload 2.0 and the load balancer send;
    a direct invocation may not); of a name sent more than once, the last value; every value text
    UTF-8 can carry."""
    multi = event.get("multiValueHeaders")
    if multi and not event.get("headers"):
        return {name.lower(): valid_text(values[-1]) for name, values in multi.items() if values}
    return {
        name.lower(): value if value.isascii() else valid_text(value)  # inline: ~20 headers a request
        for name, value in (event.get("headers") or {}).items()
    }


def _header(event: Mapping[str, Any], name: str) -> str | None:
    """One header by its lower-case name, in either shape, without copying the others."""
    single = event.get("headers")
    if single or not event.get("multiValueHeaders"):
        value = (single or {}).get(name)
    else:
        values = event["multiValueHeaders"].get(name)
        value = values[-1] if values else None
    return None if value is None else valid_text(str(value))


def _with_headers(event: Mapping[str, Any], response: dict[str, Any], added: dict[str, str]) -> None:
    """``added`` to the answer's headers, in the field the load balancer reads them from."""
    if event.get("multiValueHeaders") and not event.get("headers"):
        multi = response.get("multiValueHeaders") or {}
        response["multiValueHeaders"] = {**multi, **{name: [value] for name, value in added.items()}}
    else:
        response["headers"] = {**(response.get("headers") or {}), **added}


def is_preflight(event: Mapping[str, Any]) -> bool:
    return event.get("httpMethod") == "OPTIONS" and "access-control-request-method" in headers(event)


def preflight_answer(event: Mapping[str, Any]) -> dict[str, Any]:
    """A load balancer's answer to a preflight, as API Gateway gives it: 204, empty body."""
    response: dict[str, Any] = {
        "statusCode": 204,
        "statusDescription": "204 No Content",
        "body": "",
        "isBase64Encoded": False,
    }
    _with_headers(event, response, CORS.preflight(headers(event)))
    return response


def with_cors(event: Mapping[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """A load balancer's answer with the CORS headers API Gateway would have added."""
    added = CORS.answer_headers(headers(event))
    if added:
        _with_headers(event, response, added)
    return response


def request_id(event: Mapping[str, Any]) -> str:
    """API Gateway's request id, or the load balancer's trace id (raw event fields: the Powertools
    properties build new objects on every read).

    The client may send a trace header of its own: the load balancer keeps its ``Root`` (whatever it
    holds) and inserts a ``Self``; without one it writes a ``Root``. The request id is the ``Root``
    when it is a well-formed trace id, else the ``Self``: within the batch contract's bound, and
    what the access log records. Only a hand-built event has neither: its header's text, clipped."""
    context = event.get("requestContext") or {}
    if "requestId" in context:
        return str(context["requestId"])
    trace = _header(event, TRACE_HEADER) or ""
    for field in _TRACE_FIELDS.values():  # the Root, else the Self
        if found := field.search(trace):
            return found[1]
    return trace[:MAX_REQUEST_ID_CHARS]


def source_ip(event: Mapping[str, Any]) -> str | None:
    """The client's IP address: API Gateway's source IP, or the last X-Forwarded-For entry (the one
    the load balancer appended); None when the field holds no address."""
    context = event.get("requestContext") or {}
    http = context.get("http")
    if isinstance(http, dict):
        raw = http.get("sourceIp")
    else:
        forwarded = _header(event, FORWARDED_FOR)
        raw = forwarded.rsplit(",", 1)[-1] if forwarded else None
    if not isinstance(raw, str) or len(raw) > _MAX_ADDRESS_CHARS:
        return None
    parsed = network(raw.strip())  # cached: a client sends from the same address again
    return None if parsed is None else parsed[0]
