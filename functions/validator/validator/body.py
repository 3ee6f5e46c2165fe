"""From an HTTP body to a list of raw events: media type, gzip with a cap, JSON, request shape."""

from __future__ import annotations

import base64
import contextlib
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import msgspec.json

from signal_platform import codec
from signal_platform.errors import MalformedRequestError, PayloadTooLargeError, UnsupportedMediaTypeError
from signal_platform.schema_registry import clip, is_date_time
from signal_platform.timeutil import parse_rfc3339

_GZIP_WBITS = 16 + zlib.MAX_WBITS
# Members a gzip body may have: a client's writer makes one, or a few; a body of thousands of tiny
# ones would cost a decompressor each (0.4 s for a MiB of them).
MAX_GZIP_MEMBERS: Final = 64
# Arrays and objects a body may nest, its own object included: far above any real event (a few
# levels), and 54 below what orjson writes (codec.MAX_NESTING; EventBridge's PutEvents reads up to
# 1,000 levels, per its API reference). Every hop after the validator encodes the event again
# inside wrappers of its own (the signed batch, the bus event, a DLQ record: about six levels at
# most): an event nested near orjson's limit would be accepted here and then
# poison its whole batch downstream (the signature no longer verifiable), and past it the judge
# could not encode the event at all. The check costs an encoding of the document (~0.2 µs per
# event) and ~5 ns per level between this and orjson's limit (~0.3 µs per request at 200).
MAX_NESTING: Final = 200
_TOO_DEEP: Final = f"the body nests arrays and objects more than {MAX_NESTING} levels deep"
# msgspec reads every JSON integer exactly, up to Python's 4,300 digits, where orjson reads one
# outside -2**63..2**64-1 as the nearest double, silently (its event would land rounded, where the
# judge refuses every other integer outside int64, with its path). It is also about 10% faster than
# orjson's loads on our events, and refuses what orjson refuses (a differential property test holds
# it to that). Imported here, not in codec: only the validator reads client bodies, and the import
# costs a cold start about 2 ms.
_EXACT: Final = msgspec.json.Decoder()
_UTF8_BOM: Final = b"\xef\xbb\xbf"
_GZIP_MAGIC: Final = b"\x1f\x8b"
# JSON.stringify writes a string cut inside a surrogate pair (an emoji clipped by substring()) with a
# lone "\ud83d" escape, which orjson refuses: the whole request would be a 400. Such an escape is read
# as U+FFFD, as any UTF-8 encoder writes it (and edge.py a header's). Each escape is matched whole, a
# valid pair first, so an escaped backslash before "u" is never taken for one.
_ESCAPES: Final = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u([dD][89a-fA-F][0-9a-fA-F]{2})|\\."
)


class EventsDocument(NamedTuple):
    """A named tuple, like the other per-request records: a frozen dataclass costs twice as much."""

    events: list[Any]
    sent_at: str | None


JSON_ONLY: Final = frozenset({"application/json"})
# navigator.sendBeacon and Segment's browser library send JSON as text/plain (no CORS preflight).
JSON_OR_TEXT: Final = frozenset({"application/json", "text/plain"})


def check_media_type(headers: Mapping[str, str], allowed: frozenset[str] = JSON_ONLY) -> None:
    """The media type, without its parameters, is one of ``allowed``. A Content-Type sent twice
    reaches the function comma-joined (API Gateway joins repeated headers): each must be allowed."""
    value = headers.get("content-type", "")
    media_type = value.split(";", 1)[0].strip().lower()
    if media_type in allowed:
        return
    if "," in media_type:
        media_types = {part.split(";", 1)[0].strip().lower() for part in value.split(",")} - {""}
        if media_types and media_types <= allowed:
            return
    raise UnsupportedMediaTypeError(
        f"content-type must be {' or '.join(sorted(allowed))}, got {media_type or 'nothing'!r}"
    )


