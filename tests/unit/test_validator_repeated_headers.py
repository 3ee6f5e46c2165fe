"""A header a client sends more than once, behind the load balancer (validator/edge.py).

With the target group's multi-value headers off (the template's setting) the load balancer passes
the last value of a repeated header; with them on it passes every value and the validator keeps the
last one. So the attribute never changes an answer: the same request gets the same status, headers
and body in both shapes, and never a 5xx. (The HTTP API joins repeated values with commas, which no
write key, media type or encoding matches: a 4xx that names it, tests/e2e/test_load_balancer.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import pytest

from signal_platform import codec
from tests.fuzz.harness import ORIGIN, SOURCE_ID, WRITE_KEY, Harness, basic, handler_behind
from tests.http_events import as_load_balancer_event, http_api_event, page_view, with_multi_value_headers
from validator.handler import lambda_handler

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
WRONG_KEY: Final = basic(f"{SOURCE_ID}.not-its-secret")
# case: the values of each repeated header, in the order sent, and the status the last ones get
REPEATED: Final[dict[str, tuple[dict[str, list[str]], int]]] = {
    "two write keys, the right one last": ({"authorization": [WRONG_KEY, basic(WRITE_KEY)]}, 200),
    "two write keys, the right one first": ({"authorization": [basic(WRITE_KEY), WRONG_KEY]}, 401),
    "the same write key twice": ({"authorization": [basic(WRITE_KEY)] * 2}, 200),
    "two x-api-keys, the right one last": ({"x-api-key": ["nope", WRITE_KEY]}, 200),
    "two media types, JSON last": ({"content-type": ["text/xml", "application/json"]}, 200),
    "two media types, JSON first": ({"content-type": ["application/json", "text/xml"]}, 415),
    "two encodings, identity last": ({"content-encoding": ["gzip", "identity"]}, 200),
    "two encodings, an unknown last": ({"content-encoding": ["identity", "br"]}, 415),
    "two origins, a foreign one last": ({"origin": [ORIGIN, "https://copycat.example.net"]}, 403),
    "two cookies": ({"cookie": ["a=1", "b=2"]}, 200),
    "two user agents": ({"user-agent": ["first/1.0", "second/2.0"]}, 200),
    "a client's own X-Forwarded-For twice": (
        {"x-forwarded-for": ["10.0.0.1", "10.0.0.2, 198.51.100.9"]},
        200,
    ),
}


@pytest.fixture
def harness() -> Iterator[Harness]:
    # Events are sent as each test builds them (either shape): the HTTP API's shape is passed as is.
    with handler_behind("http-api", opened="Alb") as fake:
        yield fake


def _shapes(repeated: dict[str, list[str]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """One request with ``repeated`` headers as each shape delivers it: the single-value event (the
    last value of each) and the multi-value event (every value)."""
    request = as_load_balancer_event(http_api_event(codec.dumps({"events": [page_view(SOURCE_ID)]})))
    single = {
        **request,
        "headers": {**request["headers"], **{name: values[-1] for name, values in repeated.items()}},
    }
    multi = with_multi_value_headers(single)
    multi["multiValueHeaders"].update(repeated)
    return single, multi


def _answer(harness: Harness, event: dict[str, Any], headers_field: str) -> tuple[int, dict[str, Any], Any]:
    harness.bus.entries.clear()
    response = lambda_handler(event, harness.context)
    body = codec.loads(response["body"])
    body.pop("received_at", None)
    return response["statusCode"], response[headers_field], body


@pytest.mark.parametrize("case", list(REPEATED))
def test_a_repeated_header_gets_the_answer_of_its_last_value_in_either_shape(
    harness: Harness, case: str
) -> None:
    # GIVEN a request with a header sent more than once (the write key in Authorization unless the
    # case repeats it), as a target group with multi-value headers off and on delivers it
    repeated, expected = REPEATED[case]
    if "authorization" not in repeated and "x-api-key" not in repeated:
        repeated = {"authorization": [basic(WRITE_KEY)], **repeated}
    single, multi = _shapes(repeated)
    # WHEN the handler answers each
    status, headers, body = _answer(harness, single, "headers")
    forwarded = [signal.event for signal in harness.forwarded()]
    multi_status, multi_headers, multi_body = _answer(harness, multi, "multiValueHeaders")
    # THEN the answer of the last values, never a 5xx; the same status, body and bus entries in both
    # shapes, the multi-value one's headers as lists
    assert status == expected, body
    assert (multi_status, multi_body) == (status, body)
    assert multi_headers == {name: [value] for name, value in headers.items()}
    assert [signal.event for signal in harness.forwarded()] == forwarded
    assert bool(forwarded) == (expected == 200)
