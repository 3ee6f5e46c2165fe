"""What the DLQ store keeps of a person (docs/data-map.md): a batch the enrichment rule could not
deliver, from the validator's signing to the stored object, holds the client's IP address only as its
network, names no user in its key, and still verifies, so its replay is enriched like the original."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from dlq_hydrate.hydrate import Hydrator
from dlq_hydrate.settings import HydrateSettings
from enrichment.standardise import network_fields
from enrichment.verification import BatchVerifier
from signal_platform import codec, signing
from signal_platform.schema_registry import SchemaRegistry
from signal_platform.signal_batches import IngestMetadata, SignalBatcher
from tests.conftest import load_event
from tests.http_events import page_view
from tests.unit.test_dlq_hydrate import MemoryStore, ScriptedReader
from validator.settings import ENTRY_SOURCE
from validator.verdicts import EventJudge, Limits

KEY = b"k" * 64
RECEIVED = datetime(2026, 11, 26, 10, 14, 58, tzinfo=UTC)
CLIENT_IP = "198.51.100.23"
USER_ID = "alice@example.com"
LIMITS = Limits(max_event_bytes=32768, max_future_skew=timedelta(hours=1), max_event_age=timedelta(days=7))


def _ingress_event(limits: Limits) -> dict[str, Any]:
    """A client event accepted and signed as the validator does, as the ingress bus delivers it."""
    event = page_view(occurred=RECEIVED - timedelta(seconds=2))
    event["context"].update(ip=CLIENT_IP, user_id=USER_ID)
    judgement = EventJudge(SchemaRegistry(), limits).judge(
        [event], source_id="web-shop", received_at=RECEIVED, batch_sent_at=None
    )
    batcher = SignalBatcher(
        bus_name="signals-ingress",
        entry_source=ENTRY_SOURCE,
        max_signals=50,
        signer=lambda payload: signing.sign(KEY, payload),
    )
    (entry,) = batcher.build(
        judgement.signals, IngestMetadata("2026-11-26T10:14:58.000Z", "us-west-2", "r-1", "web-shop")
    )
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": entry.entry["DetailType"],
        "source": entry.entry["Source"],
        "account": "123456789012",
        "time": "2026-11-26T10:14:58Z",
        "region": "us-west-2",
        "resources": [],
        "detail": codec.loads(entry.entry["Detail"]),
    }


def _hydrate(ingress_event: dict[str, Any]) -> tuple[str, bytes]:
    """The enrichment rule's DLQ message for ``ingress_event``, hydrated into the store."""
    record = copy.deepcopy(load_event("dlq-hydrate-rule-target-dlq.json")["Records"][0])
    record["body"] = codec.dumps(ingress_event).decode()
    settings = HydrateSettings(
        store_bucket_name="memory", consumer_by_queue={"signals-enrichment-target-dlq": "enrichment"}
    )
    store = MemoryStore()
    Hydrator(settings, reader=ScriptedReader([]), store=store, now=lambda: RECEIVED).hydrate(
        record, deadline=10.0
    )
    ((key, body),) = store.objects.items()
    return key, body


def test_dlq_store_keeps_the_ip_as_its_network_and_the_batch_still_verifies() -> None:
    # GIVEN a signed ingress batch the enrichment rule dead-lettered, from a client at 198.51.100.23
    ingress_event = _ingress_event(LIMITS)
    # WHEN the hydrate stores it
    key, body = _hydrate(ingress_event)
    stored = codec.loads(body)["event"]
    # THEN neither the full address nor the user id is in the object key, the body holds the network
    # only, and the stored batch's signature verifies: a replay is enriched, to the same IP prefix
    assert key.startswith("dlq/enrichment/2026/11/26/10/")
    assert USER_ID not in key and CLIENT_IP not in key
    assert CLIENT_IP.encode() not in body
    (signal,) = stored["detail"]["signals"]
    assert signal["context"]["ip"] == "198.51.100.0"
    assert BatchVerifier(lambda: KEY).check(stored["detail"]) == "valid"
    assert network_fields(signal["context"]["ip"], store_raw_ip=False) == {"ip_prefix": "198.51.100.0/24"}


def test_dlq_store_keeps_the_full_address_only_where_raw_addresses_are_stored() -> None:
    # GIVEN the same batch from a deployment with StoreRawIp=true
    ingress_event = _ingress_event(Limits(32768, timedelta(hours=1), timedelta(days=7), store_raw_ip=True))
    # WHEN the hydrate stores it
    _, body = _hydrate(ingress_event)
    # THEN the address is kept as sent, as the lake keeps it there
    (signal,) = codec.loads(body)["event"]["detail"]["signals"]
    assert signal["context"]["ip"] == CLIENT_IP
