"""The real validator handler, in process, with fakes where it would reach AWS.

The sources table answers one enabled source; the ingress bus records every PutEvents entry and
accepts it. Everything between them (handler, resolver, request parsing, judge, batcher, signer,
publisher) is the deployed code.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from signal_platform import codec, signing
from signal_platform.bus_publisher import BusPublisher
from signal_platform.signal_batches import SignalBatcher, unsigned_bytes
from signal_platform.sources import SourceRegistry, hash_secret
from signal_platform.timeutil import parse_rfc3339
from tests.conftest import FakeLambdaContext
from tests.http_events import as_load_balancer_event
from validator import dependencies
from validator.handler import lambda_handler
from validator.ingest import Ingestor
from validator.settings import ENTRY_SOURCE, ValidatorSettings
from validator.verdicts import EventJudge, Limits

SOURCE_ID = "web-shop"
SECRET = "fuzz-secret-0123456789"
WRITE_KEY = f"{SOURCE_ID}.{SECRET}"
SIGNING_KEY = b"fuzz-signing-key-0123456789abcdef"
ORIGIN = "https://shop.example.com"  # the one web origin the source registered
SETTINGS = ValidatorSettings.from_env(
    {
        "AWS_REGION": "us-west-2",
        "INGRESS_BUS_NAME": "signals-ingress",
        "SOURCES_TABLE_NAME": "signals-sources",
    }
)


def basic(user: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:".encode()).decode()


class FakeSourcesTable:
    """DynamoDB GetItem on the sources table: one enabled source, with one registered web origin."""

    def get_item(self, *, Key: dict[str, Any], **_: Any) -> dict[str, Any]:  # noqa: N803 - boto3's names
        if Key["source_id"]["S"] != SOURCE_ID:
            return {}
        return {
            "Item": {
                "source_id": {"S": SOURCE_ID},
                "key_hash": {"S": hash_secret(SECRET)},
                "enabled": {"BOOL": True},
                "origins": {"SS": [ORIGIN]},
            }
        }


@dataclass
class FakeBus:
    """EventBridge PutEvents: every entry accepted and kept, once its Detail is one PutEvents takes
    (JSON integers of int64 only, per its API reference: ``codec.canonical_for_bus`` raises otherwise)."""

    entries: list[dict[str, Any]] = field(default_factory=list)

    def put_events(self, *, Entries: list[dict[str, Any]], **_: Any) -> dict[str, Any]:  # noqa: N803
        for entry in Entries:
            codec.canonical_for_bus(codec.loads(entry["Detail"]))
        self.entries.extend(Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": str(i)} for i in range(len(Entries))]}


@dataclass(frozen=True)
class Forwarded:
    """One signal as the bus received it, with the batch it travelled in verified."""

    event: dict[str, Any]
    derived_at: str


class Harness:
    def __init__(self) -> None:
        self.bus = FakeBus()
        self.requests = 0
        self.ingestor = Ingestor(
            region=SETTINGS.region,
            sources=SourceRegistry(SETTINGS.sources_table_name, client=FakeSourcesTable),
            judge=EventJudge(
                dependencies.schema_registry(),
                Limits(SETTINGS.max_event_bytes, SETTINGS.max_future_skew, SETTINGS.max_event_age),
            ),
            batcher=SignalBatcher(
                bus_name=SETTINGS.ingress_bus_name,
                entry_source=ENTRY_SOURCE,
                max_signals=SETTINGS.max_signals_per_entry,
                signer=lambda payload: signing.sign(SIGNING_KEY, payload),
            ),
            publisher=BusPublisher(client=lambda: self.bus),
            max_body_bytes=SETTINGS.max_body_bytes,
            max_events_per_request=SETTINGS.max_events_per_request,
            segment=dependencies.segment_mapper(),
        )
        self.context = FakeLambdaContext(function_name="validator")

    def invoke(self, event: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        """Status, headers and parsed body of the handler's answer; the bus starts empty each time."""
        self.bus.entries.clear()
        self.requests += 1
        response = lambda_handler(event, self.context)
        body = codec.loads(response["body"]) if response.get("body") else None
        return response["statusCode"], response.get("headers") or {}, body

    def forwarded(self) -> list[Forwarded]:
        """The signals the bus was given in the last request, each batch's signature checked."""
        signals: list[Forwarded] = []
        for entry in self.bus.entries:
            detail = codec.loads(entry["Detail"])
            assert signing.verify(SIGNING_KEY, unsigned_bytes(detail), detail["signature"])
            assert detail["ingest"]["source_id"] == SOURCE_ID
            for signal in detail["signals"]:
                derived_at = signal.pop("derived_at")
                signals.append(Forwarded(signal, derived_at))
        return signals


def within_limits(derived_at: str, received_at: str) -> bool:
    """Whether a forwarded derived_at lies inside the limits around the request's received_at."""
    derived, received = parse_rfc3339(derived_at), parse_rfc3339(received_at)
    return received - SETTINGS.max_event_age <= derived <= received + SETTINGS.max_future_skew


FRONT_DOORS = ("http-api", "load-balancer")


@contextlib.contextmanager
def handler_behind(door: str, *, opened: str = "Both") -> Iterator[Harness]:
    """A ``Harness`` as the deployed handler runs it behind ``door`` (one of ``FRONT_DOORS``): each
    request built as the HTTP API's event is sent in that door's shape; ``opened`` is the template's
    ``FrontDoor`` (both doors by default), no metrics."""
    fake = Harness()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dependencies, "ingestor", lambda: fake.ingestor)
        patch.setattr(dependencies, "front_door", lambda: opened)
        patch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
        if door == "load-balancer":
            invoke = fake.invoke
            patch.setattr(fake, "invoke", lambda event: invoke(as_load_balancer_event(event)))
        yield fake


def nesting(value: Any) -> int:
    """Arrays and objects nested in ``value``, itself included (0 for a scalar); without recursion,
    so that it measures values deeper than Python's own limit."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest
