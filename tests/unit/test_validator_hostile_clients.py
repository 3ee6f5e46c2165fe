"""Requests as real clients and the front doors deliver them, through the real handler behind either
door: a Content-Encoding that is a list (RFC 9110 8.4) or gzip's old name, a Content-Type or
Content-Encoding sent twice, which API Gateway passes on comma-joined, and a body that begins with a
UTF-8 byte order mark. Each is read as the one coding, media type or JSON text it names (was: a 415
or a 400, the events lost for a client that resends nothing on a 4xx), and what names anything else
is still refused with its reason."""

from __future__ import annotations

import base64
import gzip
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signal_platform import codec
from tests.fuzz.harness import FRONT_DOORS, WRITE_KEY, Harness, handler_behind
from tests.http_events import http_api_event, page_view
from tests.unit.test_validator_hostile_inputs import _native_track

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
SEGMENT_CALL = {"type": "track", "event": "Clicked", "messageId": "m-1", "anonymousId": "anon-1"}
_SURROGATE = re.compile("[\ud800-\udfff]")


@pytest.fixture(params=FRONT_DOORS)
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    with handler_behind(request.param) as fake:
        yield fake


def _post(
    harness: Harness, path: str, body: bytes, headers: dict[str, str], *, gzipped: bool = False
) -> tuple[int, Any]:
    event = http_api_event(b"" if gzipped else body, write_key=WRITE_KEY, headers=headers)
    if gzipped:
        event["body"], event["isBase64Encoded"] = base64.b64encode(gzip.compress(body)).decode(), True
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["routeKey"] = event["requestContext"]["routeKey"] = f"POST {path}"
    status, _, answer = harness.invoke(event)
    return status, answer


def _reason(answer: Any) -> str:
    return str(answer["error"]["message"] if "error" in answer else answer["message"])


@pytest.mark.parametrize(
    "encoding", ["x-gzip", "X-Gzip", "gzip, identity", "identity,gzip", "gzip,", " , gzip , identity "]
)
@pytest.mark.parametrize("path", ["/v1/events", "/v1/batch"])
def test_gzip_named_by_its_old_name_or_in_a_list_is_inflated(
    harness: Harness, path: str, encoding: str
) -> None:
    # GIVEN a gzip body whose Content-Encoding is "x-gzip" or a list naming gzip once (was: a 415)
    body = codec.dumps({"events": [page_view()]} if path == "/v1/events" else {"batch": [SEGMENT_CALL]})
    # WHEN it is posted
    status, answer = _post(harness, path, body, {"content-encoding": encoding}, gzipped=True)
    # THEN it is read as gzip: accepted and forwarded
    assert status == 200, answer
    assert answer["counts"]["accepted"] == 1
    assert len(harness.forwarded()) == 1


@pytest.mark.parametrize("encoding", ["gzip, gzip", "gzip, br", "deflate, identity", "gzip;q=1"])
def test_content_encoding_naming_more_than_one_gzip_refused_with_its_reason(
    harness: Harness, encoding: str
) -> None:
    # GIVEN a list naming another coding, or gzip twice (a body compressed twice, as the header says,
    # or a header sent twice: either way not what a client of this API sends)
    body = codec.dumps({"events": [page_view()]})
    # WHEN it is posted
    status, answer = _post(harness, "/v1/events", body, {"content-encoding": encoding}, gzipped=True)
    # THEN a 415 that quotes the header, nothing forwarded
    assert status == 415, answer
    assert encoding.lower() in _reason(answer)
    assert harness.forwarded() == []


CODING_NAMES = st.sampled_from(["identity", "IDENTITY", "", " "])
GZIP_NAMES = st.sampled_from(["gzip", "GZIP", "x-gzip", "X-GZIP", " gzip "])


@st.composite
def content_encodings(draw: st.DrawFn) -> tuple[str, bool]:
    """A Content-Encoding list of identity and empty items with at most one gzip; whether it has it."""
    items = draw(st.lists(CODING_NAMES, max_size=4))
    gzipped = draw(st.booleans())
    if gzipped:
        items.insert(draw(st.integers(min_value=0, max_value=len(items))), draw(GZIP_NAMES))
    return ",".join(items), gzipped


