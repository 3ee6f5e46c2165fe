"""One signal of a verified batch -> one enriched signal (contract ``enriched_batch`` 1-0-0).

Pure apart from the user-agent cache. Anything that keeps a signal from meeting the contract raises
``MalformedSignalError`` with the reason; the caller quarantines that signal and goes on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from enrichment import standardise as std
from enrichment.models import SourceBatch
from enrichment.user_agents import UserAgentParser
from signal_platform import codec
from signal_platform.errors import MalformedSignalError
from signal_platform.signal_batches import EncodedSignal

_EVENT_ID: Final = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_SCHEMAVER: Final = re.compile(r"[1-9][0-9]*-(?:0|[1-9][0-9]*)-(?:0|[1-9][0-9]*)")
# Standardising must never stop a batch: these are what odd input can raise besides our own error.
_UNEXPECTED: Final = (ValueError, TypeError, KeyError, AttributeError)


@dataclass(frozen=True, slots=True)
class RejectedSignal:
    """A signal that could not be enriched: its place in the batch, identity if any, and why."""

    index: int
    event_id: str | None
    reason: str
    signal: Any

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "event_id": self.event_id, "reason": self.reason, "signal": self.signal}


@dataclass(slots=True)
class EnrichedBatch:
    signals: list[EncodedSignal]
    rejected: list[RejectedSignal]


class SignalEnricher:
    def __init__(self, user_agents: UserAgentParser, *, store_raw_ip: bool) -> None:
        self._user_agents = user_agents
        self._store_raw_ip = store_raw_ip

    def enrich(self, signal: object, batch: SourceBatch) -> dict[str, Any]:
        """The enriched signal as a dict, or ``MalformedSignalError``."""
        if not isinstance(signal, dict):
            raise MalformedSignalError("a signal must be an object")
        event_id = signal.get("event_id")
        if not isinstance(event_id, str) or not _EVENT_ID.fullmatch(event_id):
            raise MalformedSignalError("event_id must be a UUID")
        event_type = std.code(signal.get("event_type"), "event_type")
        if not batch.holds(event_type):
            raise MalformedSignalError(
                f"event_type {event_type!r} is not the batch's {batch.event_type!r}"
                if not batch.event_types
                else f"event_type {event_type!r} is not one of the batch's {batch.types}"
            )
        version = signal.get("schema_version")
        if not isinstance(version, str) or not _SCHEMAVER.fullmatch(version):
            raise MalformedSignalError("schema_version must be a SchemaVer MODEL-REVISION-ADDITION")
        source = std.code(signal.get("source"), "source")
        if source != batch.source_id:
            raise MalformedSignalError(f"source {source!r} is not the batch's {batch.source_id!r}")
        data = signal.get("data")
        if not isinstance(data, dict):
            raise MalformedSignalError("data must be an object")
        occurred_at = std.utc_timestamp(signal.get("occurred_at"), "occurred_at")
        # The validator always writes derived_at; without a sent_at it equals occurred_at.
        derived = signal.get("derived_at")
        derived_at = occurred_at if derived is None else std.utc_timestamp(derived, "derived_at")

        context = std.mapping(signal.get("context"), "context")
        user = std.user_fields(context)
        page = std.page_fields(std.mapping(context.get("page"), "context.page"), data)
        campaign = std.campaign_fields(
            std.mapping(context.get("campaign"), "context.campaign"), page.get("url")
        )
        enriched: dict[str, Any] = {
            "event_id": event_id,
            "event_type": event_type,
            "schema_version": version,
            "source": source,
            "occurred_at": occurred_at,
            "derived_at": derived_at,
            "received_at": batch.received_at,
            "ingest_region": batch.region,
            "request_id": batch.request_id,
            "partition_key": std.partition_key(user, source=source, event_id=event_id),
            "data": data,
            "user": user,
            "page": page,
            "campaign": campaign,
            "device": self._user_agents.describe(context.get("user_agent")),
            "network": std.network_fields(context.get("ip"), store_raw_ip=self._store_raw_ip),
            "library": std.library_fields(std.mapping(context.get("library"), "context.library")),
        }
        if locale := std.locale(context.get("locale")):
            enriched["locale"] = locale
        return enriched

    def encode(self, signal: object, batch: SourceBatch) -> EncodedSignal:
        enriched = self.enrich(signal, batch)
        try:
            body = codec.canonical(enriched)
        except TypeError as exc:  # orjson.JSONEncodeError: e.g. an integer beyond 64 bits in data
            raise MalformedSignalError(f"the signal cannot be encoded: {exc}") from exc
        return EncodedSignal(
            event_id=enriched["event_id"],
            event_type=enriched["event_type"],
            source=enriched["source"],
            body=body,
            partition_key=enriched["partition_key"],
        )

    def enrich_batch(self, batch: SourceBatch) -> EnrichedBatch:
        """Every signal enriched in arrival order; the ones that cannot be, set aside with the reason."""
        result = EnrichedBatch([], [])
        for index, signal in enumerate(batch.signals):
            try:
                result.signals.append(self.encode(signal, batch))
            except MalformedSignalError as exc:
                result.rejected.append(RejectedSignal(index, _event_id_of(signal), str(exc), signal))
            except _UNEXPECTED as exc:
                reason = f"unexpected {type(exc).__name__}: {exc}"
                result.rejected.append(RejectedSignal(index, _event_id_of(signal), reason, signal))
        return result


def _event_id_of(signal: object) -> str | None:
    event_id = signal.get("event_id") if isinstance(signal, Mapping) else None
    return event_id if isinstance(event_id, str) else None
