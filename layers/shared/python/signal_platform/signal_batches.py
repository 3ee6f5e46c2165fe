"""Signal batches: many accepted signals in one EventBridge entry (pure logic, no I/O).

At 2 billion signals a day one entry per signal is over the PutEvents and rule-invocation quotas
and costs $1 per million per bus hop; batches of a few dozen cut both by that factor. A batch:

- holds signals of one event type from one source, in arrival order;
- is at most ``max_entry_bytes`` (64 KB, one billing chunk) and at most ``max_signals`` signals;
  a single signal larger than the budget travels alone (EventBridge takes entries up to 1 MB);
- has an id derived from its signals' ``event_id``s, so an identical resend gives identical batches;
- carries ingestion metadata and an HMAC signature over its canonical bytes (``signing``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from signal_platform import codec
from signal_platform.signing import SIGNATURE_LENGTH

BATCH_SCHEMA_VERSION: Final = "1-0-0"
MAX_ENTRY_BYTES: Final = 64 * 1024
MAX_ENTRIES_PER_CALL: Final = 10
# PutEvents request limit: 1 MB since January 2026 (was 256 KB). A wrong guess fails the call loudly.
MAX_CALL_BYTES: Final = 1024 * 1024
_BATCH_ID_HEX: Final = 32
_SEPARATOR: Final = b"\x1f"


@dataclass(frozen=True, slots=True)
class IngestMetadata:
    received_at: str
    region: str
    request_id: str
    source_id: str

    def as_dict(self) -> dict[str, str]:
        return {
            "received_at": self.received_at,
            "region": self.region,
            "request_id": self.request_id,
            "source_id": self.source_id,
        }


@dataclass(frozen=True, slots=True)
class EncodedSignal:
    """One accepted signal, already serialised canonically (it is serialised exactly once)."""

    event_id: str
    event_type: str
    source: str
    body: bytes


@dataclass(frozen=True, slots=True)
class BusEntry:
    """One PutEvents entry and the signals it carries."""

    batch_id: str
    event_ids: tuple[str, ...]
    entry: dict[str, Any]
    size: int


def batch_id_for(event_type: str, source: str, event_ids: Sequence[str]) -> str:
    digest = hashlib.blake2b(digest_size=_BATCH_ID_HEX // 2)
    digest.update(event_type.encode())
    digest.update(_SEPARATOR)
    digest.update(source.encode())
    for event_id in event_ids:
        digest.update(_SEPARATOR)
        digest.update(event_id.encode())
    return digest.hexdigest()


def group_in_arrival_order(signals: Sequence[EncodedSignal]) -> list[list[EncodedSignal]]:
    """Signals grouped by (event type, source); groups and members keep first-arrival order."""
    groups: dict[tuple[str, str], list[EncodedSignal]] = {}
    for signal in signals:
        groups.setdefault((signal.event_type, signal.source), []).append(signal)
    return list(groups.values())


def chunk_by_size_and_count(
    bodies: Sequence[int], *, overhead: int, budget: int, max_count: int
) -> Iterator[tuple[int, int]]:
    """Greedy [start, end) ranges of consecutive items whose total size fits ``budget``.

    ``bodies`` are the items' sizes; an item costs its size plus one separator after the first.
    An item that alone exceeds the budget forms a range of its own.
    """
    start, size = 0, overhead
    for index, body in enumerate(bodies):
        cost = body + (1 if index > start else 0)
        if index > start and (size + cost > budget or index - start >= max_count):
            yield start, index
            start, size, cost = index, overhead, body
        size += cost
    if start < len(bodies):
        yield start, len(bodies)


class SignalBatcher:
    """Packs accepted signals into signed PutEvents entries."""

    def __init__(
        self,
        *,
        bus_name: str,
        entry_source: str,
        max_signals: int,
        signer: Callable[[bytes], str],
        max_entry_bytes: int = MAX_ENTRY_BYTES,
    ) -> None:
        if max_signals < 1:
            raise ValueError("max_signals must be at least 1")
        self._bus_name = bus_name
        self._entry_source = entry_source
        self._max_signals = max_signals
        self._signer = signer
        self._max_entry_bytes = max_entry_bytes

    def build(self, signals: Sequence[EncodedSignal], ingest: IngestMetadata) -> list[BusEntry]:
        metadata = ingest.as_dict()
        entries: list[BusEntry] = []
        for group in group_in_arrival_order(signals):
            event_type, source = group[0].event_type, group[0].source
            # Fixed bytes of every entry of this group: envelope, metadata, DetailType, Source.
            overhead = (
                len(self._detail(event_type, "0" * _BATCH_ID_HEX, metadata, ()))
                + len(',"signature":""')
                + SIGNATURE_LENGTH
                + len(event_type.encode())
                + len(self._entry_source)
            )
            sizes = [len(signal.body) for signal in group]
            for start, end in chunk_by_size_and_count(
                sizes, overhead=overhead, budget=self._max_entry_bytes, max_count=self._max_signals
            ):
                entries.append(self._entry(event_type, source, group[start:end], metadata))
        return entries

    def _entry(
        self, event_type: str, source: str, members: Sequence[EncodedSignal], metadata: dict[str, str]
    ) -> BusEntry:
        event_ids = tuple(signal.event_id for signal in members)
        batch_id = batch_id_for(event_type, source, event_ids)
        unsigned = self._detail(event_type, batch_id, metadata, members)
        # Sorted keys put "signature" last, so appending it keeps the detail canonical.
        detail = unsigned[:-1] + b',"signature":"' + self._signer(unsigned).encode() + b'"}'
        return BusEntry(
            batch_id=batch_id,
            event_ids=event_ids,
            entry={
                "Source": self._entry_source,
                "DetailType": event_type,
                "Detail": detail.decode(),
                "EventBusName": self._bus_name,
            },
            size=len(detail) + len(event_type.encode()) + len(self._entry_source),
        )

    @staticmethod
    def _detail(
        event_type: str, batch_id: str, metadata: dict[str, str], members: Sequence[EncodedSignal]
    ) -> bytes:
        return codec.canonical(
            {
                "batch_id": batch_id,
                "event_type": event_type,
                "ingest": metadata,
                "schema_version": BATCH_SCHEMA_VERSION,
                "signals": [codec.Fragment(signal.body) for signal in members],
            }
        )


def unsigned_bytes(detail: dict[str, Any]) -> bytes:
    """The bytes a batch's signature covers, re-derived from a parsed Detail."""
    return codec.canonical({key: value for key, value in detail.items() if key != "signature"})


def calls(entries: Sequence[BusEntry]) -> Iterator[list[BusEntry]]:
    """PutEvents calls: at most 10 entries and ``MAX_CALL_BYTES`` each, in order."""
    sizes = [entry.size for entry in entries]
    for start, end in chunk_by_size_and_count(
        sizes, overhead=0, budget=MAX_CALL_BYTES, max_count=MAX_ENTRIES_PER_CALL
    ):
        yield list(entries[start:end])
