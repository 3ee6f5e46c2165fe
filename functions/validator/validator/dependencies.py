"""The validator's collaborators, built once per container on first use (never at import)."""

from __future__ import annotations

import os
from functools import cache, partial

from signal_platform import signing
from signal_platform.bus_publisher import BusPublisher
from signal_platform.errors import ConfigurationError
from signal_platform.schema_registry import SchemaRegistry
from signal_platform.signal_batches import SignalBatcher
from signal_platform.sources import SourceRegistry
from validator import edge
from validator.ingest import Ingestor
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


def _sign_with(provider: signing.SigningKeyProvider, payload: bytes) -> str:
    return signing.sign(provider.key(), payload)


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
            ),
        ),
        batcher=SignalBatcher(
            bus_name=settings.ingress_bus_name,
            entry_source=ENTRY_SOURCE,
            max_signals=settings.max_signals_per_entry,
            signer=partial(_sign_with, keys),
        ),
        publisher=BusPublisher(endpoint_id=settings.global_endpoint_id),
        max_body_bytes=settings.max_body_bytes,
        max_events_per_request=settings.max_events_per_request,
        segment=segment_mapper(),
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
