"""Lambda entry point of EventBridge Pipe "lake": Kinesis records in, lake objects out.

The Pipe hands over a bare JSON array of flat Kinesis records and reads back
``{"batchItemFailures": [{"itemIdentifier": <eventID>}]}``. Powertools' ``BatchProcessor`` expects
``{"Records": [...]}`` and reports sequence numbers, and this writer must succeed or fail as a
whole anyway (see ``s3_writer.writer``), so the loop is the writer's own.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from s3_writer import dependencies
from s3_writer.records import PipeEventError, parse_records
from s3_writer.writer import WriteOutcome
from signal_platform.observability import logger, metrics, tracer


def _record(outcome: WriteOutcome) -> None:
    metrics.add_metric(name="RecordsReceived", unit=MetricUnit.Count, value=outcome.records)
    if outcome.records_already_in_lake:
        metrics.add_metric(
            name="RecordsAlreadyInLake", unit=MetricUnit.Count, value=outcome.records_already_in_lake
        )
    if outcome.not_deleted:
        metrics.add_metric(name="LakeCleanupFailures", unit=MetricUnit.Count, value=len(outcome.not_deleted))
        logger.error(
            "objects of an attempt that does not count were not deleted", keys=list(outcome.not_deleted)
        )
    if outcome.conflict:
        # Not an error: another invocation holds or won these records; the Pipe retries the batch.
        metrics.add_metric(name="LakeLedgerConflicts", unit=MetricUnit.Count, value=1)
        logger.warning("records owned by another invocation, batch retried", reason=outcome.conflict)
        return
    if outcome.succeeded:
        # Counted only when the invocation commits: a failed one is retried and counted then.
        metrics.add_metric(name="SignalsWritten", unit=MetricUnit.Count, value=outcome.signals_written)
        metrics.add_metric(name="LakeObjectsWritten", unit=MetricUnit.Count, value=outcome.lake_objects)
        if outcome.duplicates_dropped:  # zeros are no datapoint: the alarm and the dashboard sum
            metrics.add_metric(
                name="DuplicateSignalsDropped", unit=MetricUnit.Count, value=outcome.duplicates_dropped
            )
        if outcome.bad_records:
            metrics.add_metric(name="BadRecords", unit=MetricUnit.Count, value=outcome.bad_records)
            logger.warning("bad records set aside", bad_records=outcome.bad_records)
        return
    metrics.add_metric(name="LakeWriteFailures", unit=MetricUnit.Count, value=len(outcome.failed_writes))
    metrics.add_metric(name="RecordsRetried", unit=MetricUnit.Count, value=len(outcome.failed_event_ids))
    logger.error(
        "lake write failed, batch retried",
        records=outcome.records,
        errors=list(outcome.failed_writes),
        first_event_id=outcome.failed_event_ids[0],
    )


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: list[dict[str, Any]], context: LambdaContext) -> dict[str, Any]:
    try:
        records = parse_records(event)
    except PipeEventError as error:
        metrics.add_metric(name="MalformedPipeEvents", unit=MetricUnit.Count, value=1)
        logger.error("malformed pipe payload, whole batch retried", reason=str(error))
        raise
    # How long this invocation may still run: the lake ledger's lease on the records it writes.
    remaining = context.get_remaining_time_in_millis() / 1000
    outcome = dependencies.batch_writer().write(records, remaining_seconds=remaining)
    _record(outcome)
    return outcome.response()
