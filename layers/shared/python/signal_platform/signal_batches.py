"""Signal batches: many accepted signals in one EventBridge entry (pure logic, no I/O).

At 2 billion signals a day one entry per signal is over the PutEvents and rule-invocation quotas
and costs $1 per million per bus hop; batches of a few dozen cut both by that factor. A batch:

- holds signals of one event type and one group key, in arrival order: the source on the ingress
  bus (``by_source``), the partition key on the data-platform bus (``by_partition_key``, named in
  the Detail by ``group_field``);
- is at most ``max_entry_bytes`` (64 KB, one billing chunk) and at most ``max_signals`` signals;
  a single signal larger than the budget travels alone (EventBridge takes entries up to 1 MB);
- has an id derived from its signals' ``event_id``s, so an identical resend gives identical batches;
- or, with ``by_type=False`` (the template's ``SignalBatchGrouping: Request``, docs/adr/0010), holds
  signals of several types: its DetailType and ``event_type`` are ``MIXED_EVENT_TYPE`` and
  ``event_types`` lists its types, sorted, so a rule can still filter on a type by content;
- carries the batch-level fields of its contract (ingestion metadata on the ingress bus) and, when a
  signer is given, an HMAC signature over its canonical bytes (``signing``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from operator import attrgetter
from typing import Any, Final, NamedTuple

from signal_platform import codec
from signal_platform.signing import SIGNATURE_LENGTH

BATCH_SCHEMA_VERSION: Final = "1-0-0"
MAX_ENTRY_BYTES: Final = 64 * 1024
MAX_ENTRIES_PER_CALL: Final = 10
# PutEvents request limit: 1 MB since January 2026 (was 256 KB). A wrong guess fails the call loudly.
MAX_CALL_BYTES: Final = 1024 * 1024
_BATCH_ID_HEX: Final = 32
_SEPARATOR_TEXT: Final = "\x1f"
# Detail fields the batcher writes itself; contract-specific fields may not shadow them.
_RESERVED_FIELDS: Final = frozenset({"batch_id", "event_type", "schema_version", "signals", "signature"})
# The DetailType and batch-level event_type of a batch of several types, which lists them in
# event_types. No event type may take the name (the registry test refuses it): mixed batch ids
# never equal per-type ones.
MIXED_EVENT_TYPE: Final = "mixed"
MIXED_TYPES_FIELD: Final = "event_types"
# A mixed batch is ADDITION 1 of its contract (contracts/signal_batch and enriched_batch 1-1-0).
MIXED_SCHEMA_VERSION: Final = "1-1-0"


class IngestMetadata(NamedTuple):
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


class EncodedSignal(NamedTuple):
    """One accepted signal, already serialised canonically (it is serialised exactly once).

    ``partition_key`` is set by the enrichment (the stable user/session key); the ingress leaves it empty.
    A named tuple, not a frozen dataclass: one is built per event, at a fifth of the cost.
    """

    event_id: str
    event_type: str
    source: str
    body: bytes
    partition_key: str = ""


class BusEntry(NamedTuple):
    """One PutEvents entry and the signals it carries (a named tuple, like ``EncodedSignal``)."""

    batch_id: str
    event_ids: tuple[str, ...]
    entry: dict[str, Any]
    size: int


GroupKey = Callable[[EncodedSignal], str]


# Field getters in C: the group key is read once per signal.
by_source: Final[GroupKey] = attrgetter("source")
by_partition_key: Final[GroupKey] = attrgetter("partition_key")
_EVENT_TYPE: Final = attrgetter("event_type")


def batch_id_for(event_type: str, source: str, event_ids: Sequence[str]) -> str:
    """32 hex chars from the event type, the group key (``source`` on the ingress) and the event ids."""
    # The parts joined by the separator: one hash update (the same digest as one update per part).
    # The separator is ASCII: encoding the joined text gives the same bytes as joining the encodings.
    parts = _SEPARATOR_TEXT.join([event_type, source, *event_ids]).encode()
    return hashlib.blake2b(parts, digest_size=_BATCH_ID_HEX // 2).hexdigest()


def group_in_arrival_order(
    signals: Sequence[EncodedSignal], key: GroupKey = by_source
) -> list[list[EncodedSignal]]:
    """Signals grouped by (event type, ``key``); groups and members keep first-arrival order."""
    if not signals:
        return []
    # One type from one source, the common request, told by two sets built in C: no pair per signal.
    if len(set(map(_EVENT_TYPE, signals))) == 1 and len(set(map(key, signals))) == 1:
        return [list(signals)]
    groups: dict[tuple[str, str], list[EncodedSignal]] = {}
    for signal in signals:
        groups.setdefault((signal.event_type, key(signal)), []).append(signal)
    return list(groups.values())


def group_by_key_in_arrival_order(
    signals: Sequence[EncodedSignal], key: GroupKey
) -> list[list[EncodedSignal]]:
    """Signals of any type grouped by ``key`` alone; groups and members keep first-arrival order."""
    groups: dict[str, list[EncodedSignal]] = {}
    for signal in signals:
        groups.setdefault(key(signal), []).append(signal)
    return list(groups.values())


def event_types_of(signals: Sequence[EncodedSignal]) -> list[str]:
    """A mixed batch's ``event_types``: its signals' types, distinct and sorted."""
    return sorted({signal.event_type for signal in signals})


def chunk_by_size_and_count(
    bodies: Sequence[int], *, overhead: int, budget: int, max_count: int
) -> Iterator[tuple[int, int]]:
    """Greedy [start, end) ranges of consecutive items whose total size fits ``budget``.

    ``bodies`` are the items' sizes; an item costs its size plus one separator after the first.
    An item that alone exceeds the budget forms a range of its own.
    """
    start, total = 0, len(bodies)
    while start < total:
        end = min(start + max_count, total)
        # The common case first: the next max_count items fit, so the greedy range is all of them.
        if overhead + sum(bodies[start:end]) + (end - start - 1) > budget:
            end = _greedy_end(bodies, start, end, overhead=overhead, budget=budget)
        yield start, end
        start = end


def _greedy_end(bodies: Sequence[int], start: int, end: int, *, overhead: int, budget: int) -> int:
    """The end of the greedy range from ``start`` (before ``end``, which does not fit): the first
    item always, then each next one while the total stays within ``budget``."""
    size = overhead + bodies[start]
    for index in range(start + 1, end):
        size += bodies[index] + 1
        if size > budget:
            return index
    return end


class SignalBatcher:
    """Packs signals into PutEvents entries, signed when a ``signer`` is given.

    The defaults build the ingress contract (``signal_batch``: grouped by source, ``ingest``
    metadata, signed). ``group_key`` / ``group_field`` / ``schema_version`` and the ``fields`` of
    ``pack`` let another hop build its own contract with the same packing rules, e.g. the
    enrichment's ``enriched_batch`` (grouped by partition key, named ``partition_key`` in the Detail).
    ``by_type=False`` puts signals of several types in one batch (``MIXED_EVENT_TYPE``, contract
    version ``MIXED_SCHEMA_VERSION``).
    """

    def __init__(
        self,
        *,
        bus_name: str,
        entry_source: str,
        max_signals: int,
        signer: Callable[[bytes], str] | None,
        max_entry_bytes: int = MAX_ENTRY_BYTES,
        group_key: GroupKey = by_source,
        group_field: str | None = None,
        schema_version: str = BATCH_SCHEMA_VERSION,
        by_type: bool = True,
    ) -> None:
        if max_signals < 1:
            raise ValueError("max_signals must be at least 1")
        if group_field in _RESERVED_FIELDS:
            raise ValueError(f"group_field {group_field!r} is a reserved Detail field")
        self._bus_name = bus_name
        self._entry_source = entry_source
        self._max_signals = max_signals
        self._signer = signer
        self._max_entry_bytes = max_entry_bytes
        self._group_key = group_key
        self._group_field = group_field
        self._schema_version = schema_version if by_type else MIXED_SCHEMA_VERSION
        self._by_type = by_type
        self._group = group_in_arrival_order if by_type else group_by_key_in_arrival_order
        reserved = _RESERVED_FIELDS if by_type else _RESERVED_FIELDS | {MIXED_TYPES_FIELD}
        self._reserved = reserved | {group_field} if group_field else reserved
        self._signature_bytes = len(',"signature":""') + SIGNATURE_LENGTH if signer else 0

    def build(self, signals: Sequence[EncodedSignal], ingest: IngestMetadata) -> list[BusEntry]:
        """The ingress contract: every batch carries the request's ingestion metadata."""
        return self._pack(signals, {"ingest": ingest.as_dict()})  # "ingest" is not a reserved field

    def pack(self, signals: Sequence[EncodedSignal], fields: Mapping[str, Any]) -> list[BusEntry]:
        """Entries for ``signals``; ``fields`` are written into every Detail next to the batch's own."""
        clash = self._reserved.intersection(fields)
        if clash:
            raise ValueError(f"fields {sorted(clash)} are written by the batcher itself")
        return self._pack(signals, fields)

    def _pack(self, signals: Sequence[EncodedSignal], fields: Mapping[str, Any]) -> list[BusEntry]:
        entries: list[BusEntry] = []
        groups = [signals] if len(signals) == 1 else self._group(signals, self._group_key)
        for group in groups:
            event_type = group[0].event_type if self._by_type else MIXED_EVENT_TYPE
            group_value = self._group_key(group[0])
            if len(group) == 1:  # one signal is one entry whatever its size: no budget to work out
                entries.append(self._entry(event_type, group_value, group, fields))
                continue
            # Fixed bytes of every entry of this group: envelope, fields, DetailType, Source.
            overhead = (
                len(self._detail(event_type, "0" * _BATCH_ID_HEX, fields, group_value, ()))
                + self._signature_bytes
                + self._mixed_types_bytes(group)
                + len(event_type.encode())
                + len(self._entry_source)
            )
            sizes = [len(signal.body) for signal in group]
            for start, end in chunk_by_size_and_count(
                sizes, overhead=overhead, budget=self._max_entry_bytes, max_count=self._max_signals
            ):
                entries.append(self._entry(event_type, group_value, group[start:end], fields))
        return entries

    def _entry(
        self, event_type: str, group_value: str, members: Sequence[EncodedSignal], fields: Mapping[str, Any]
    ) -> BusEntry:
        event_ids = tuple([signal.event_id for signal in members])  # a list first: no generator
        batch_id = batch_id_for(event_type, group_value, event_ids)
        unsigned = self._detail_dict(event_type, batch_id, fields, group_value, members)
        detail = codec.canonical(unsigned)
        if self._signer is not None:
            signature = self._signer(detail)
            if max(unsigned) < "signature":
                # Sorted keys put "signature" last, so appending it keeps the detail canonical;
                # joined in one copy of the detail (each "+" would copy all of it).
                detail = b"".join((memoryview(detail)[:-1], b',"signature":"', signature.encode(), b'"}'))
            else:
                detail = codec.canonical({**unsigned, "signature": signature})
        entry = {
            "Source": self._entry_source,
            "DetailType": event_type,
            "Detail": detail.decode(),
            "EventBusName": self._bus_name,
        }
        size = len(detail) + len(event_type.encode()) + len(self._entry_source)
        return BusEntry(batch_id, event_ids, entry, size)  # positional: a third cheaper than keywords

    def _mixed_types_bytes(self, group: Sequence[EncodedSignal]) -> int:
        """An upper bound of what a chunk's ``event_types`` adds to the overhead: all of the group's."""
        return 0 if self._by_type else len(codec.dumps(event_types_of(group)))

    def _detail(
        self,
        event_type: str,
        batch_id: str,
        fields: Mapping[str, Any],
        group_value: str,
        members: Sequence[EncodedSignal],
    ) -> bytes:
        return codec.canonical(self._detail_dict(event_type, batch_id, fields, group_value, members))

    def _detail_dict(
        self,
        event_type: str,
        batch_id: str,
        fields: Mapping[str, Any],
        group_value: str,
        members: Sequence[EncodedSignal],
    ) -> dict[str, Any]:
        detail: dict[str, Any] = {
            **fields,
            "batch_id": batch_id,
            "event_type": event_type,
            "schema_version": self._schema_version,
            # One fragment for the whole array: the same bytes as one per signal, joined in C.
            "signals": codec.Fragment(b"[" + b",".join([signal.body for signal in members]) + b"]"),
        }
        if self._group_field is not None:
            detail[self._group_field] = group_value
        if not self._by_type:
            detail[MIXED_TYPES_FIELD] = event_types_of(members)
        return detail


def unsigned_bytes(detail: dict[str, Any]) -> bytes:
    """The bytes a batch's signature covers, re-derived from a parsed Detail."""
    return codec.canonical({key: value for key, value in detail.items() if key != "signature"})


def calls(entries: Sequence[BusEntry]) -> Iterator[list[BusEntry]]:
    """PutEvents calls: at most 10 entries and ``MAX_CALL_BYTES`` each, in order."""
    if len(entries) == 1:  # the common answer to a one-event request
        yield list(entries)
        return
    sizes = [entry.size for entry in entries]
    for start, end in chunk_by_size_and_count(
        sizes, overhead=0, budget=MAX_CALL_BYTES, max_count=MAX_ENTRIES_PER_CALL
    ):
        yield list(entries[start:end])