def raw_body(body: str | None, *, is_base64: bool, max_bytes: int) -> bytes:
    if not body:
        raise MalformedRequestError("the request body is empty")
    try:
        data = base64.b64decode(body, validate=True) if is_base64 else body.encode()
    except UnicodeEncodeError as exc:  # a lone surrogate: text no UTF-8 byte sequence can carry
        raise MalformedRequestError("the request body is not valid UTF-8") from exc
    except ValueError as exc:  # binascii.Error, or non-ASCII text where base64 was announced
        raise MalformedRequestError("the request body is not valid base64") from exc
    if len(data) > max_bytes:
        raise PayloadTooLargeError(f"the request body is over {max_bytes} bytes")
    return data


def decompress(data: bytes, encoding: str, *, max_bytes: int) -> bytes:
    """Undo ``Content-Encoding``; gzip is inflated in bounded steps, so a zip bomb stops at the cap.
    A gzip body may be several members one after the other (RFC 1952): they are one body."""
    codings = _content_codings(encoding)
    if not codings:
        return data
    if codings != ["gzip"]:
        raise UnsupportedMediaTypeError(
            f"content-encoding {encoding.strip().lower()!r} is not supported: use gzip or none"
        )
    members: list[bytes] = []
    size, rest = 0, data
    while True:
        inflater = zlib.decompressobj(_GZIP_WBITS)
        try:
            member = inflater.decompress(rest, max_bytes + 1 - size)
        except zlib.error as exc:  # also what follows a member when it is not another one
            raise MalformedRequestError(f"the gzip body is corrupt: {exc}") from exc
        size += len(member)
        if size > max_bytes or inflater.unconsumed_tail:
            raise PayloadTooLargeError(f"the decompressed body is over {max_bytes} bytes")
        if not inflater.eof:
            raise MalformedRequestError("the gzip body is truncated")
        members.append(member)
        rest = inflater.unused_data
        if not rest:
            return members[0] if len(members) == 1 else b"".join(members)
        if len(members) == MAX_GZIP_MEMBERS:
            raise MalformedRequestError(f"the gzip body has more than {MAX_GZIP_MEMBERS} members")


def _content_codings(encoding: str) -> list[str]:
    """The codings a Content-Encoding names, in the order applied, identity left out: it is a list
    (RFC 9110 8.4; a header sent twice reaches the function comma-joined), and "x-gzip" is gzip
    (8.4.1.3)."""
    if encoding in ("", "gzip"):  # nearly every request
        return [encoding] if encoding else []
    names = (name.strip().lower() for name in encoding.split(","))
    return ["gzip" if name == "x-gzip" else name for name in names if name not in ("", "identity")]


def loads_exact(data: bytes) -> Any:
    """``data`` as JSON, every integer exact: a ``msgspec.DecodeError`` (a ValueError) when it is
    not JSON, a RecursionError when it nests past what msgspec recurses (about a thousand levels
    on Python 3.11, ten thousand on 3.13: far past ``MAX_NESTING`` either way)."""
    return _EXACT.decode(data)


def _parse(data: bytes) -> Any:
    """``data`` as JSON, every integer exact (``loads_exact``). A body it refuses is parsed
    again by orjson, whose reasons name a line and column; one refused for a lone surrogate escape
    is parsed with each such escape read as U+FFFD (``_ESCAPES``) when that mends it. Only a refused
    body pays for either (~0.1 s for a MiB of escapes, on that path alone)."""
    try:
        return loads_exact(data)
    except msgspec.DecodeError as error:
        refusal: Exception = error
    try:
        codec.loads(data)
    except codec.JSONDecodeError as error:
        refusal = error
    if "surrogate" in str(refusal) and b"\\u" in data:
        repaired = _ESCAPES.sub(_repair_escape, data)
        if repaired != data:
            with contextlib.suppress(msgspec.DecodeError):
                return loads_exact(repaired)
    if data.startswith(_GZIP_MAGIC):  # orjson would say "not valid UTF-8: surrogates not allowed"
        raise MalformedRequestError("the body is gzip: send it with Content-Encoding: gzip") from refusal
    raise MalformedRequestError(f"the body is not valid JSON: {refusal}") from refusal


