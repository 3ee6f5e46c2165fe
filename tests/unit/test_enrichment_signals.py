"""One signal -> one enriched signal: the full mapping, missing fields, and what gets a signal quarantined."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import jsonschema_rs
import pytest

from enrichment.models import SourceBatch
from enrichment.signals import SignalEnricher
from enrichment.user_agents import UserAgentParser
from signal_platform import codec
from signal_platform.errors import MalformedSignalError
from signal_platform.schema_registry import SchemaRegistry

EVENT_ID = "3f1c9b2e-8a4d-4c7e-9b1a-2d5e6f7a8b9c"
BATCH = SourceBatch(
    batch_id="5e0b7c3a9d2f41e8b6a1c4d7e9f02b38",
    event_type="page_view",
    received_at="2026-11-26T14:03:22.157Z",
    region="eu-west-1",
    request_id="req-1",
    source_id="web-storefront",
    signals=[],
)
FULL_SIGNAL: dict[str, Any] = {
    "event_id": EVENT_ID,
    "event_type": "page_view",
    "schema_version": "1-1-0",
    "occurred_at": "2026-11-26T15:03:21.457+01:00",
    "sent_at": "2026-11-26T15:03:22.012+01:00",
    "derived_at": "2026-11-26T14:03:21.602Z",
    "source": "web-storefront",
    "context": {
        "user_id": " usr_42 ",
        "anonymous_id": "anon-1",
        "session_id": "sess-1",
        "page": {
            "url": "https://shop.example.com/p/shoe?utm_source=Google&utm_medium=cpc&utm_campaign=autumn",
            "referrer": "https://www.google.com/",
            "title": "Shoe",
        },
        "campaign": {"name": "Autumn Running"},
        "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        "ip": "203.0.113.42",
        "locale": "en-us",
        "library": {"name": "Signals-JS", "version": "2.4.1"},
    },
    "data": {"page_url": "https://shop.example.com/p/shoe", "page_type": "product", "load_time_ms": 1274},
}


@pytest.fixture(scope="module")
def enricher() -> SignalEnricher:
    return SignalEnricher(UserAgentParser(), store_raw_ip=False)


@pytest.fixture(scope="module")
def signal_validator() -> Any:
    schema = SchemaRegistry().contract("enriched_batch", "1-0-0")
    return jsonschema_rs.Draft7Validator(
        schema["properties"]["signals"]["items"], validate_formats=True, offline=True
    )


def test_enrich_full_signal_maps_every_field(enricher: SignalEnricher) -> None:
    # GIVEN a signal with every context field
    # WHEN it is enriched
    enriched = enricher.enrich(FULL_SIGNAL, BATCH)
    # THEN it carries the standardised, enriched shape of the contract
    assert enriched == {
        "event_id": EVENT_ID,
        "event_type": "page_view",
        "schema_version": "1-1-0",
        "source": "web-storefront",
        "occurred_at": "2026-11-26T14:03:21.457Z",
        "derived_at": "2026-11-26T14:03:21.602Z",
        "received_at": "2026-11-26T14:03:22.157Z",
        "ingest_region": "eu-west-1",
        "request_id": "req-1",
        "partition_key": "usr_42",
        "data": FULL_SIGNAL["data"],
        "user": {"user_id": "usr_42", "anonymous_id": "anon-1", "session_id": "sess-1"},
        "page": {
            "url": FULL_SIGNAL["context"]["page"]["url"],
            "path": "/p/shoe",
            "referrer": "https://www.google.com/",
            "title": "Shoe",
            "host": "shop.example.com",
        },
        "campaign": {"source": "google", "medium": "cpc", "name": "Autumn Running"},
        "device": {
            "browser_family": "Mobile Safari",
            "browser_version": "17.4",
            "os_family": "iOS",
            "os_version": "17.4",
            "device_family": "iPhone",
            "device_brand": "Apple",
            "device_model": "iPhone",
        },
        "network": {"ip_prefix": "203.0.113.0/24"},
        "locale": "en-US",
        "library": {"name": "signals-js", "version": "2.4.1"},
    }


def test_enrich_signal_without_context_has_empty_objects(
    enricher: SignalEnricher, signal_validator: Any
) -> None:
    # GIVEN a server-side signal: no context, no derived_at (no sent_at), codes with odd case
    signal = {
        "event_id": EVENT_ID,
        "event_type": " Page_View",
        "schema_version": "1-0-0",
        "occurred_at": "2026-11-26T14:03:21Z",
        "source": "Web-Storefront ",
        "data": {},
    }
    # WHEN it is enriched
    enriched = enricher.enrich(signal, BATCH)
    # THEN the objects are there but empty, the device unknown, the key the event's own; the contract holds
    for name in ("user", "page", "campaign", "network", "library"):
        assert enriched[name] == {}, name
    assert enriched["device"] == {"browser_family": "Other", "os_family": "Other", "device_family": "Other"}
    assert enriched["derived_at"] == enriched["occurred_at"] == "2026-11-26T14:03:21.000Z"
    assert enriched["partition_key"] == f"web-storefront:{EVENT_ID}"
    assert (enriched["event_type"], enriched["source"]) == ("page_view", "web-storefront")
    assert "locale" not in enriched
    assert list(signal_validator.iter_errors(enriched)) == []


@pytest.mark.parametrize("store_raw_ip", [False, True])
def test_enrich_full_signal_meets_the_contract(signal_validator: Any, store_raw_ip: bool) -> None:
    enriched = SignalEnricher(UserAgentParser(), store_raw_ip=store_raw_ip).enrich(FULL_SIGNAL, BATCH)
    assert [e.message for e in signal_validator.iter_errors(enriched)] == []
    assert ("ip" in enriched["network"]) is store_raw_ip


def _without(field: str) -> Callable[[dict[str, Any]], None]:
    return lambda s: s.pop(field)


def _setting(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda s: s.update({field: value})


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (_without("event_id"), "event_id"),
        (_setting("event_id", "not-a-uuid"), "event_id"),
        (_setting("event_type", "click"), "event_type 'click' is not the batch's 'page_view'"),
        (_without("schema_version"), "schema_version"),
        (_setting("schema_version", "1.0.0"), "schema_version"),
        (_setting("source", "other-app"), "source 'other-app' is not the batch's"),
        (_without("source"), "source"),
        (_without("data"), "data must be an object"),
        (_setting("data", [1, 2]), "data must be an object"),
        (_without("occurred_at"), "occurred_at"),
        (_setting("occurred_at", "2026-11-26T14:03:21"), "occurred_at"),
        (_setting("derived_at", "later"), "derived_at"),
        (_setting("context", "web"), "context must be an object"),
        (lambda s: s["context"].update(page="home"), "context.page must be an object"),
    ],
    ids=[
        "no-event-id",
        "bad-event-id",
        "other-type",
        "no-version",
        "bad-version",
        "other-source",
        "no-source",
        "no-data",
        "data-array",
        "no-occurred-at",
        "naive-time",
        "bad-derived-at",
        "context-string",
        "page-string",
    ],
)
def test_enrich_broken_signal_raises_with_reason(
    enricher: SignalEnricher, spoil: Callable[[dict[str, Any]], None], reason: str
) -> None:
    # GIVEN the full signal with one thing broken
    signal = copy.deepcopy(FULL_SIGNAL)
    spoil(signal)
    # WHEN it is enriched / THEN it is refused with a reason naming the field
    with pytest.raises(MalformedSignalError, match=reason.replace("'", ".").replace("(", ".")):
        enricher.enrich(signal, BATCH)


def test_enrich_batch_sets_bad_signals_aside_and_keeps_order(enricher: SignalEnricher) -> None:
    # GIVEN a batch with a good signal, a non-object, a signal with a bad time and another good one
    good_1 = copy.deepcopy(FULL_SIGNAL)
    good_2 = {**copy.deepcopy(FULL_SIGNAL), "event_id": EVENT_ID.replace("3f1c", "4f1c")}
    bad_time = {
        **copy.deepcopy(FULL_SIGNAL),
        "event_id": EVENT_ID.replace("3f1c", "5f1c"),
        "occurred_at": "noon",
    }
    batch = SourceBatch(**{**_fields(BATCH), "signals": [good_1, "junk", bad_time, good_2]})
    # WHEN the batch is enriched
    result = enricher.enrich_batch(batch)
    # THEN the good ones are encoded in order, the others set aside with index, id and reason
    assert [s.event_id for s in result.signals] == [good_1["event_id"], good_2["event_id"]]
    assert [(r.index, r.event_id) for r in result.rejected] == [(1, None), (2, bad_time["event_id"])]
    assert "occurred_at" in result.rejected[1].reason
    assert result.rejected[1].signal is bad_time
    # AND each encoded body is the canonical JSON of the enriched signal, keyed for its partition
    assert codec.loads(result.signals[0].body) == enricher.enrich(good_1, batch)
    assert result.signals[0].body == codec.canonical(codec.loads(result.signals[0].body))
    assert {s.partition_key for s in result.signals} == {"usr_42"}


def test_enrich_batch_unencodable_data_is_set_aside(enricher: SignalEnricher) -> None:
    # GIVEN a signal whose data holds an integer beyond 64 bits (the standard library parses those)
    signal = {**copy.deepcopy(FULL_SIGNAL), "data": {"big": 2**70}}
    batch = SourceBatch(**{**_fields(BATCH), "signals": [signal]})
    # WHEN enriched / THEN it is set aside rather than crashing the batch
    result = enricher.enrich_batch(batch)
    assert result.signals == []
    assert "cannot be encoded" in result.rejected[0].reason


def _fields(batch: SourceBatch) -> dict[str, Any]:
    return {name: getattr(batch, name) for name in SourceBatch.__slots__}
