"""The lake's lines as Athena reads them: the Glue table's OpenX JSON SerDe with the SerDe parameters
template.yaml gives ``LakeEventsTable``. With its default ``case.insensitive`` the SerDe lower-cases
every key of a line, at any depth, as it parses it, and two keys that then collide fail the line
("Duplicate key", as Athena's OpenX JSON SerDe page documents; the table fails queries on a bad line):
free-form properties as clients send them must not make a line that fails every query over its
partition."""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from localcloud.region import Region
from localcloud.template import decode
from signal_platform import codec
from tests.fuzz.harness import basic
from validator.segment import event_id_of

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
SOURCE = "web-shop"
# Keys a client's own code writes: equal but for their case, in properties and in context.
PROPERTIES = {"Price": 129.95, "price": "129.95 EUR", "SKU": "TR2", "sku": "tr2", "Of": {"Id": 1, "id": 2}}
CONTEXT = {"Locale": "en-US", "locale": "en-us"}
# A mapped call: the properties its mapping names, and two it does not (kept in data.origin).
PRODUCT_ADDED = {
    "cart_id": "cart_8f3b2a71c9",
    "product_id": "prod_10442",
    "sku": "TR2-BLU-42",
    "name": "Trail Runner 2",
    "quantity": 1,
    "price": 129.95,
    "currency": "EUR",
    "Color": "Blue",
    "color": "blue",
}


class DuplicateKeyError(ValueError):
    """The SerDe's "Row is not a valid JSON Object - JSONException: Duplicate key"."""


@cache
def serde_parameters() -> dict[str, str]:
    table = decode(TEMPLATE)["Resources"]["LakeEventsTable"]["Properties"]["TableInput"]
    return dict(table["StorageDescriptor"]["SerdeInfo"]["Parameters"])


def openx_row(line: bytes, parameters: Mapping[str, str]) -> dict[str, Any]:
    """A lake line parsed as the OpenX JSON SerDe parses it: each object's keys lower-cased as they are
    read when ``case.insensitive`` (default true), and a key met twice in one object fails the line."""
    insensitive = parameters.get("case.insensitive", "true").lower() == "true"

    def members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for key, value in pairs:
            name = key.lower() if insensitive else key
            if name in found:
                raise DuplicateKeyError(f"Duplicate key {name!r}")
            found[name] = value
        return found

    row: dict[str, Any] = json.loads(line, object_pairs_hook=members)
    return row


def lake_objects(cloud: LocalCloud, region: Region | None = None) -> list[tuple[str, list[bytes]]]:
    """Every lake object's key and its lines, as the table's text input format splits them; the lake
    of ``region`` (the primary's unless given)."""
    region = region or cloud.primary
    bucket = region.function_with_env("LAKE_BUCKET_NAME").environment["LAKE_BUCKET_NAME"]
    s3 = region.services.client("s3")
    objects: list[tuple[str, list[bytes]]] = []
    for item in s3.list_objects_v2(Bucket=bucket, Prefix="events/").get("Contents", []):
        body = gzip.decompress(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
        objects.append((item["Key"], [line for line in body.splitlines() if line.strip()]))
    return objects


def _lake_lines(cloud: LocalCloud) -> list[bytes]:
    return [line for _, lines in lake_objects(cloud) for line in lines]


def test_keys_equal_but_for_case_leave_every_lake_line_readable(cloud: LocalCloud) -> None:
    # GIVEN Segment calls whose properties and context hold keys equal but for their case: a track
    # the mapping does not name (properties kept as sent) and a mapped one (the rest in origin)
    write_key = cloud.register_source(SOURCE)
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    calls = [
        {"type": "track", "event": name, "messageId": name, "anonymousId": "a-1", "timestamp": now}
        | {"properties": properties, "context": CONTEXT}
        for name, properties in (("Video Played", PROPERTIES), ("Product Added", PRODUCT_ADDED))
    ]
    headers = {"Content-Type": "application/json", "Authorization": basic(write_key)}
    answer = cloud.api.request("POST", "/v1/batch", codec.dumps({"batch": calls}), headers)
    assert answer.status == 200, answer.json()
    verdicts = [result["verdict"] for result in answer.json()["results"]]
    assert verdicts == ["accepted", "accepted"], answer.json()
    # WHEN they reach the lake
    assert cloud.settle(timeout=120.0)
    lines = _lake_lines(cloud)
    # THEN Athena reads every line with the table's SerDe parameters, each key as the client sent it
    rows = {row["event_id"]: row for row in (openx_row(line, serde_parameters()) for line in lines)}
    assert set(rows) == {event_id_of(SOURCE, "Video Played"), event_id_of(SOURCE, "Product Added")}
    unmapped = rows[event_id_of(SOURCE, "Video Played")]["data"]
    assert unmapped["properties"] == PROPERTIES
    assert unmapped["origin"]["context"] == CONTEXT
    mapped = rows[event_id_of(SOURCE, "Product Added")]["data"]
    assert mapped["origin"]["properties"] == {"Color": "Blue", "color": "blue"}
    # AND with the SerDe's default the same lines fail the query (what the table's setting prevents)
    for line in lines:
        with pytest.raises(DuplicateKeyError):
            openx_row(line, {})
