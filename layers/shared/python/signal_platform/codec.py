"""JSON in one place: orjson, about 3x faster than the standard library on our events (the validator
reads client bodies with msgspec, which keeps every integer exact: ``validator.body``).

``canonical`` is the byte form that signatures cover: sorted keys, no whitespace, UTF-8. orjson
writes floats in their shortest round-trip form, so parse -> canonical gives the same bytes on
every hop.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Final

import orjson

JSONDecodeError = orjson.JSONDecodeError
JSONEncodeError = orjson.JSONEncodeError
Fragment = orjson.Fragment

_CANONICAL = orjson.OPT_SORT_KEYS
# orjson writes integers up to 2**64 - 1, but EventBridge's PutEvents takes JSON integers of int64
# only (its API reference). orjson's own 53-bit check costs nothing and fails first on any larger
# integer, so only a value holding one is walked.
_CANONICAL_53_BIT = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
BUS_INTEGERS = range(-(2**63), 2**63)
# Arrays and objects orjson writes nested in one another; deeper, it raises JSONEncodeError.
MAX_NESTING = 254


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=_CANONICAL)


class IntegerOutOfRangeError(ValueError):
    """A value holds an integer outside ``BUS_INTEGERS``, at ``path`` (keys and indexes from the root)."""

    def __init__(self, path: list[str | int]) -> None:
        super().__init__(f"an integer outside {BUS_INTEGERS.start}..{BUS_INTEGERS.stop - 1}")
        self.path = path


def canonical_for_bus(value: Any) -> bytes:
    """``canonical(value)`` when every integer in it is one EventBridge takes; otherwise
    ``IntegerOutOfRangeError`` naming the first one outside ``BUS_INTEGERS``.

    A value with an integer past 53 bits (a nanosecond time, a 64-bit id) costs ~2 µs more: encoded
    again, then walked. An integer past 64 bits (which a parse that keeps integers exact gives, the
    validator's for a body that holds one) is named the same way; otherwise what canonical()
    refuses raises what canonical() raises."""
    try:
        return orjson.dumps(value, option=_CANONICAL_53_BIT)
    except orjson.JSONEncodeError:
        pass
    try:
        body = orjson.dumps(value, option=_CANONICAL)
    except orjson.JSONEncodeError:
        try:
            path = _path_to_integer_outside(value)
        except RecursionError:  # nested past what the walk reaches: orjson's error says why
            path = None
        if path is None:
            raise
        raise IntegerOutOfRangeError(path) from None
    path = _path_to_integer_outside(value)
    if path is not None:
        raise IntegerOutOfRangeError(path)
    return body


_LOWEST, _HIGHEST = BUS_INTEGERS.start, BUS_INTEGERS.stop - 1


def _path_to_integer_outside(value: Any) -> list[str | int] | None:
    """Where the first integer of ``value`` (in document order) outside ``BUS_INTEGERS`` is, or None.
    Recursive, and the path is built only on the way back from such an integer (a walk that kept a
    path for every member cost three times as much): a value nested past Python's recursion limit
    raises RecursionError."""
    kind = type(value)
    if kind is int:
        return None if _LOWEST <= value <= _HIGHEST else []
    if kind is dict:
        members: Any = value.items()
    elif kind is list:
        members = enumerate(value)
    else:
        return None
    for key, child in members:
        if type(child) is str:  # most members: no call for them (a third of the walk's cost)
            continue
        path = _path_to_integer_outside(child)
        if path is not None:
            path.insert(0, key)
            return path
    return None


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
    orjson's limit exactly when it nests deeper than ``levels``. orjson also refuses an integer past
    64 bits (an exact parse gives them): a value it refuses is walked instead."""
    try:
        orjson.dumps(_nesting_probe(MAX_NESTING - levels), default=lambda _: value)
    except orjson.JSONEncodeError:
        return _walked_nests_within(value, levels)
    return True


_CONTAINERS: Final = (dict, list)


def _walked_nests_within(value: Any, levels: int) -> bool:
    """``nests_within`` by a walk without recursion, so of a value nested to any depth."""
    pending = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        kind = type(node)
        if kind not in _CONTAINERS:
            continue
        if depth > levels:
            return False
        children = node.values() if kind is dict else node
        pending.extend((child, depth + 1) for child in children if type(child) in _CONTAINERS)
    return True
