"""Lambda's asynchronous invocation queue (what an EventBridge rule's Lambda target feeds).

Per the Lambda documentation: a failed invocation is retried ``MaximumRetryAttempts`` times (default 2),
about one minute before the first retry and two minutes before the second (here exactly 60 s and
120 s, then 120 s, on the cloud's clock); an event older than ``MaximumEventAgeInSeconds`` (default
6 h) is not tried again. Then the invocation record goes to the ``OnFailure`` destination
(``{"version","timestamp","requestContext":{requestId,functionArn,condition,approximateInvokeCount},
"requestPayload","responseContext":{statusCode,executedVersion,functionError},"responsePayload"}``,
condition ``RetriesExhausted`` or ``EventAgeExceeded``) and the event itself to the function's
``DeadLetterConfig`` queue (attributes RequestID, ErrorCode, ErrorMessage). With neither, the event
is dropped, as AWS does; the accounting reports it as lost.

Throttles (a ``Concurrency`` fault): "For throttling errors (429) and system errors (500-series),
Lambda returns the event to the queue and attempts to run the function again for up to 6 hours"
with a backoff from 1 second to 5 minutes; these attempts do not count as retries, only
``MaximumEventAgeInSeconds`` ends them (condition ``EventAgeExceeded``).

Duplicates (a ``Duplicate`` fault): "Even if your function doesn't return an error, it's possible
for it to receive the same event from Lambda multiple times because the queue itself is eventually
consistent": an invocation that succeeded may run again with the same event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from localcloud.due_queue import DueQueue
from localcloud.eventbridge import RuleTarget
from localcloud.runtime import FunctionRuntime, FunctionSpec, Invocation
from localcloud.services import Services, backoff, iso_millis

RETRY_DELAYS: Final = (60.0, 120.0)
THROTTLE_BASE_SECONDS: Final = 1.0
THROTTLE_CAP_SECONDS: Final = 300.0


@dataclass
class _Queued:
    function: FunctionSpec
    event: Any
    enqueued: float
    attempts: int = 0
    throttles: int = 0
    copy: bool = False
    due: float = 0.0  # DueQueue sets it


class AsyncInvoker:
    def __init__(self, services: Services, runtime: FunctionRuntime) -> None:
        self._services = services
        self._runtime = runtime
        self._queue: DueQueue[_Queued] = DueQueue()
        self.invocations = 0
        self.failed_events = 0

    def enqueue(self, function_reference: str, event: Any) -> None:
        now = self._services.clock.now()
        spec = self._runtime.function(function_reference)
        self._queue.push(_Queued(spec, event, now), now)

    def rule_sender(self, target: RuleTarget, payload: Any, event: dict[str, Any]) -> None:  # noqa: ARG002
        """The EventBridge side: the event is accepted into the async queue."""
        self.enqueue(target.arn, payload)

    def pending(self) -> int:
        return len(self._queue)

    def next_due(self) -> float | None:
        return self._queue.next_due()

    def pump(self) -> int:
        now = self._services.clock.now()
        work = 0
        if self._services.faults.region_down(self._services.region):
            return work  # Lambda in a Region that is down runs nothing; the queue waits
        for item in self._queue.take(now):
            self._run(item, now)
            work += 1
        return work

    def _run(self, item: _Queued, now: float) -> None:
        self.invocations += 1
        outcome = self._runtime.invoke(item.function.logical_id, item.event)
        config = item.function.async_config
        if outcome.throttled:
            self._throttled(item, outcome, now)
            return
        item.attempts += 1
        if outcome.ok:
            if config.on_success:
                self._services.send_to_queue(config.on_success, self._record(item, outcome, "Success"))
            names = (item.function.logical_id, item.function.name)
            if not item.copy and self._services.faults.duplicate(names):
                self._queue.push(_Queued(item.function, item.event, item.enqueued, copy=True), now)
            return
        retries_left = item.attempts <= config.maximum_retry_attempts
        delay = RETRY_DELAYS[min(item.attempts, len(RETRY_DELAYS)) - 1]
        too_old = self._services.clock.now() + delay - item.enqueued > config.maximum_event_age
        if retries_left and not too_old:
            self._queue.push(item, now + delay)
            return
        self._fail(item, outcome, "RetriesExhausted" if not retries_left else "EventAgeExceeded")

    def _throttled(self, item: _Queued, outcome: Invocation, now: float) -> None:
        item.throttles += 1
        delay = backoff(
            item.throttles, base=THROTTLE_BASE_SECONDS, cap=THROTTLE_CAP_SECONDS, rng=self._services.rng
        )
        if now + delay - item.enqueued > item.function.async_config.maximum_event_age:
            self._fail(item, outcome, "EventAgeExceeded")
            return
        self._queue.push(item, now + delay)

    def _record(self, item: _Queued, outcome: Invocation, condition: str) -> dict[str, Any]:
        response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if not outcome.ok:
            response["functionError"] = "Unhandled"
        payload = (
            outcome.payload
            if outcome.ok
            else {
                "errorMessage": outcome.error_message,
                "errorType": outcome.error_type,
                "requestId": outcome.request_id,
                "stackTrace": [],
            }
        )
        return {
            "version": "1.0",
            "timestamp": iso_millis(self._services.clock.now()),
            "requestContext": {
                "requestId": outcome.request_id,
                "functionArn": f"{item.function.arn}:$LATEST",
                "condition": condition,
                "approximateInvokeCount": item.attempts,
            },
            "requestPayload": item.event,
            "responseContext": response,
            "responsePayload": payload,
        }

    def _fail(self, item: _Queued, outcome: Invocation, condition: str) -> None:
        self.failed_events += 1
        config = item.function.async_config
        kept = False
        dimensions = {"FunctionName": item.function.name}
        if config.on_failure:
            kept = self._services.send_to_queue(config.on_failure, self._record(item, outcome, condition))
            if not kept:
                self._services.emit("AWS/Lambda", "DestinationDeliveryFailures", dimensions)
        if item.function.dead_letter_arn:
            attributes = {
                "RequestID": outcome.request_id,
                "ErrorCode": "200",
                "ErrorMessage": str(outcome.error_message or outcome.error_type),
            }
            written = self._services.send_to_queue(item.function.dead_letter_arn, item.event, attributes)
            if not written:
                self._services.emit("AWS/Lambda", "DeadLetterErrors", dimensions)
            kept = written or kept
        if not kept:
            self._services.drop(
                item.function.logical_id, f"async invocation {condition}, no destination", item.event
            )
