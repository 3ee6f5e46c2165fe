"""Request-level parsing: write keys, media type, gzip with a cap, JSON and the request shape."""

from __future__ import annotations

import base64
import gzip
import json
import re
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signal_platform import codec, errors
from validator.auth import write_key_from_headers
from validator.body import (
    MAX_GZIP_MEMBERS,
    MAX_NESTING,
    check_media_type,
    decompress,
    load_json,
    loads_exact,
    parse_document,
    parse_segment_document,
    raw_body,
)


def _basic(user: str, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-api-key": "web.secret"}, "web.secret"),
        ({"authorization": _basic("web.secret")}, "web.secret"),
        ({"authorization": _basic("web.secret", "ignored")}, "web.secret"),
        ({"authorization": _basic("from-basic"), "x-api-key": "from-header"}, "from-header"),
    ],
)
def test_write_key_from_headers_supported_forms_found(headers: dict[str, str], expected: str) -> None:
    assert write_key_from_headers(headers) == expected


@pytest.mark.parametrize(
    "headers",
    [{}, {"authorization": "Bearer abc"}, {"authorization": "Basic !!!"}, {"authorization": _basic("")}],
    ids=["none", "bearer", "bad-base64", "empty-user"],
)
def test_write_key_from_headers_missing_or_malformed_unauthenticated(headers: dict[str, str]) -> None:
    with pytest.raises(errors.AuthenticationError):
        write_key_from_headers(headers)


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"]
)
def test_check_media_type_json_accepted(content_type: str) -> None:
    check_media_type({"content-type": content_type})


@pytest.mark.parametrize(
    "headers", [{}, {"content-type": "text/plain"}, {"content-type": "application/x-ndjson"}]
)
def test_check_media_type_other_unsupported(headers: dict[str, str]) -> None:
    with pytest.raises(errors.UnsupportedMediaTypeError):
        check_media_type(headers)


def test_raw_body_over_cap_too_large() -> None:
    with pytest.raises(errors.PayloadTooLargeError):
        raw_body("x" * 1025, is_base64=False, max_bytes=1024)


@pytest.mark.parametrize(("body", "is_base64"), [(None, False), ("", False), ("%%%", True)])
def test_raw_body_empty_or_bad_base64_malformed(body: str | None, is_base64: bool) -> None:
    with pytest.raises(errors.MalformedRequestError):
        raw_body(body, is_base64=is_base64, max_bytes=1024)


def test_decompress_gzip_round_trip() -> None:
    payload = b'{"events": []}' * 10
    assert decompress(gzip.compress(payload), "gzip", max_bytes=1024) == payload


