"""The batcher's collaborators, built once per container on first use (never at import)."""

from __future__ import annotations

from functools import cache, partial

from batcher.buffer_dlq import BufferDlq
from batcher.cuts import SegmentCuts
from batcher.service import Forwarder
from batcher.settings import ENTRY_SOURCE, BatcherSettings
from signal_platform import signing
from signal_platform.bus_publisher import BusPublisher
from signal_platform.signal_batches import SignalBatcher


def _sign_with(provider: signing.SigningKeyProvider, payload: bytes) -> str:
    return signing.sign(provider.key(), payload)


def build_forwarder(settings: BatcherSettings) -> Forwarder:
    keys = signing.SigningKeyProvider(
        secret_arn=settings.signing_key_secret_arn, parameter_name=settings.signing_key_parameter_name
    )
    return Forwarder(
        batcher=SignalBatcher(
            bus_name=settings.ingress_bus_name,
            entry_source=ENTRY_SOURCE,
            max_signals=settings.max_signals_per_entry,
            signer=partial(_sign_with, keys),
            by_type=settings.group_by_type,
        ),
        publisher=BusPublisher(endpoint_id=settings.global_endpoint_id),
        segment_signals=settings.segment_signals,
        dead_letters=BufferDlq(settings.buffer_dlq_url),
        cuts=SegmentCuts(settings.segment_cuts_table_name),
    )


@cache
def forwarder() -> Forwarder:
    return build_forwarder(BatcherSettings.from_env())


def reset() -> None:
    """Forget the cached collaborators (tests change the environment between cases)."""
    forwarder.cache_clear()
