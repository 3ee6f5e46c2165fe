"""The local HTTP API's CORS, as API Gateway applies a CorsConfiguration (pure functions)."""

from __future__ import annotations

from localcloud.http_api import HttpResponse, preflight_answer, with_cors_headers
from localcloud.template import HttpCors

LISTED = HttpCors(
    allow_origins=("https://shop.example.com",),
    allow_methods=("POST",),
    allow_headers=("authorization", "content-type"),
    expose_headers=("retry-after",),
    max_age=600,
)
ANY = HttpCors(("*",), ("POST",), ("content-type",), (), None)


def test_preflight_of_an_allowed_origin_and_method_is_answered_with_the_rules() -> None:
    # GIVEN a preflight from a listed origin for POST
    headers = {"origin": "https://shop.example.com", "access-control-request-method": "POST"}
    # WHEN the API answers it
    answer = preflight_answer(LISTED, headers)
    # THEN 204 with that origin, the methods, headers and max age
    assert answer.status == 204
    assert answer.headers == {
        "access-control-allow-origin": "https://shop.example.com",
        "access-control-allow-methods": "POST",
        "access-control-allow-headers": "authorization,content-type",
        "access-control-max-age": "600",
    }


def test_preflight_of_another_origin_or_method_gets_no_cors_headers() -> None:
    # GIVEN preflights from an unlisted origin, and for a method not allowed
    other = {"origin": "https://evil.example.net", "access-control-request-method": "POST"}
    wrong_method = {"origin": "https://shop.example.com", "access-control-request-method": "DELETE"}
    # WHEN the API answers them
    # THEN without CORS headers, so the browser refuses the request
    assert preflight_answer(LISTED, other).headers == {}
    assert preflight_answer(LISTED, wrong_method).headers == {}


def test_answer_to_an_allowed_origin_carries_allow_origin_and_exposed_headers() -> None:
    # GIVEN a function's answer
    response = HttpResponse(200, {"content-type": "application/json"}, b"{}")
    # WHEN it goes back to a listed origin, to any origin under "*", and to an unlisted one
    listed = with_cors_headers(response, LISTED, {"origin": "https://shop.example.com"})
    anyone = with_cors_headers(response, ANY, {"origin": "https://elsewhere.example"})
    unlisted = with_cors_headers(response, LISTED, {"origin": "https://evil.example.net"})
    # THEN the first two carry the CORS headers, the last none
    assert listed.headers["access-control-allow-origin"] == "https://shop.example.com"
    assert listed.headers["access-control-expose-headers"] == "retry-after"
    assert anyone.headers["access-control-allow-origin"] == "*"
    assert unlisted.headers == response.headers
