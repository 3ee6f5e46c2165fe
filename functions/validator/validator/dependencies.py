"""The validator's collaborators, built once per container on first use (never at import)."""

from __future__ import annotations

import os
from functools import cache, partial

from signal_platform import signing
from signal_platform.bus_publisher import BusPublisher, Publisher
from signal_platform.errors import ConfigurationError
from signal_platform.schema_registry import SchemaRegistry
from signal_platform.signal_batches import SignalBatcher
from signal_platform.sources import SourceRegistry
from validator import edge
from validator.buffer import FrontDoor, StreamPublisher
from validator.ingest import Ingestor
from validator.limits import DynamoLeaseStore, RateLimitSettings, SourceRateLimiter
from validator.segment import SegmentMapper, TrackMapping
from validator.settings import ENTRY_SOURCE, ValidatorSettings
from validator.verdicts import EventJudge, Limits


@cache
def schema_registry() -> SchemaRegistry:
    return SchemaRegistry()


@cache
def segment_mapper() -> SegmentMapper:
    """The track mapping is read once per container."""
    return SegmentMapper(TrackMapping.load())


def rate_limiter() -> SourceRateLimiter | None:
    """Per-source rate limits, when the stack has a lease table (docs/adr/0008-abuse-containment.md)."""
    settings = RateLimitSettings.from_env()
    if settings.leases_table_name is None:
        return None
    return SourceRateLimiter(DynamoLeaseStore(settings.leases_table_name), settings.default_rate_per_second)


def _sign_with(provider: signing.SigningKeyProvider, payload: bytes) -> str:
    return signing.sign(provider.key(), payload)


def publisher(settings: ValidatorSettings) -> Publisher:
    """The ingress bus, behind the front-door buffer when the stack enables it."""
    bus = BusPublisher(endpoint_id=settings.global_endpoint_id)
    if settings.buffer_stream_name is None:
        return bus
    buffer = StreamPublisher(stream_name=settings.buffer_stream_name)
    return FrontDoor(bus=bus, buffer=buffer, buffer_below=settings.buffer_below_signals)


def build_ingestor(settings: ValidatorSettings) -> Ingestor:
    keys = signing.SigningKeyProvider(
        secret_arn=settings.signing_key_secret_arn, parameter_name=settings.signing_key_parameter_name
    )
    return Ingestor(
        region=settings.region,
        sources=SourceRegistry(settings.sources_table_name),
        judge=EventJudge(
            schema_registry(),
            Limits(
                max_event_bytes=settings.max_event_bytes,
                max_future_skew=settings.max_future_skew,
                max_event_age=settings.max_event_age,
                store_raw_ip=settings.store_raw_ip,
            ),
        ),
        batcher=SignalBatcher(
            bus_name=settings.ingress_bus_name,
            entry_source=ENTRY_SOURCE,
            max_signals=settings.max_signals_per_entry,
            signer=partial(_sign_with, keys),
            by_type=settings.group_by_type,
        ),
        publisher=publisher(settings),
        max_body_bytes=settings.max_body_bytes,
        max_events_per_request=settings.max_events_per_request,
        segment=segment_mapper(),
        limiter=rate_limiter(),
    )


@cache
def front_door() -> str:
    """The template's FrontDoor (HttpApi when unset: a stack without a load balancer)."""
    door = os.environ.get("FRONT_DOOR") or "HttpApi"
    if door not in edge.OPEN_DOORS:
        raise ConfigurationError(f"FRONT_DOOR is {door!r}: expected one of {', '.join(edge.OPEN_DOORS)}")
    return door


@cache
def ingestor() -> Ingestor:
    return build_ingestor(ValidatorSettings.from_env())


def reset() -> None:
    """Forget the cached collaborators (tests change the environment between cases)."""
    ingestor.cache_clear()
    front_door.cache_clear()
