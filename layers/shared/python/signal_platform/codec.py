"""JSON in one place: orjson, about 3x faster than the standard library on our events.

``canonical`` is the byte form that signatures cover: sorted keys, no whitespace, UTF-8. orjson
writes floats in their shortest round-trip form, so parse -> canonical gives the same bytes on
every hop.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson

JSONDecodeError = orjson.JSONDecodeError
Fragment = orjson.Fragment

_CANONICAL = orjson.OPT_SORT_KEYS
# Arrays and objects orjson writes nested in one another; deeper, it raises JSONEncodeError.
MAX_NESTING = 254


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=_CANONICAL)


class _Hole:
    """Where a nesting probe holds the value under test (orjson asks ``default`` for it)."""


@cache
def _nesting_probe(wrappers: int) -> Any:
    probe: Any = _Hole()
    for _ in range(wrappers):
        probe = [probe]
    return probe


def nests_within(value: Any, levels: int) -> bool:
    """Whether parsed JSON ``value`` nests at most ``levels`` arrays and objects, itself included.

    One encoding, its output dropped: ``value`` under ``MAX_NESTING - levels`` arrays reaches
    orjson's limit exactly when it nests deeper than ``levels`` (parsed JSON encodes otherwise)."""
    try:
        orjson.dumps(_nesting_probe(MAX_NESTING - levels), default=lambda _: value)
    except orjson.JSONEncodeError:
        return False
    return True
