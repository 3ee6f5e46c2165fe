"""The Segment and RudderStack server libraries, unchanged, against the local cloud's HTTP API.

Each library (segment-analytics-python, rudder-sdk-python, as pinned in requirements/dev.txt) runs
with its default settings except the host and the write key, sends a mix of every call type over
real HTTP to 127.0.0.1, and flushes; then the pipeline settles and every call must be in the lake
exactly once, under the event_id its messageId maps to, with the mapping applied.

``DROPIN_CALLS`` sets the calls per library: `make dropin` sends 10,000; the
default keeps the test short enough for every run.
"""

from __future__ import annotations

import gzip
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics.client import Client as SegmentClient

from localcloud.cloud import LocalCloud
from localcloud.http_api import ApiServer
from signal_platform import codec
from validator.segment import event_id_of

CALLS = int(os.environ.get("DROPIN_CALLS", "2000"))
CLIENT_IP = "198.51.100.77"
# The libraries' in-memory queue holds 10,000 calls by default; a full queue drops new calls, so the
# sender waits for room rather than changing the default.
QUEUE_ROOM = 5_000

# The pipeline takes about 10 ms per call here: the timeout grows with the calls.
pytestmark = pytest.mark.timeout(120 + CALLS // 20)

Sent = dict[str, tuple[str, dict[str, Any]]]  # messageId -> (call type, the call as the library sent it)


@pytest.fixture
def api_url(cloud: LocalCloud) -> Iterator[str]:
    server = ApiServer(cloud.api).start()
    yield server.url
    server.stop()


def _send_mixed_calls(client: Any, calls: int, tag: str) -> Sent:
    """``calls`` calls of every type in turn, each recorded under its messageId."""
    sent: Sent = {}
    send: list[tuple[str, Callable[[int], tuple[bool, dict[str, Any]]]]] = [
        (
            "Product Added",
            lambda i: client.track(
                user_id=f"{tag}-user-{i % 50}",
                event="Product Added",
                properties={
                    "cart_id": f"cart_{i % 40}",
                    "product_id": "prod_10442",
                    "sku": "TR2-BLU-42",
                    "name": "Trail Runner 2",
                    "price": 129.95,
                    "quantity": 1 + i % 3,
                    "currency": "EUR",
                    "brand": "Example",
                },
                context={"ip": CLIENT_IP},
            ),
        ),
        (
            "track",
            lambda i: client.track(
                anonymous_id=f"{tag}-anon-{i % 70}",
                event="Video Played",
                properties={"video": {"id": f"v{i}", "chapters": [1, 2]}, "autoplay": False},
            ),
        ),
        (
            "page",
            lambda i: client.page(
                anonymous_id=f"{tag}-anon-{i % 70}",
                category="Product",
                name="Trail Runner 2",
                properties={"url": "https://shop.example.com/p/trail-runner-2", "path": "/p/trail-runner-2"},
            ),
        ),
        (
            "screen",
            lambda i: client.screen(user_id=f"{tag}-user-{i % 50}", name="Cart", properties={"items": i % 5}),
        ),
        (
            "identify",
            lambda i: client.identify(user_id=f"{tag}-user-{i % 50}", traits={"plan": "pro", "logins": i}),
        ),
        (
            "group",
            lambda i: client.group(
                user_id=f"{tag}-user-{i % 50}", group_id=f"acct_{i % 9}", traits={"seats": 5}
            ),
        ),
        (
            "alias",
            lambda i: client.alias(previous_id=f"{tag}-anon-{i % 70}", user_id=f"{tag}-user-{i % 50}"),
        ),
    ]
    for index in range(calls):
        while client.queue.qsize() > QUEUE_ROOM:
            time.sleep(0.01)
        kind, call = send[index % len(send)]
        queued, message = call(index)
        assert queued, f"the library refused call {index}"
        sent[message["messageId"]] = (kind, message)
    client.flush()
    return sent


def _lake_rows(cloud: LocalCloud) -> list[dict[str, Any]]:
    writer = cloud.function_with_env("LAKE_BUCKET_NAME")
    bucket = writer.environment["LAKE_BUCKET_NAME"]
    s3 = cloud.services.client("s3")
    rows: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="events/"):
        for item in page.get("Contents", []):
            body = gzip.decompress(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
            rows.extend(codec.loads(line) for line in body.splitlines() if line.strip())
    return rows


EXPECTED_TYPE = {
    "Product Added": "add_to_cart",
    "track": "track",
    "page": "page",
    "screen": "screen",
    "identify": "identify",
    "group": "group",
    "alias": "alias",
}


def _assert_in_lake_exactly_once_with_mapping(cloud: LocalCloud, source: str, sent: Sent) -> None:
    assert cloud.settle(timeout=600.0), "the pipeline did not go quiet"
    rows = _lake_rows(cloud)
    counts = Counter(row["event_id"] for row in rows)
    expected = {event_id_of(source, message_id): message_id for message_id in sent}
    missing = set(expected) - set(counts)
    assert not missing, f"{len(missing)} of {len(expected)} calls not in the lake"
    assert set(counts) == set(expected), "the lake holds events never sent"
    duplicated = {event_id: n for event_id, n in counts.items() if n > 1}
    assert not duplicated, f"{len(duplicated)} calls more than once in the lake"
    for row in rows:
        message_id = expected[row["event_id"]]
        kind, message = sent[message_id]
        origin = row["data"]["origin"]
        assert row["event_type"] == EXPECTED_TYPE[kind], (row["event_type"], kind)
        assert origin["message_id"] == message_id
        assert origin["context"]["library"] == message["context"]["library"]
        if kind == "Product Added":
            assert row["data"]["product_name"] == "Trail Runner 2"
            assert row["data"]["unit_price"] == 129.95
            assert origin["properties"] == {"brand": "Example"}
            assert row["network"] == {"ip_prefix": "198.51.100.0/24"}  # moved, then truncated
        elif kind == "track":
            assert row["data"]["properties"]["video"]["chapters"] == [1, 2]
        else:
            # The libraries send no ip: the request's source IP fills it, truncated like any other.
            assert row["network"] == {"ip_prefix": "127.0.0.0/24"}
        if message.get("userId"):
            assert row["user"]["user_id"] == message["userId"]


def test_segment_analytics_python_calls_land_in_the_lake_exactly_once(
    cloud: LocalCloud, api_url: str
) -> None:
    # GIVEN segment-analytics-python with its defaults, pointed at the local API
    write_key = cloud.register_source("segment-server")
    errors: list[Any] = []
    client = SegmentClient(write_key=write_key, host=api_url, on_error=lambda e, _b: errors.append(e))
    # WHEN it sends a mix of every call type and flushes
    try:
        sent = _send_mixed_calls(client, CALLS, "seg")
    finally:
        client.shutdown()
    # THEN the library saw no error, and every call is in the lake once, mapped
    assert errors == []
    assert len(sent) == CALLS
    _assert_in_lake_exactly_once_with_mapping(cloud, "segment-server", sent)


def test_rudder_sdk_python_calls_land_in_the_lake_exactly_once(cloud: LocalCloud, api_url: str) -> None:
    # GIVEN rudder-sdk-python with its defaults (gzip on), pointed at the local API
    write_key = cloud.register_source("rudder-server")
    errors: list[Any] = []
    client = RudderClient(write_key=write_key, host=api_url, on_error=lambda e, _b: errors.append(e))
    # WHEN it sends a mix of every call type and flushes
    try:
        sent = _send_mixed_calls(client, CALLS, "rud")
    finally:
        client.shutdown()
    # THEN the library saw no error, and every call is in the lake once, mapped
    assert errors == []
    assert len(sent) == CALLS
    _assert_in_lake_exactly_once_with_mapping(cloud, "rudder-server", sent)
