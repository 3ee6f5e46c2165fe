"""From an HTTP body to a list of raw events: media type, gzip with a cap, JSON, request shape."""

from __future__ import annotations

import base64
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from signal_platform import codec
from signal_platform.errors import MalformedRequestError, PayloadTooLargeError, UnsupportedMediaTypeError
from signal_platform.timeutil import parse_rfc3339

_GZIP_WBITS = 16 + zlib.MAX_WBITS


@dataclass(frozen=True, slots=True)
class EventsDocument:
    events: list[Any]
    sent_at: str | None


def check_media_type(headers: Mapping[str, str]) -> None:
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaTypeError(
            f"content-type must be application/json, got {media_type or 'nothing'!r}"
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
    """Undo ``Content-Encoding``; gzip is inflated in a bounded step, so a zip bomb stops at the cap."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return data
    if encoding != "gzip":
        raise UnsupportedMediaTypeError(f"content-encoding {encoding!r} is not supported: use gzip or none")
    inflater = zlib.decompressobj(_GZIP_WBITS)
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise MalformedRequestError(f"the gzip body is corrupt: {exc}") from exc
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise PayloadTooLargeError(f"the decompressed body is over {max_bytes} bytes")
    if not inflater.eof:
        raise MalformedRequestError("the gzip body is truncated")
    return out


def parse_document(data: bytes, *, max_events: int) -> EventsDocument:
    """One event (an object) or a batch (``{"events": [...], "sent_at": ...}``)."""
    try:
        document = codec.loads(data)
    except codec.JSONDecodeError as exc:
        raise MalformedRequestError(f"the body is not valid JSON: {exc}") from exc
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
        if not isinstance(sent_at, str):
            raise MalformedRequestError('"sent_at" must be an RFC 3339 timestamp')
        try:
            parse_rfc3339(sent_at)
        except ValueError as exc:
            raise MalformedRequestError(f'"sent_at" is not an RFC 3339 timestamp: {exc}') from exc
    return EventsDocument(events, sent_at)