def test_any_list_of_identity_and_one_gzip_reads_the_body_as_sent(harness: Harness) -> None:
    # GIVEN bodies whose Content-Encoding lists identity (any number of times, in any case, with
    # empty items) around at most one gzip, under any of its names
    @settings(max_examples=30, deadline=None, database=None)
    @given(content_encodings())
    def check(encoding_and_gzipped: tuple[str, bool]) -> None:
        encoding, gzipped = encoding_and_gzipped
        event = page_view()
        body = codec.dumps({"events": [event]})
        # WHEN it is posted, compressed exactly when the list names gzip
        status, answer = _post(harness, "/v1/events", body, {"content-encoding": encoding}, gzipped=gzipped)
        # THEN the event is accepted and forwarded as sent
        assert status == 200, (encoding, answer)
        assert [signal.event["event_id"] for signal in harness.forwarded()] == [event["event_id"]]

    check()


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/v1/events", "application/json,application/json"),
        ("/v1/events", "application/json, application/json; charset=utf-8"),
        ("/v1/batch", "text/plain,text/plain;charset=UTF-8"),
        ("/v1/batch", "application/json, text/plain"),
    ],
)
def test_content_type_sent_twice_comma_joined_accepted(
    harness: Harness, path: str, content_type: str
) -> None:
    # GIVEN a Content-Type sent twice, each an allowed media type, as API Gateway joins them (was: a 415)
    body = codec.dumps({"events": [page_view()]} if path == "/v1/events" else {"batch": [SEGMENT_CALL]})
    # WHEN it is posted
    status, answer = _post(harness, path, body, {"content-type": content_type})
    # THEN it is read as JSON: accepted and forwarded
    assert status == 200, answer
    assert len(harness.forwarded()) == 1


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/v1/events", "application/json, text/html"),
        ("/v1/events", "application/json, text/plain"),
        ("/v1/events", ",,"),
        ("/v1/batch", "text/plain, application/xml"),
    ],
)
def test_content_type_list_naming_another_media_type_refused(
    harness: Harness, path: str, content_type: str
) -> None:
    # GIVEN a comma-joined Content-Type naming a media type the route does not take
    body = codec.dumps({"events": [page_view()]} if path == "/v1/events" else {"batch": [SEGMENT_CALL]})
    # WHEN it is posted / THEN a 415 with its reason, nothing forwarded
    status, answer = _post(harness, path, body, {"content-type": content_type})
    assert status == 415, answer
    assert "content-type must be" in _reason(answer)
    assert harness.forwarded() == []


@pytest.mark.parametrize("gzipped", [False, True], ids=["text", "gzip"])
@pytest.mark.parametrize("path", ["/v1/events", "/v1/batch"])
def test_body_beginning_with_a_byte_order_mark_read_as_the_json_after_it(
    harness: Harness, path: str, gzipped: bool
) -> None:
    # GIVEN a JSON body that begins with a UTF-8 byte order mark, as .NET's UTF-8 writers make it
    # (RFC 8259 8.1: a parser may ignore it; was: a 400, "BOM is not supported")
    document = {"events": [page_view()]} if path == "/v1/events" else {"batch": [SEGMENT_CALL]}
    body = b"\xef\xbb\xbf" + codec.dumps(document)
    headers = {"content-encoding": "gzip"} if gzipped else {}
    # WHEN it is posted
    status, answer = _post(harness, path, body, headers, gzipped=gzipped)
    # THEN the JSON after the mark is read: accepted and forwarded
    assert status == 200, answer
    assert len(harness.forwarded()) == 1


@pytest.mark.parametrize(
    "body", [b"\xef\xbb\xbf", b"\xef\xbb\xbf\xef\xbb\xbf{}", b"\xef\xbb{}"], ids=["alone", "twice", "cut"]
)
def test_byte_order_mark_alone_twice_or_cut_refused_as_not_json(harness: Harness, body: bytes) -> None:
    # GIVEN a body that is only a mark, two marks, or part of one before the JSON
    # WHEN it is posted (gzipped: the cut mark is no UTF-8 text) / THEN a 400 that says it is not
    # JSON, nothing forwarded
    status, answer = _post(harness, "/v1/events", body, {"content-encoding": "gzip"}, gzipped=True)
    assert status == 400, answer
    assert "not valid JSON" in _reason(answer)
    assert harness.forwarded() == []


