"""codec.canonical_for_bus: the canonical bytes of a value, unless it holds an integer EventBridge's
PutEvents does not take (int64 only, while orjson reads integers up to 2**64 - 1); codec.nests_within
of values orjson cannot encode."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signal_platform import codec

_JSON_WITH_WIDE_INTEGERS = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=4)
    # orjson parses integers from -2**63 to 2**64 - 1 as integers (as floats beyond): all of them here
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.sampled_from([2**53, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, -(2**63)]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=12,
)


def _integers(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], int]]:
    """Each integer of ``value`` with its path, in document order."""
    if type(value) is int:
        yield path, value
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from _integers(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _integers(child, (*path, index))


@settings(max_examples=400, deadline=None)
@given(_JSON_WITH_WIDE_INTEGERS)
def test_canonical_for_bus_is_canonical_or_names_the_first_integer_outside_int64(value: Any) -> None:
    # GIVEN parsed JSON with integers anywhere in the range orjson reads (int64 and beyond it)
    outside = [path for path, number in _integers(value) if not -(2**63) <= number < 2**63]
    # WHEN it is encoded for the bus
    if not outside:
        # THEN within int64 (past 53 bits or not) it is the canonical bytes
        assert codec.canonical_for_bus(value) == codec.canonical(value)
        return
    # THEN otherwise it is refused, naming the first integer outside int64 in document order
    with pytest.raises(codec.IntegerOutOfRangeError) as raised:
        codec.canonical_for_bus(value)
    assert tuple(raised.value.path) == outside[0]


@pytest.mark.parametrize("number", [2**63 - 1, -(2**63), 2**53 + 1, -(2**53) - 1])
def test_canonical_for_bus_keeps_the_int64_limits_exactly(number: int) -> None:
    # GIVEN the largest and smallest int64, and the first integers past orjson's 53-bit check
    value = {"b": [number], "a": True}
    # WHEN encoded / THEN as canonical() writes them
    assert codec.canonical_for_bus(value) == codec.canonical(value) == b'{"a":true,"b":[%d]}' % number


@pytest.mark.parametrize("number", [2**63, 2**64 - 1])
def test_canonical_for_bus_refuses_the_unsigned_64_bit_integers_past_int64(number: int) -> None:
    # GIVEN a uint64 past int64, as a Go or Rust client writes a hash or an id (orjson reads it)
    value = codec.loads(b'{"a": 1, "ids": [0, {"hash": %d}]}' % number)
    assert value["ids"][1]["hash"] == number
    # WHEN encoded for the bus / THEN refused where it is
    with pytest.raises(codec.IntegerOutOfRangeError) as raised:
        codec.canonical_for_bus(value)
    assert raised.value.path == ["ids", 1, "hash"]


@pytest.mark.parametrize("number", [2**64, -(2**63) - 1, 10**30])
def test_canonical_for_bus_refuses_integers_past_64_bits(number: int) -> None:
    # GIVEN an integer past 64 bits, as a parse that keeps integers exact reads it (orjson writes none)
    value = json.loads(f'{{"a": 1, "ids": [0, {{"hash": {number}}}]}}')
    # WHEN encoded for the bus / THEN refused where it is, as any integer outside int64
    with pytest.raises(codec.IntegerOutOfRangeError) as raised:
        codec.canonical_for_bus(value)
    assert raised.value.path == ["ids", 1, "hash"]


@pytest.mark.parametrize("levels", [codec.MAX_NESTING + 50, 5_000])
def test_canonical_for_bus_refuses_what_canonical_refuses(levels: int) -> None:
    # GIVEN a value nested past what orjson writes (and past what the recursive walk reaches), with a
    # 64-bit integer at the bottom
    value: Any = 2**63 - 1
    for _ in range(levels):
        value = [value]
    # WHEN encoded for the bus / THEN the same error as canonical()
    with pytest.raises(codec.JSONEncodeError):
        codec.canonical(value)
    with pytest.raises(codec.JSONEncodeError):
        codec.canonical_for_bus(value)


@pytest.mark.parametrize("number", [2**64, -(2**63) - 1, 10**30])
def test_nests_within_counts_a_value_with_an_integer_orjson_cannot_write(number: int) -> None:
    # GIVEN values nested 3 levels with an integer past 64 bits (which orjson refuses to encode)
    value = {"a": [{"b": number}]}
    # WHEN their nesting is checked / THEN it is counted all the same
    assert codec.nests_within(value, 3)
    assert not codec.nests_within(value, 2)
    assert codec.nests_within(number, 0)