def _repair_escape(escape: re.Match[bytes]) -> bytes:
    return b"\\ufffd" if escape[1] else escape[0]


def load_json(data: bytes) -> Any:
    """The body as JSON, every integer exact (the judge refuses one the bus cannot carry, with its
    path), nested at most ``MAX_NESTING`` levels."""
    if data.startswith(_UTF8_BOM):  # RFC 8259 8.1 lets a parser ignore it; .NET's UTF-8 writers add one
        data = data[len(_UTF8_BOM) :]
    try:
        document = _parse(data)
    except RecursionError as exc:  # nested far past the limit (``loads_exact``)
        raise MalformedRequestError(_TOO_DEEP) from exc
    if not codec.nests_within(document, MAX_NESTING):
        raise MalformedRequestError(_TOO_DEEP)
    return document


def parse_document(data: bytes, *, max_events: int) -> EventsDocument:
    """One event (an object) or a batch (``{"events": [...], "sent_at": ...}``)."""
    document = load_json(data)
    if not isinstance(document, dict):
        raise MalformedRequestError('the body must be a JSON object: one event, or {"events": [...]}')
    if "events" not in document:
        return EventsDocument([document], None)
    events, sent_at = document["events"], document.get("sent_at")
    if not isinstance(events, list) or not events:
        raise MalformedRequestError('"events" must be a non-empty array')
    if len(events) > max_events:
        raise PayloadTooLargeError(f"a batch holds at most {max_events} events, got {len(events)}")
    if sent_at is not None:
        _check_sent_at(sent_at, "sent_at")
    return EventsDocument(events, sent_at)


@dataclass(frozen=True, slots=True)
class SegmentDocument:
    """A Segment HTTP Tracking API body: the calls, and what the body carries for all of them."""

    calls: list[Any]
    sent_at: str | None
    write_key: str | None
    context: dict[str, Any] | None


def parse_segment_document(data: bytes, *, batch: bool, max_events: int) -> SegmentDocument:
    """``{"batch": [...], "sentAt", "context", "writeKey"}`` on ``/v1/batch``, one call elsewhere."""
    document = load_json(data)
    if not isinstance(document, dict):
        raise MalformedRequestError("the body must be a JSON object")
    write_key = document.get("writeKey")
    if write_key is not None and not isinstance(write_key, str):
        raise MalformedRequestError('"writeKey" must be a string')
    if not batch:
        return SegmentDocument([document], None, write_key, None)
    calls, sent_at, context = document.get("batch"), document.get("sentAt"), document.get("context")
    if not isinstance(calls, list) or not calls:
        raise MalformedRequestError('"batch" must be a non-empty array')
    if len(calls) > max_events:
        raise PayloadTooLargeError(f"a batch holds at most {max_events} calls, got {len(calls)}")
    if context is not None and not isinstance(context, dict):
        raise MalformedRequestError('"context" must be an object')
    if sent_at is not None:
        _check_sent_at(sent_at, "sentAt")
    return SegmentDocument(calls, sent_at, write_key, context)


def _check_sent_at(sent_at: Any, name: str) -> None:
    """The batch's sent_at by an event's own rule: the schemas' ``date-time`` (where a second 60 is
    a leap second, so only 23:59:60 UTC), then a moment the judge can compute with (the same parse
    that rejects an event's unrepresentable time); checked once per request."""
    if not isinstance(sent_at, str):
        raise MalformedRequestError(f'"{name}" must be an RFC 3339 timestamp')
    if not is_date_time(sent_at):
        leap = sent_at[17:19] == "60"
        rule = "a second 60 is a leap second: 23:59:60 UTC only" if leap else "as an event's times"
        raise MalformedRequestError(clip(f'"{name}" is not an RFC 3339 date-time ({rule}): {sent_at!r}'))
    try:
        parse_rfc3339(sent_at)
    except ValueError as exc:
        raise MalformedRequestError(f'"{name}" is not an RFC 3339 timestamp: {exc}') from exc
