"""Lambda entry point of the buffer stream's event source mapping: Kinesis records in, signal batches
on the ingress bus out, records that are not signal batches set aside on BufferDlq, and
``batchItemFailures`` naming the first record to retry (its sequence number, as a Lambda Kinesis
mapping expects)."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from batcher import dependencies
from batcher.models import Invocation, KinesisRecord
from batcher.service import ForwardOutcome
from signal_platform.observability import logger, metrics, tracer

# Time kept back from the Lambda deadline to answer the mapping after the last PutEvents retry.
ANSWER_MARGIN_SECONDS = 2.0


def _record(outcome: ForwardOutcome) -> None:
    metrics.add_metric(name="BufferRecordsReceived", unit=MetricUnit.Count, value=outcome.records)
    metrics.add_metric(name="SignalsForwarded", unit=MetricUnit.Count, value=outcome.signals_forwarded)
    metrics.add_metric(name="BusEntries", unit=MetricUnit.Count, value=outcome.bus_entries)
    metrics.add_metric(name="PutEventsCalls", unit=MetricUnit.Count, value=outcome.put_events_calls)
    if outcome.resends_dropped:
        metrics.add_metric(name="BufferResendsDropped", unit=MetricUnit.Count, value=outcome.resends_dropped)
    malformed = len(outcome.set_aside) + (outcome.malformed is not None)
    if malformed:
        metrics.add_metric(name="MalformedBufferRecords", unit=MetricUnit.Count, value=malformed)
    for record in outcome.set_aside:
        logger.error(
            "buffer record is not a signal batch, set aside to BufferDlq",
            shard_id=record.shard_id,
            sequence_number=record.sequence_number,
            reason=record.reason,
        )
    if outcome.malformed is not None:
        metrics.add_metric(name="MalformedBufferRecordsHeld", unit=MetricUnit.Count, value=1)
        logger.error(
            "buffer record is not a signal batch and could not be set aside, retried from it",
            sequence_number=outcome.resume_at,
            reason=outcome.malformed,
            error=outcome.set_aside_error,
        )
    elif outcome.resume_at is not None:
        metrics.add_metric(name="BufferSegmentsRetried", unit=MetricUnit.Count, value=1)
        logger.warning(
            "segment not delivered, retried from its first record",
            resume_at=outcome.resume_at,
            failure=outcome.failure,
            error_codes=outcome.error_codes,
        )
    if outcome.cut_not_kept is not None or outcome.cut_not_reproduced:
        # Nothing is lost; the retry may repeat signals under other batch ids (the lake's
        # events_dedup view still shows each once).
        metrics.add_metric(name="BufferSegmentCutsLost", unit=MetricUnit.Count, value=1)
        logger.error(
            "a failed segment's cut was not kept, or this retry cannot repeat it",
            resume_at=outcome.resume_at,
            error=outcome.cut_not_kept,
            not_reproduced=outcome.cut_not_reproduced,
        )


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    remaining = context.get_remaining_time_in_millis() / 1000
    deadline = time.monotonic() + remaining - ANSWER_MARGIN_SECONDS
    invocation = Invocation(context.aws_request_id, context.invoked_function_arn, context.function_version)
    records = [KinesisRecord.of_event(record) for record in event["Records"]]
    outcome = dependencies.forwarder().forward(records, deadline=deadline, invocation=invocation)
    _record(outcome)
    return outcome.response()
