"""The ingest API on 127.0.0.1, as a contract fuzzer sees it: generated requests over real HTTP to
the local cloud (its HTTP API, the real validator, moto behind it), each answer checked against
docs/openapi.yaml, no 5xx, and every good event of a batch accepted whatever its neighbours."""

from __future__ import annotations

import gzip
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localcloud.cloud import LocalCloud
from localcloud.http_api import ApiServer
from signal_platform import codec
from tests.fuzz import strategies
from tests.fuzz.harness import SOURCE_ID, basic
from tests.openapi_spec import response_problems

REQUESTS = 400


@pytest.fixture
def api_url(cloud: LocalCloud) -> Iterator[str]:
    server = ApiServer(cloud.api).start()
    yield server.url
    server.stop()


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
        f"{url}/v1/events", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - 127.0.0.1 only
            status, answer_headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, answer_headers, raw = error.code, dict(error.headers), error.read()
    return status, answer_headers, codec.loads(raw)


def test_generated_requests_over_http_answered_as_documented(cloud: LocalCloud, api_url: str) -> None:
    # GIVEN the local API with the real validator, and a write key for the events' source
    write_key = cloud.register_source(SOURCE_ID)
    sent = 0

    @settings(settings.get_profile("fuzz"), max_examples=REQUESTS)
    @given(strategies.documents(datetime.now(UTC)), st.booleans(), st.booleans())
    def check(document: tuple[Any, list[Any], dict[int, str]], compress: bool, basic_auth: bool) -> None:
        nonlocal sent
        value, events, good = document
        body = strategies.dump_json(value)
        headers = {"content-type": "application/json"}
        if compress:
            body, headers["content-encoding"] = gzip.compress(body), "gzip"
        if basic_auth:
            headers["authorization"] = basic(write_key)
        else:
            headers["x-api-key"] = write_key
        # WHEN each is POSTed over HTTP
        status, answer_headers, answer = _post(api_url, body, headers)
        sent += 1
        # THEN the answer is a documented one, never a 5xx, with a verdict for every event and the
        # good ones accepted
        assert status < 500, (status, answer)
        assert not response_problems(status, answer_headers, answer), (status, answer_headers, answer)
        if events:
            results = answer["results"]
            assert [result["index"] for result in results] == list(range(len(events)))
            for index, event_id in good.items():
                assert results[index]["verdict"] == "accepted", (results[index], events[index])
                assert results[index]["event_id"] == event_id
        else:
            assert status == 400, (status, answer)

    check()
    assert sent >= REQUESTS
