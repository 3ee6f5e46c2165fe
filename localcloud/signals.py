"""Which signals (``event_id``s) a payload carries, whatever hop it comes from.

One reader for every shape the pipeline produces, so faults can target event ids and the accounting
can count every store the same way: a client event, an ingress or enriched batch (``detail.signals``),
an EventBridge event, a Lambda on-failure record (``requestPayload``), an SQS record (``body``), a
flat Kinesis record (base64 ``data``), a lake NDJSON line, a bad-record object (``record``), a list
of any of these. A signal is an object with a string ``event_id`` and a string ``event_type``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from typing import Any

from signal_platform import codec


def event_ids(payload: Any) -> Iterator[str]:
    """Every signal's event_id in ``payload``, in document order, repeats included."""
    if isinstance(payload, list):
        for item in payload:
            yield from event_ids(item)
        return
    if not isinstance(payload, dict):
        return
    event_id, event_type = payload.get("event_id"), payload.get("event_type")
    if isinstance(event_id, str) and isinstance(event_type, str) and "signals" not in payload:
        yield event_id
        return
    for key, value in payload.items():
        if isinstance(value, str) and key in ("data", "body", "Body", "Data"):
            yield from event_ids(decode_text(value, base64_encoded=key in ("data", "Data")))
        elif isinstance(value, dict | list):
            yield from event_ids(value)


def decode_text(text: str, *, base64_encoded: bool) -> Any:
    """``text`` as JSON (after base64 when ``base64_encoded``), or None when it is neither."""
    raw: bytes | str = text
    if base64_encoded:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raw = text
    try:
        return codec.loads(raw)
    except codec.JSONDecodeError:
        return None
