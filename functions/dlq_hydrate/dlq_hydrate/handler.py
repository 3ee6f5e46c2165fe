"""Lambda entry point on every Pipe DLQ, rule-target DLQ and Lambda on-failure destination queue: SQS
batches in, DLQ-store objects out.

The SQS event-source mappings report partial failures (``ReportBatchItemFailures``): a message whose
records could not be stored (S3 or Kinesis trouble) is answered as
``{"batchItemFailures": [{"itemIdentifier": <messageId>}]}`` and SQS redelivers it; after the
queue's ``maxReceiveCount`` it moves to this function's own DLQ. Powertools' ``BatchProcessor`` is
the right tool here: the SQS event is ``{"Records": [...]}`` and the identifier is the messageId.
"""

from __future__ import annotations

import time
from typing import Any, Final

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from dlq_hydrate import dependencies
from dlq_hydrate.hydrate import HydrateOutcome
from signal_platform.errors import SignalPlatformError
from signal_platform.observability import logger, metrics, tracer

# Time kept back from the Lambda deadline to write what was read and answer SQS (at most a quarter).
WRITE_MARGIN_SECONDS: Final = 10.0
METRIC_BY_KIND: Final = {
    "kinesis_batch": "KinesisBatchesHydrated",
    "rule_target": "RuleTargetEventsStored",
    "async_invocation": "AsyncFailureEventsStored",
}

# Every message answers for itself, even when all of them fail: the answer lists them all, SQS
# redrives exactly those, and the invocation does not count as an error for the whole batch.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _record(outcome: HydrateOutcome) -> None:
    if outcome.kind == "unparsed":
        metrics.add_metric(name="UnparsedMessages", unit=MetricUnit.Count, value=1)
        logger.warning(
            "dlq message of unknown shape kept whole",
            message_id=outcome.message_id,
            consumer=outcome.consumer,
            reason=outcome.reason,
            key=outcome.unparsed_key,
        )
        return
    metrics.add_metric(name=METRIC_BY_KIND[outcome.kind], unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="RecordsRecovered", unit=MetricUnit.Count, value=outcome.records_recovered)
    metrics.add_metric(name="DlqObjectsCreated", unit=MetricUnit.Count, value=outcome.objects_created)
    metrics.add_metric(name="DlqObjectsAlreadyStored", unit=MetricUnit.Count, value=outcome.objects_existing)
    if outcome.kind == "kinesis_batch":
        metrics.add_metric(name="GetRecordsCalls", unit=MetricUnit.Count, value=outcome.get_records_calls)
        metrics.add_metric(
            name="UnrecoverableRecords", unit=MetricUnit.Count, value=outcome.unrecoverable_records
        )
    if outcome.manifest_key is not None:
        metrics.add_metric(name="UnrecoverableBatches", unit=MetricUnit.Count, value=1)
        logger.error(
            "records not recovered, manifest written",
            message_id=outcome.message_id,
            consumer=outcome.consumer,
            problems=outcome.problems,
            expected=outcome.expected_records,
            recovered=outcome.records_recovered,
            unrecoverable=outcome.unrecoverable_records,
            manifest=outcome.manifest_key,
        )
    else:
        logger.info(
            "dlq message hydrated",
            message_id=outcome.message_id,
            consumer=outcome.consumer,
            kind=outcome.kind,
            records=outcome.records_recovered,
            created=outcome.objects_created,
            get_records_calls=outcome.get_records_calls,
        )


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    remaining = context.get_remaining_time_in_millis() / 1000
    deadline = time.monotonic() + remaining - min(WRITE_MARGIN_SECONDS, remaining / 4)

    def hydrate(record: SQSRecord) -> None:
        try:
            outcome = dependencies.hydrator().hydrate(record.raw_event, deadline=deadline)
        except SignalPlatformError as error:
            metrics.add_metric(name="HydrateFailures", unit=MetricUnit.Count, value=1)
            logger.error(
                "dlq message not stored, redriven",
                message_id=record.message_id,
                code=error.code,
                retryable=error.retryable,
                reason=str(error),
            )
            raise
        except Exception:
            metrics.add_metric(name="HydrateFailures", unit=MetricUnit.Count, value=1)
            logger.exception("unexpected error, dlq message redriven", message_id=record.message_id)
            raise
        _record(outcome)

    return process_partial_response(event=event, record_handler=hydrate, processor=processor, context=context)
