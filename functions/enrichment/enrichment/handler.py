"""Lambda entry point of the enrichment: an ingress bus event (async invoke from an EventBridge rule).

Parse the event, let the service verify, enrich and forward it once, record what happened. Errors
that a retry can fix (the data-platform bus, the idempotency table, the quarantine bucket, the
signing key) propagate, so the invocation fails and Lambda's async retries run it again.
"""

from __future__ import annotations

import time
from typing import Any, Final

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from enrichment import dependencies
from enrichment.models import BusEvent
from enrichment.service import EnrichmentOutcome
from signal_platform.errors import DependencyError
from signal_platform.observability import logger, metrics, tracer

# Time kept back from the Lambda deadline after the last PutEvents retry: enough to release the
# idempotency record and flush metrics, so a timeout never leaves an in-progress record behind.
RELEASE_MARGIN_SECONDS: Final = 3.0

# Per invocation, one metric line to CloudWatch Logs: signals received are enriched + quarantined.
_COUNTS: Final = (
    ("SignalsEnriched", "forwarded"),
    ("SignalsQuarantined", "quarantined"),
    ("EnrichedEntries", "entries"),
    ("PutEventsCalls", "put_events_calls"),
)


def _record(event: BusEvent, outcome: EnrichmentOutcome) -> None:
    if outcome.status == "forged":
        metrics.add_metric(name="ForgedBatches", unit=MetricUnit.Count, value=1)
        # Never the payload: only where it came from and where it is kept.
        logger.warning(
            "forged batch quarantined",
            batch_id=outcome.batch_id,
            eventbridge_id=event.event_id,
            source=event.source,
            region=event.region,
            reason=outcome.reason,
            quarantine_key=outcome.quarantine_key,
        )
        return
    if outcome.status == "malformed":
        metrics.add_metric(name="MalformedBatches", unit=MetricUnit.Count, value=1)
        logger.error(
            "signed batch breaks its contract; quarantined",
            batch_id=outcome.batch_id,
            source=event.source,
            region=event.region,
            reason=outcome.reason,
            quarantine_key=outcome.quarantine_key,
        )
        return
    if outcome.status == "duplicate":
        metrics.add_metric(name="DuplicateBatches", unit=MetricUnit.Count, value=1)
        logger.info("batch enriched before; dropped", batch_id=outcome.batch_id)
        return
    for name, field in _COUNTS:
        if value := getattr(outcome, field):  # a zero is no datapoint: the alarm FILLs it, sums skip it
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    if outcome.quarantined:
        logger.warning(
            "signals quarantined",
            batch_id=outcome.batch_id,
            quarantined=outcome.quarantined,
            quarantine_key=outcome.quarantine_key,
        )


@logger.inject_lambda_context(correlation_id_path="detail.batch_id")
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    bus_event = BusEvent.parse(event)
    service = dependencies.prepare(context)
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - RELEASE_MARGIN_SECONDS
    try:
        outcome = service.handle(bus_event, deadline=deadline)
    except DependencyError as error:
        metrics.add_metric(name="EnrichmentRetries", unit=MetricUnit.Count, value=1)
        logger.error(
            "batch not enriched; the invocation fails and is retried",
            batch_id=bus_event.claimed_batch_id,
            code=error.code,
            reason=str(error),
        )
        raise
    _record(bus_event, outcome)
    return outcome.as_dict()