def test_decompress_gzip_bomb_stops_at_cap() -> None:
    # GIVEN 50 MB of zeros compressed to a few tens of KB
    bomb = gzip.compress(b"0" * 50_000_000)
    # WHEN / THEN it is refused as too large without inflating it all
    with pytest.raises(errors.PayloadTooLargeError):
        decompress(bomb, "gzip", max_bytes=1024 * 1024)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"not gzip at all", errors.MalformedRequestError),
        (gzip.compress(b"x" * 1000)[:-12], errors.MalformedRequestError),
    ],
    ids=["corrupt", "truncated"],
)
def test_decompress_bad_gzip_malformed(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        decompress(data, "gzip", max_bytes=1024 * 1024)


def test_decompress_gzip_of_several_members_is_their_concatenation() -> None:
    # GIVEN one JSON body gzipped as two members, cut in the middle of the JSON (RFC 1952 allows a
    # file of several members; `cat a.gz b.gz` and streaming writers make them)
    body = b'{"events": [{"event_id": "a"}, {"event_id": "b"}]}'
    data = gzip.compress(body[:20]) + gzip.compress(body[20:])
    # WHEN it is inflated / THEN the whole body (was: the first member only, then "not valid JSON")
    assert decompress(data, "gzip", max_bytes=1024) == body


@pytest.mark.parametrize(
    "tail",
    [b"trailing garbage", b"\x00" * 8, gzip.compress(b"x" * 100)[:-12]],
    ids=["garbage", "zeros", "truncated-member"],
)
def test_decompress_gzip_member_followed_by_anything_else_malformed(tail: bytes) -> None:
    # GIVEN a whole gzip member followed by bytes that are not another whole member
    # WHEN it is inflated / THEN a 400 (was: the tail silently dropped, the request accepted)
    with pytest.raises(errors.MalformedRequestError):
        decompress(gzip.compress(b'{"events": []}') + tail, "gzip", max_bytes=1024)


@pytest.mark.parametrize(("size", "fits"), [(1024, True), (1025, False)])
def test_decompress_gzip_members_share_one_cap(size: int, fits: bool) -> None:
    # GIVEN members that each fit the cap, together exactly at it or one byte over
    data = gzip.compress(b"x" * 1000) + gzip.compress(b"x" * (size - 1000))
    # WHEN / THEN the cap holds for the whole body, at its exact byte
    if fits:
        assert len(decompress(data, "gzip", max_bytes=1024)) == 1024
    else:
        with pytest.raises(errors.PayloadTooLargeError):
            decompress(data, "gzip", max_bytes=1024)


@pytest.mark.parametrize(("members", "fits"), [(MAX_GZIP_MEMBERS, True), (MAX_GZIP_MEMBERS + 1, False)])
def test_decompress_gzip_members_are_counted(members: int, fits: bool) -> None:
    # GIVEN a body of many one-byte members (each costs a decompressor: 0.4 s for a MiB of them)
    data = gzip.compress(b"x") * members
    # WHEN / THEN up to the limit they are the body, past it a 400
    if fits:
        assert decompress(data, "gzip", max_bytes=1024) == b"x" * members
    else:
        with pytest.raises(errors.MalformedRequestError, match="members"):
            decompress(data, "gzip", max_bytes=1024)


def test_decompress_unknown_encoding_unsupported() -> None:
    with pytest.raises(errors.UnsupportedMediaTypeError):
        decompress(b"x", "br", max_bytes=1024)


def test_parse_document_single_event_is_a_batch_of_one() -> None:
    document = parse_document(b'{"event_id": "a"}', max_events=500)
    assert (document.events, document.sent_at) == ([{"event_id": "a"}], None)


def test_parse_document_batch_with_sent_at() -> None:
    document = parse_document(b'{"events": [1, 2], "sent_at": "2026-11-26T12:00:00Z"}', max_events=500)
    assert (document.events, document.sent_at) == ([1, 2], "2026-11-26T12:00:00Z")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{not json", errors.MalformedRequestError),
        (b"[1, 2]", errors.MalformedRequestError),
        (b'{"events": []}', errors.MalformedRequestError),
        (b'{"events": {}}', errors.MalformedRequestError),
        (b'{"events": [1], "sent_at": 5}', errors.MalformedRequestError),
        (b'{"events": [1], "sent_at": "yesterday"}', errors.MalformedRequestError),
        (b'{"events": [1, 2, 3]}', errors.PayloadTooLargeError),
    ],
    ids=[
        "not-json",
        "array",
        "empty-batch",
        "events-not-array",
        "sent-at-number",
        "sent-at-text",
        "too-many",
    ],
)
def test_parse_document_bad_shape_refused(body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_document(body, max_events=2)


# Second 60 is a leap second: the registry's date-time takes it only as 23:59:60 UTC (any date).
LEAP_SECONDS = ["2026-12-31T23:59:60Z", "2026-12-07t23:59:60.5z", "2026-12-08T00:59:60+01:00"]
NOT_LEAP_SECONDS = ["2026-12-07T10:00:60Z", "2026-12-07T23:58:60Z", "2026-12-07T23:59:60-01:00"]


@pytest.mark.parametrize("sent_at", LEAP_SECONDS)
def test_batch_sent_at_with_a_leap_second_accepted(sent_at: str) -> None:
    # GIVEN a batch sent at a leap second (23:59:60 UTC), natively or in Segment's shape
    native = codec.dumps({"events": [1], "sent_at": sent_at})
    segment = codec.dumps({"batch": [1], "sentAt": sent_at})
    # WHEN the bodies are parsed / THEN the sent_at is kept, as an event's own would be
    assert parse_document(native, max_events=2).sent_at == sent_at
    assert parse_segment_document(segment, batch=True, max_events=2).sent_at == sent_at


@pytest.mark.parametrize("sent_at", [*NOT_LEAP_SECONDS, "0000-01-01T00:00:00Z", "9999-12-31T23:59:60Z"])
@pytest.mark.parametrize(("field", "shape"), [("sent_at", "events"), ("sentAt", "batch")])
def test_batch_sent_at_an_event_could_not_carry_refused_with_the_reason(
    sent_at: str, field: str, shape: str
) -> None:
    # GIVEN a batch whose sent_at an event's own sent_at could not be: second 60 at another minute
    # than 23:59 UTC (the registry's date-time refuses it; the batch's was read as the next minute,
    # at any minute), or a moment before year 1 or after 9999
    body = codec.dumps({shape: [1], field: sent_at})
    # WHEN the body is parsed
    with pytest.raises(errors.MalformedRequestError) as refused:
        if shape == "events":
            parse_document(body, max_events=2)
        else:
            parse_segment_document(body, batch=True, max_events=2)
    # THEN it is refused (400), naming the field and, for a second 60, the rule
    assert f'"{field}"' in str(refused.value)
    if sent_at in NOT_LEAP_SECONDS:
        assert "23:59:60 UTC only" in str(refused.value)


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": "Basic d2Vi\u00e9"},
        {"authorization": "Basic " + base64.b64encode(b"\xff\xfe:").decode()},
        {"authorization": "Basic \ud800"},
        {"x-api-key": "web-shop.s\u00e9cret"},
        {"x-api-key": "web-shop.\ud800"},
    ],
    ids=["non-ascii-base64", "invalid-utf8-user", "lone-surrogate", "non-ascii-key", "surrogate-key"],
)
def test_write_key_from_headers_non_ascii_unauthenticated(headers: dict[str, str]) -> None:
    # GIVEN credentials with bytes no write key has (keys are ASCII)
    # WHEN the write key is looked for / THEN it is a 401, not an unexpected error
    with pytest.raises(errors.AuthenticationError):
        write_key_from_headers(headers)


