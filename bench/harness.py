"""The validator's ``Ingestor`` wired to in-memory stand-ins of DynamoDB and EventBridge.

Everything else is the production code: the source registry and its cache, the schema registry,
the judge, the batcher with a real HMAC-SHA256 signer, the publisher and its call splitting.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from functools import partial
from operator import itemgetter
from typing import Any, Final

from bench.events import SOURCE_ID
from signal_platform import codec, signing
from signal_platform.bus_publisher import BusPublisher
from signal_platform.schema_registry import SchemaRegistry
from signal_platform.signal_batches import SignalBatcher
from signal_platform.sources import Source, SourceRegistry, new_write_key
from signal_platform.timeutil import format_rfc3339, utc_now
from validator import api, dependencies
from validator.ingest import IngestAnswer, Ingestor, IngestRequest
from validator.settings import ENTRY_SOURCE, ValidatorSettings
from validator.verdicts import EventJudge, Limits

REGION: Final = "us-west-2"
SIGNING_KEY: Final = b"bench-signing-key-0123456789abcdef0123456789abcdef"
# What the deployed function reads; every limit not named keeps its production default.
_ENVIRONMENT: Final = {
    "AWS_REGION": REGION,
    "INGRESS_BUS_NAME": "signals-ingress",
    "SOURCES_TABLE_NAME": "signal-sources",
    "SIGNING_KEY_PARAMETER_NAME": "/signals/signing-key",
}
# One registered source for the whole run, so a request built by one rig authenticates on any other.
WRITE_KEY, SOURCE = new_write_key(SOURCE_ID, "bench")


class FakeSourcesTable:
    """``get_item`` of a DynamoDB client that always finds the one registered source."""

    def __init__(self, source: Source) -> None:
        self._response = {"Item": source.as_item()}

    def get_item(self, **_request: Any) -> dict[str, Any]:
        return self._response


# PutEvents' answer to a call whose entries all succeed, for calls of up to 10 entries (its limit).
# Built once: the stand-in's own work is not the validator's, and is kept out of its CPU figures.
_ACCEPTED: Final = [{"EventId": f"bench-{index}"} for index in range(10)]
_DETAIL: Final = itemgetter("Detail")


@dataclass(slots=True)
class FakeEventBus:
    """``put_events`` of an EventBridge client that accepts every entry, counting what it saw."""

    calls: int = 0
    entries: int = 0
    largest_entry: int = 0

    def put_events(self, **request: Any) -> dict[str, Any]:
        entries: list[dict[str, Any]] = request["Entries"]
        self.calls += 1
        self.entries += len(entries)
        self.largest_entry = max(self.largest_entry, *map(len, map(_DETAIL, entries)))
        return {"FailedEntryCount": 0, "Entries": _ACCEPTED[: len(entries)]}

    def reset(self) -> None:
        self.calls = self.entries = self.largest_entry = 0


def settings(max_signals_per_entry: int | None = None) -> ValidatorSettings:
    environment = dict(_ENVIRONMENT)
    if max_signals_per_entry is not None:
        environment["MAX_SIGNALS_PER_ENTRY"] = str(max_signals_per_entry)
    return ValidatorSettings.from_env(environment)


@dataclass(frozen=True, slots=True)
class Rig:
    """An ingestor, its schema registry and its fake AWS, which knows the write key ``WRITE_KEY``."""

    ingestor: Ingestor
    registry: SchemaRegistry
    bus: FakeEventBus
    table: FakeSourcesTable

    def request(self, events: list[dict[str, Any]]) -> IngestRequest:
        """A batch request received now, as API Gateway hands it over (HTTP Basic auth, JSON body)."""
        moment = utc_now()
        credentials = base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
        body = codec.dumps({"events": events, "sent_at": format_rfc3339(moment)}).decode()
        return IngestRequest(
            body=body,
            is_base64=False,
            headers={"content-type": "application/json", "authorization": f"Basic {credentials}"},
            request_id="c6af9ac6-7b61-11e6-9a41-93e812345678",
            received_at=moment,
            deadline=time.monotonic() + 3600,
        )

    def handle(self, request: IngestRequest) -> bytes:
        """What the handler does per request, minus Powertools: ingest, then the HTTP answer's bytes."""
        return answer_bytes(self.ingestor.ingest(request))


def answer_bytes(answer: IngestAnswer) -> bytes:
    return codec.dumps(api.ingest_answer(answer).body)


def rig(registry: SchemaRegistry, *, max_signals_per_entry: int | None = None) -> Rig:
    config = settings(max_signals_per_entry)
    table, bus = FakeSourcesTable(SOURCE), FakeEventBus()
    ingestor = Ingestor(
        region=config.region,
        sources=SourceRegistry(config.sources_table_name, client=lambda: table),
        judge=EventJudge(
            registry,
            Limits(
                max_event_bytes=config.max_event_bytes,
                max_future_skew=config.max_future_skew,
                max_event_age=config.max_event_age,
            ),
        ),
        batcher=SignalBatcher(
            bus_name=config.ingress_bus_name,
            entry_source=ENTRY_SOURCE,
            max_signals=config.max_signals_per_entry,
            signer=partial(signing.sign, SIGNING_KEY),
        ),
        publisher=BusPublisher(client=lambda: bus),
        max_body_bytes=config.max_body_bytes,
        max_events_per_request=config.max_events_per_request,
        segment=dependencies.segment_mapper(),
    )
    return Rig(ingestor, registry, bus, table)
