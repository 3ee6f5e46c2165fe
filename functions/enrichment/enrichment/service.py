"""The enrichment's one domain operation: an ingress bus event in, enriched batches out, exactly once.

1. Verify the signature. A missing or forged one is never enriched nor forwarded: the whole event
   goes to the quarantine bucket and the invocation ends normally (a retry cannot fix it).
2. Check the verified batch's shape; a signed batch that breaks its contract is quarantined the same way.
3. Once per batch id (Powertools idempotency, wrapped around ``_enrich_and_forward`` by ``guard``):
   enrich every signal, quarantine the ones that cannot be, regroup the rest by (event type,
   partition key) into ``enriched_batch`` entries and put them on the data-platform bus.

If entries are still undelivered after the publisher's retries, a retryable error is raised: the
invocation fails, Powertools deletes the in-progress record, and Lambda's async retries (then its
on-failure destination) run the whole batch again. A retry re-puts every entry, also those that got
through, with the same deterministic batch ids and event_ids (they are derived from the signals, not
from the attempt), so consumers that drop repeats by batch id or event_id see each signal once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from enrichment.models import BusEvent, SourceBatch
from enrichment.quarantine import Quarantine
from enrichment.signals import SignalEnricher
from enrichment.verification import BatchVerifier
from signal_platform.bus_publisher import BusPublisher
from signal_platform.errors import BusThrottledError, BusUnavailableError, MalformedBatchError
from signal_platform.signal_batches import SignalBatcher
from signal_platform.timeutil import format_rfc3339, utc_now

Status = Literal["enriched", "duplicate", "forged", "malformed"]
EnrichOnce = Callable[..., dict[str, Any]]


@dataclass(frozen=True, slots=True)
class EnrichmentOutcome:
    status: Status
    batch_id: str | None
    signals: int = 0
    forwarded: int = 0
    quarantined: int = 0
    entries: int = 0
    put_events_calls: int = 0
    reason: str | None = None
    quarantine_key: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> EnrichmentOutcome:
        return cls(**stored)


def idempotency_data(batch_id: str) -> dict[str, Any]:
    """The payload the idempotency key is read from (``detail.batch_id``).

    Only the key, not the whole event: Powertools deep-copies and hashes the payload it is given,
    which for a 64 KB batch would cost more than enriching it.
    """
    return {"detail": {"batch_id": batch_id}}


def no_guard(function: EnrichOnce) -> EnrichOnce:
    """For tests of the logic alone: no idempotency store."""
    return function


class EnrichmentService:
    def __init__(
        self,
        *,
        verifier: BatchVerifier,
        enricher: SignalEnricher,
        batcher: SignalBatcher,
        publisher: BusPublisher,
        quarantine: Quarantine,
        guard: Callable[[EnrichOnce], EnrichOnce] = no_guard,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._verifier = verifier
        self._enricher = enricher
        self._batcher = batcher
        self._publisher = publisher
        self._quarantine = quarantine
        self._clock = clock
        self._enrich_once = guard(self._enrich_and_forward)

    def handle(self, event: BusEvent, *, deadline: float) -> EnrichmentOutcome:
        """``deadline`` is a ``time.monotonic()`` value after which no PutEvents retry starts."""
        verdict = self._verifier.check(event.detail)
        if verdict != "valid" or event.detail is None:
            key = self._quarantine.event("bad_signature", event, verdict)
            return EnrichmentOutcome("forged", event.claimed_batch_id, reason=verdict, quarantine_key=key)
        try:
            batch = SourceBatch.parse(event.detail)
        except MalformedBatchError as exc:
            key = self._quarantine.event("malformed_batch", event, str(exc))
            return EnrichmentOutcome("malformed", event.claimed_batch_id, reason=str(exc), quarantine_key=key)
        stored = self._enrich_once(
            idempotency_key=idempotency_data(batch.batch_id), event=event, batch=batch, deadline=deadline
        )
        return EnrichmentOutcome.from_dict(stored)

    def _enrich_and_forward(
        self, *, idempotency_key: dict[str, Any], event: BusEvent, batch: SourceBatch, deadline: float
    ) -> dict[str, Any]:
        del idempotency_key  # read by the idempotency guard only
        enriched = self._enricher.enrich_batch(batch)
        key = self._quarantine.signals(event, batch, enriched.rejected) if enriched.rejected else None
        entries = self._batcher.pack(
            enriched.signals,
            {"source_batch_id": batch.batch_id, "enriched_at": format_rfc3339(self._clock())},
        )
        outcome = self._publisher.publish(entries, deadline=deadline)
        if outcome.undelivered:
            error = BusThrottledError if outcome.failure == "throttled" else BusUnavailableError
            raise error(
                f"{len(outcome.undelivered)} of {len(entries)} enriched entries not delivered "
                f"after {outcome.attempts} attempts: {outcome.error_codes}"
            )
        return EnrichmentOutcome(
            "enriched",
            batch.batch_id,
            signals=len(batch.signals),
            forwarded=len(enriched.signals),
            quarantined=len(enriched.rejected),
            entries=len(entries),
            put_events_calls=outcome.calls,
            quarantine_key=key,
        ).as_dict()
