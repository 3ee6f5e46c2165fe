"""SQS -> Lambda event source mappings (AWS::Lambda::EventSourceMapping on a queue).

Up to ``BatchSize`` messages (default 10) are received and handed to the function as
``{"Records": [...]}`` in the SQS event shape (messageId, receiptHandle, body, attributes,
messageAttributes, md5OfBody, eventSource, eventSourceARN, awsRegion). Success deletes the batch;
with ``FunctionResponseTypes: [ReportBatchItemFailures]`` only the messages not named in
``batchItemFailures`` are deleted; an invalid answer fails the whole batch (``batch_response``).
A failed message
becomes visible again after the queue's VisibilityTimeout on the cloud's clock (it is held invisible
in moto meanwhile, then released), and moto's redrive policy moves it to the DLQ once its receive
count reaches ``maxReceiveCount``. ``MaximumBatchingWindowInSeconds`` and ``ScalingConfig`` are not
emulated (batches go as soon as messages are there).

Throttled invocations (a ``Concurrency`` fault) fail the batch like errors: its messages come back
after the visibility timeout, and each receive counts towards ``maxReceiveCount``. At least once (a
``Duplicate`` fault): a standard queue delivers at least once (a copy on a server that missed the
delete comes back); a message the function processed on its first receive is then not deleted and comes
back after the visibility timeout.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Final

from localcloud.batch_response import failed_items
from localcloud.provision import Resource
from localcloud.runtime import FunctionRuntime
from localcloud.services import Services

HOLD_SECONDS: Final = 43200  # the real-time visibility that keeps a failed message aside


@dataclass(frozen=True, slots=True)
class SqsMappingSpec:
    logical_id: str
    queue_arn: str
    function: str
    batch_size: int
    report_failures: bool
    enabled: bool

    @classmethod
    def of(cls, mapping: Resource) -> SqsMappingSpec:
        props = mapping.properties
        return cls(
            logical_id=mapping.logical_id,
            queue_arn=str(props["EventSourceArn"]),
            function=str(props["FunctionName"]),
            batch_size=int(props.get("BatchSize", 10)),
            report_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
            enabled=str(props.get("Enabled", "true")).lower() != "false",
        )


class SqsMapping:
    def __init__(
        self,
        spec: SqsMappingSpec,
        services: Services,
        runtime: FunctionRuntime,
        *,
        poll_interval: float | None = None,
    ) -> None:
        self.spec = spec
        self._services = services
        self._runtime = runtime
        self._held: list[tuple[float, str]] = []  # (visible again at, receipt handle)
        self._url = services.queue_url(spec.queue_arn)
        attributes = services.queue_attributes(self._url)
        self._visibility = float(attributes.get("VisibilityTimeout", 30))
        redrive = json.loads(attributes.get("RedrivePolicy") or "{}").get("deadLetterTargetArn")
        self._redrive_url = services.queue_url(redrive) if redrive else None
        queue = services.stack.by_arn(spec.queue_arn)
        self._queue_names = (queue.logical_id,) if queue is not None else ()
        self._poll_interval = poll_interval
        self._next_poll = 0.0
        self._empty = False
        self._activity_seen = -1
        self.invocations = 0

    def _stale(self) -> bool:
        """True when the queue may hold messages: never read empty, or messages sent to it since."""
        return not self._empty or self._services.queue_activity[self._url] != self._activity_seen

    def idle(self) -> bool:
        return not self._stale() and not self._held

    def next_due(self) -> float | None:
        if not self.spec.enabled:
            return None
        dues = [moment for moment, _ in self._held]
        if self._stale():
            dues.append(self._services.clock.now())
        elif self._poll_interval is not None:
            dues.append(self._next_poll)
        return min(dues) if dues else None

    def pump(self) -> int:
        if not self.spec.enabled:
            return 0
        now = self._services.clock.now()
        self._release(now)
        polling_due = self._poll_interval is not None and now >= self._next_poll
        if not (self._stale() or polling_due):
            return 0
        activity = self._services.queue_activity[self._url]
        messages = self._receive()
        if self._poll_interval is not None:
            self._next_poll = now + self._poll_interval
        if self._redrive_url is not None:  # moto redrives on receive: the DLQ may have news
            self._services.queue_activity[self._redrive_url] += 1
        self._empty = not messages
        if not messages:
            self._activity_seen = activity
            return 0
        self.invocations += 1
        outcome = self._runtime.invoke(self.spec.function, {"Records": [self._record(m) for m in messages]})
        failed = self._failed(outcome.payload, messages) if outcome.ok else {m["MessageId"] for m in messages}
        names = (self.spec.logical_id, *self._queue_names)
        failed |= {
            m["MessageId"]
            for m in messages
            if m["MessageId"] not in failed and _first_receive(m) and self._services.faults.duplicate(names)
        }
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._services.client("sqs").delete_message_batch(
                QueueUrl=self._url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        self._held.extend(
            (now + self._visibility, m["ReceiptHandle"]) for m in messages if m["MessageId"] in failed
        )
        return 1

    def _receive(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while len(messages) < self.spec.batch_size:
            answer = self._services.client("sqs").receive_message(
                QueueUrl=self._url,
                MaxNumberOfMessages=min(10, self.spec.batch_size - len(messages)),
                VisibilityTimeout=HOLD_SECONDS,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = answer.get("Messages", [])
            if not received:
                break
            for message in received:
                self._services.message_sources[message["MessageId"]] = self._url
            messages.extend(received)
        return messages

    def _release(self, now: float) -> None:
        due = [handle for moment, handle in self._held if moment <= now]
        if not due:
            return
        self._held = [(moment, handle) for moment, handle in self._held if moment > now]
        self._services.client("sqs").change_message_visibility_batch(
            QueueUrl=self._url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for i, handle in enumerate(due)
            ],
        )
        self._empty = False

    def _failed(self, answer: Any, messages: list[dict[str, Any]]) -> set[str]:
        if not self.spec.report_failures:
            return set()
        return failed_items(answer, {m["MessageId"] for m in messages})

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = message.get("Attributes", {})
        body = message["Body"]
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": body,
            "attributes": {
                "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
                "SentTimestamp": attributes.get("SentTimestamp", "0"),
                "SenderId": attributes.get("SenderId", "AIDAIENQZJOLO23YVJ4VO"),
                "ApproximateFirstReceiveTimestamp": attributes.get("ApproximateFirstReceiveTimestamp", "0"),
            },
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": value.get("DataType", "String"),
                }
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's checksum
            "eventSource": "aws:sqs",
            "eventSourceARN": self.spec.queue_arn,
            "awsRegion": self._services.region,
        }


def _first_receive(message: dict[str, Any]) -> bool:
    return str(message.get("Attributes", {}).get("ApproximateReceiveCount", "1")) == "1"