@pytest.mark.parametrize(
    ("body", "is_base64"),
    [("caf\u00e9", True), ("\ud800", False), ("e30=\u00e9", True)],
    ids=["non-ascii-base64", "lone-surrogate", "base64-then-non-ascii"],
)
def test_raw_body_undecodable_malformed(body: str, is_base64: bool) -> None:
    # GIVEN a body that is neither base64 (as flagged) nor encodable text
    # WHEN it is read / THEN it is a 400, not an unexpected error
    with pytest.raises(errors.MalformedRequestError):
        raw_body(body, is_base64=is_base64, max_bytes=1024)


def _nested(levels: int) -> bytes:
    """JSON nesting arrays and objects in turn, ``levels`` deep."""
    text = "1"
    for level in range(levels):
        text = f'{{"k": {text}}}' if level % 2 else f"[{text}]"
    return text.encode()


@pytest.mark.parametrize("levels", [0, 1, 2, 10, codec.MAX_NESTING - 1, codec.MAX_NESTING])
def test_nests_within_counts_every_array_and_object(levels: int) -> None:
    # GIVEN parsed JSON nested exactly ``levels`` deep, up to what orjson writes
    value = codec.loads(_nested(levels))
    # WHEN its nesting is checked against its own depth and one less
    # THEN it is within the one, not the other
    assert codec.nests_within(value, levels)
    assert levels == 0 or not codec.nests_within(value, levels - 1)


def test_load_json_refuses_a_body_nested_past_the_limit() -> None:
    # GIVEN bodies nested to the limit and one level past it
    assert load_json(_nested(MAX_NESTING)) is not None
    # WHEN the deeper one is read / THEN a 400 with the reason, not an error later in the pipeline
    with pytest.raises(errors.MalformedRequestError, match=f"more than {MAX_NESTING} levels"):
        load_json(_nested(MAX_NESTING + 1))


@pytest.mark.parametrize("levels", [1_024, 1_025, 100_000])
def test_load_json_refuses_a_body_nested_past_what_any_parser_reads(levels: int) -> None:
    # GIVEN a body nested far past the limit, up to past what the parsers recurse (the exact parser
    # gives up with a RecursionError at about a thousand levels, orjson at 1,024)
    # WHEN it is read / THEN the same 400 as one level past the limit, never a RecursionError
    with pytest.raises(errors.MalformedRequestError, match=f"more than {MAX_NESTING} levels"):
        load_json(_nested(levels))