def _stringified(value: Any) -> bytes:
    """``value`` as JSON.stringify writes it: UTF-8, each lone surrogate (a JavaScript string cut
    inside a pair, as substring() cuts an emoji) as its ``\\udXXX`` escape."""
    text = json.dumps(value, ensure_ascii=False)
    return _SURROGATE.sub(lambda found: f"\\u{ord(found[0]):04x}", text).encode()


def _as_javascript_reads(text: str) -> str:
    """``text`` as a JavaScript string: a high and a low surrogate side by side are one character,
    any other surrogate is U+FFFD once encoded to UTF-8."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _clipped_body(path: str, title: str) -> tuple[bytes, str]:
    """A body with one good event or call whose properties hold ``title``, and the event's id."""
    if path == "/v1/events":
        event = _native_track({"title": title})
        return _stringified({"events": [event, page_view()]}), event["event_id"]
    call = {**SEGMENT_CALL, "properties": {"title": title}}
    return _stringified({"batch": [call]} if path == "/v1/batch" else call), ""


@pytest.mark.parametrize("path", ["/v1/events", "/v1/track", "/v1/batch"])
def test_string_cut_inside_an_emoji_kept_with_a_replacement_character(harness: Harness, path: str) -> None:
    # GIVEN a title cut inside emoji at both ends by substring(), which JSON.stringify writes as
    # lone "\ude00" and "\ud83d" escapes (was: a 400 "not valid JSON" for the whole request, every
    # event lost)
    body, _ = _clipped_body(path, "\ude00Trail shoes \U0001f45f on sale \ud83d")
    assert b"\\ud83d" in body
    # WHEN it is posted, gzipped as browsers' libraries send batches
    status, answer = _post(harness, path, body, {"content-encoding": "gzip"}, gzipped=True)
    # THEN every event is accepted and forwarded, each lone half read as U+FFFD
    assert status == 200, answer
    assert answer["counts"]["rejected"] == 0
    titles = [
        signal.event["data"]["properties"]["title"]
        for signal in harness.forwarded()
        if "properties" in signal.event["data"]
    ]
    assert titles == ["\ufffdTrail shoes \U0001f45f on sale \ufffd"]


@pytest.mark.parametrize(
    "body",
    [rb'{"events": [{"a": "\UD83D"}]}', rb'{"events": [{"a": "\ud83d}]}', rb'{"events": [{"a": "\\ud83d"]}'],
    ids=["capital-u", "unterminated", "escaped-backslash"],
)
def test_body_with_an_odd_escape_that_is_not_a_lone_surrogate_still_malformed(
    harness: Harness, body: bytes
) -> None:
    # GIVEN a body that is not JSON for another reason, near a surrogate escape or what looks like one
    # WHEN it is posted / THEN a 400 with orjson's reason, nothing forwarded
    status, answer = _post(harness, "/v1/events", body, {})
    assert status == 400, answer
    assert "not valid JSON" in _reason(answer)
    assert harness.forwarded() == []


def test_any_text_a_browser_sends_is_kept_as_javascript_reads_it(harness: Harness) -> None:
    # GIVEN properties holding any text, lone surrogates included, as JSON.stringify writes them
    @settings(max_examples=40, deadline=None, database=None)
    @given(st.text(st.characters(exclude_categories=()), max_size=12))
    def check(title: str) -> None:
        body, event_id = _clipped_body("/v1/events", title)
        # WHEN it is posted
        status, answer = _post(harness, "/v1/events", body, {})
        # THEN both events are accepted, the title forwarded as a JavaScript page held it
        assert status == 200, (title, answer)
        [forwarded] = [signal.event for signal in harness.forwarded() if signal.event["event_id"] == event_id]
        assert forwarded["data"]["properties"]["title"] == _as_javascript_reads(title)

    check()


@pytest.mark.parametrize("encoding", ["", "identity"])
def test_gzip_body_without_its_content_encoding_refused_with_the_fix(harness: Harness, encoding: str) -> None:
    # GIVEN a gzip body sent without Content-Encoding: gzip (was: a 400 saying the body "is not valid
    # UTF-8: surrogates not allowed", which names neither gzip nor the header)
    body = codec.dumps({"events": [page_view()]})
    # WHEN it is posted / THEN a 400 that names the missing header, nothing forwarded
    status, answer = _post(harness, "/v1/events", body, {"content-encoding": encoding}, gzipped=True)
    assert status == 400, answer
    assert _reason(answer) == "the body is gzip: send it with Content-Encoding: gzip"
    assert harness.forwarded() == []
