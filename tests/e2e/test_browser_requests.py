"""What a browser sends, byte for byte, to the local cloud over HTTP: the CORS preflight of a
``fetch`` with a write key header, then the request; a ``navigator.sendBeacon`` (text/plain, the key in
the body, no preflight); and a page of an origin the source never registered."""

from __future__ import annotations

import gzip
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from localcloud.http_api import ApiServer
from signal_platform import codec
from tests.fuzz.harness import basic
from validator.segment import event_id_of

SHOP = "https://shop.example.com"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
SOURCE = "web-shop"


@pytest.fixture
def api_url(cloud: LocalCloud) -> Iterator[str]:
    server = ApiServer(cloud.api).start()
    yield server.url
    server.stop()


def _send(
    url: str, method: str, body: bytes | None, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310 - 127.0.0.1
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - 127.0.0.1 only
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def _call(message_id: str, **fields: Any) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "type": "track",
        "messageId": message_id,
        "anonymousId": "a7c2e4f0-51b3-4d8e-9f6a-0c1b2d3e4f50",
        "event": "Video Played",
        "properties": {"video_id": "v1"},
        "timestamp": now,
        "sentAt": now,
        "context": {"page": {"url": f"{SHOP}/watch", "referrer": ""}, "library": {"name": "analytics.js"}},
        **fields,
    }


def _lake_rows(cloud: LocalCloud) -> list[dict[str, Any]]:
    bucket = cloud.function_with_env("LAKE_BUCKET_NAME").environment["LAKE_BUCKET_NAME"]
    s3 = cloud.services.client("s3")
    rows: list[dict[str, Any]] = []
    for item in s3.list_objects_v2(Bucket=bucket, Prefix="events/").get("Contents", []):
        body = gzip.decompress(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
        rows.extend(codec.loads(line) for line in body.splitlines() if line.strip())
    return rows


def test_preflight_then_fetch_and_a_beacon_reach_the_lake(cloud: LocalCloud, api_url: str) -> None:
    # GIVEN a source that registered its shop's origin
    write_key = cloud.register_source(SOURCE, origins=frozenset({SHOP}))
    # WHEN the browser asks whether it may POST with an Authorization header (the preflight)
    status, headers, _ = _send(
        f"{api_url}/v1/batch",
        "OPTIONS",
        None,
        {
            "Origin": SHOP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
            "User-Agent": CHROME,
        },
    )
    # THEN the API allows it and lets the browser cache the answer for two hours
    assert status == 204
    assert headers["access-control-allow-origin"] in ("*", SHOP)
    assert {"authorization", "content-type"} <= set(headers["access-control-allow-headers"].split(","))
    assert "POST" in headers["access-control-allow-methods"]
    assert headers["access-control-max-age"] == "7200"

    # WHEN the fetch follows, with the key as Basic user name
    status, headers, body = _send(
        f"{api_url}/v1/batch",
        "POST",
        codec.dumps({"batch": [_call("fetch-1")]}),
        {
            "Origin": SHOP,
            "Content-Type": "application/json",
            "Authorization": basic(write_key),
            "User-Agent": CHROME,
        },
    )
    # THEN it is accepted, and the browser may read the answer
    assert status == 200, body
    assert headers["access-control-allow-origin"] in ("*", SHOP)

    # WHEN the page unloads and sends a beacon as analytics.js does: to the short path /v1/t, as
    # text/plain, with no headers of its own and the key in the body
    status, headers, body = _send(
        f"{api_url}/v1/t",
        "POST",
        codec.dumps(_call("beacon-1", writeKey=write_key)),
        {"Origin": SHOP, "Content-Type": "text/plain;charset=UTF-8", "User-Agent": CHROME},
    )
    # THEN it is accepted too
    assert status == 200, body

    # AND both land in the lake once, with what the server saw: the browser's user agent and network
    assert cloud.settle(timeout=120.0)
    rows = {row["event_id"]: row for row in _lake_rows(cloud)}
    assert set(rows) == {event_id_of(SOURCE, "fetch-1"), event_id_of(SOURCE, "beacon-1")}
    for row in rows.values():
        assert row["device"]["browser_family"] == "Chrome", row["device"]
        assert row["network"] == {"ip_prefix": "127.0.0.0/24"}
        assert write_key not in codec.dumps(row).decode()


def test_page_of_an_unregistered_origin_is_refused_and_nothing_is_kept(
    cloud: LocalCloud, api_url: str
) -> None:
    # GIVEN a source that registered only its shop's origin
    write_key = cloud.register_source(SOURCE, origins=frozenset({SHOP}))
    # WHEN a page elsewhere sends a beacon with that key
    status, _, body = _send(
        f"{api_url}/v1/track",
        "POST",
        codec.dumps(_call("stolen-1", writeKey=write_key)),
        {"Origin": "https://copycat.example.net", "Content-Type": "text/plain", "User-Agent": CHROME},
    )
    # THEN it is refused (403, which Segment's libraries do not retry) and nothing reaches the lake
    assert status == 403
    assert codec.loads(body)["code"] == "forbidden"
    assert cloud.settle(timeout=60.0)
    assert _lake_rows(cloud) == []