@pytest.mark.parametrize(
    "number",
    [2**63, 2**64 - 1, 2**64, -(2**63) - 1, 10**30, -(10**30), 10**400, -(10**1_000)],
    ids=lambda number: f"{len(str(number))} characters",
)
def test_load_json_keeps_integers_past_64_bits_exact(number: int) -> None:
    # GIVEN a body with an integer past int64, twice: in an object and deeper, in arrays
    body = f'{{"events": [{{"data": {{"hash": {number}, "deep": [[{number}]]}}}}]}}'.encode()
    # WHEN it is read
    document = load_json(body)
    # THEN the integer is the one sent, not the nearest double (the judge then names it, with its
    # path, as one the bus cannot carry), and the nesting check still reads the body
    data = document["events"][0]["data"]
    assert type(data["hash"]) is int
    assert data["hash"] == number
    assert data["deep"] == [[number]]


def test_load_json_refuses_a_body_nested_past_the_limit_that_holds_a_wide_integer() -> None:
    # GIVEN a body one level past the limit with an integer past 64 bits inside (which orjson, the
    # nesting check's encoder, refuses for its own reason)
    body = _nested(MAX_NESTING + 1).replace(b"1", str(2**64).encode(), 1)
    # WHEN it is read / THEN it is refused for its nesting
    with pytest.raises(errors.MalformedRequestError, match=f"more than {MAX_NESTING} levels"):
        load_json(body)


def test_load_json_refuses_an_integer_longer_than_python_reads() -> None:
    # GIVEN an integer of 4,301 digits (past Python's limit on converting text to int)
    body = b'{"n": ' + b"9" * 4_301 + b"}"
    # WHEN it is read / THEN a 400 saying the body is not JSON it takes, not a ValueError
    with pytest.raises(errors.MalformedRequestError, match="not valid JSON"):
        load_json(body)


# Text close to JSON, where parsers disagree if they do: JSON written by the standard library (any
# integer, exactly), runs of the pieces JSON is made of (escapes, odd literals and bytes among them),
# and bytes.
_NEAR_JSON = st.one_of(
    st.recursive(
        st.none()
        | st.booleans()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=6)
        | st.integers()
        | st.integers(min_value=-(10**40), max_value=10**40),
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
        ),
        max_leaves=12,
    ).map(lambda value: json.dumps(value, ensure_ascii=False).encode()),
    st.lists(
        st.sampled_from(
            [
                *'{}[]",: \t\n019-+.eE\\',
                "true",
                "false",
                "null",
                "NaN",
                "Infinity",
                "\\u",
                "d83d",
                "dc00",
                "é",
                "\x00",
                "\x7f",
                "\ufeff",
                "18446744073709551616",
                "1e400",
                "01",
            ]
        ),
        max_size=24,
    ).map(lambda parts: "".join(parts).encode()),
    st.binary(max_size=24),
)
# orjson refuses an integer past a double's range (309 digits) that the exact parser reads.
_LONG_DIGIT_RUN = re.compile(rb"\d{300}")


def _parsed(parse: Any, data: bytes) -> tuple[bool, str]:
    """Whether ``parse`` takes ``data``, and what it reads (repr: 1 and 1.0, 0.0 and -0.0 differ)."""
    try:
        return True, repr(parse(data))
    except (ValueError, RecursionError):  # orjson's, msgspec's and the standard library's errors
        return False, ""


@settings(max_examples=1_500, deadline=None)
@given(_NEAR_JSON)
def test_loads_exact_takes_what_orjson_takes_and_reads_every_integer_exactly(data: bytes) -> None:
    # GIVEN bytes that are JSON or nearly JSON
    # WHEN the exact parser, orjson and the standard library read them
    exact, fast, standard = _parsed(loads_exact, data), _parsed(orjson.loads, data), _parsed(json.loads, data)
    # THEN the exact parser takes what orjson takes and refuses what it refuses (so the validator
    # answers as it did with orjson), but for an integer too long for a double, which only it reads
    if _LONG_DIGIT_RUN.search(data) is None:
        assert exact[0] == fast[0], (data, exact, fast)
    # and what it reads is what the standard library reads, every integer exact (orjson reads one
    # past 64 bits as the nearest double)
    if exact[0]:
        assert standard == exact, (data, exact, standard)
