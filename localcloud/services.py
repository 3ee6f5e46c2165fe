"""What every emulator shares: the stack, the clock, the faults, AWS clients, DLQ writing, drops.

``Dropped`` records what AWS itself would drop (an async invocation that fails with no on-failure
destination, a rule target with no DLQ, a DLQ that cannot be written): the accounting counts these,
so a configuration that loses events shows up as ``lost``, with the reason.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from localcloud import metering
from localcloud.clock import Clock
from localcloud.faults import Faults, Reshard
from localcloud.provision import Stack
from localcloud.reshard import split_busiest_shard
from signal_platform import codec

log = logging.getLogger("localcloud")


# The AWS metrics the local cloud reports (by the emulators, the runtime, the HTTP API and the queue
# gauges), per namespace: what an alarm of the template may read besides the functions' own EMF.
EMULATED_METRICS: Final[Mapping[str, frozenset[str]]] = {
    "AWS/ApiGateway": frozenset({"Count", "4xx", "5xx", "Latency"}),
    "AWS/ApplicationELB": frozenset({"RequestCount", "HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count"}),
    "AWS/Lambda": frozenset(
        {
            "Invocations",
            "Errors",
            "Throttles",
            "Duration",
            "DestinationDeliveryFailures",
            "DeadLetterErrors",
            "IteratorAge",
        }
    ),
    "AWS/Events": frozenset(
        {
            "InvocationAttempts",
            "RetryInvocationAttempts",
            "Invocations",
            "FailedInvocations",
            "InvocationsSentToDlq",
            "InvocationsFailedToBeSentToDlq",
            "MatchedEvents",
            "IngestionToInvocationStartLatency",
        }
    ),
    "AWS/EventBridge/Pipes": frozenset({"Invocations", "ExecutionFailed", "ExecutionPartiallyFailed"}),
    "AWS/Kinesis": frozenset(
        {"GetRecords.IteratorAgeMilliseconds", "IncomingRecords", "WriteProvisionedThroughputExceeded"}
    ),
    "AWS/SQS": frozenset(
        {"NumberOfMessagesSent", "ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"}
    ),
    # S3 replication metrics per replication rule (bucket_replication)
    "AWS/S3": frozenset(
        {
            "ReplicationLatency",
            "OperationsPendingReplication",
            "BytesPendingReplication",
            "OperationsFailedReplication",
        }
    ),
}


# AWS metrics that alarms of the template read but the local cloud cannot produce, and why: their
# alarms exist only in stacks whose features it does not run.
NOT_EMULATED_METRICS: Final[Mapping[tuple[str, str], str]] = {}


def emulated(namespace: str, name: str) -> tuple[str, str]:
    """``(namespace, name)``, refused unless it is in ``EMULATED_METRICS`` (the list stays the truth)."""
    if name not in EMULATED_METRICS.get(namespace, frozenset()):
        raise ValueError(f"{namespace} {name} is not in EMULATED_METRICS")
    return namespace, name


@dataclass(frozen=True, slots=True)
class Datum:
    """One metric value an emulator reports, as the AWS service would to CloudWatch (``cloudwatch``)."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    value: float
    at: float


@dataclass(frozen=True, slots=True)
class Dropped:
    where: str
    reason: str
    payload: Any


_UNSIGNED_SERVICES: Final = frozenset({"dynamodb", "events", "kinesis"})


def _unsigned(**_: Any) -> Any:
    from botocore import UNSIGNED  # noqa: PLC0415 - botocore is imported once the cloud runs

    return UNSIGNED


def iso_millis(epoch: float) -> str:
    """``2026-11-26T16:00:00.123Z``: the timestamp format of DLQ and destination records."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def backoff(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with equal jitter: between half and all of ``min(cap, base * 2**(n-1))``."""
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 32))
    return ceiling / 2 + rng.random() * ceiling / 2


@dataclass
class Services:
    stack: Stack
    clock: Clock
    faults: Faults
    session: Any
    endpoint_url: str | None = None
    seed: int = 0
    dropped: list[Dropped] = field(default_factory=list)
    # Puts per (stream, shard): a poller reads its drained shard again only after new puts there (or
    # after its poll interval).
    stream_activity: Counter[tuple[str, str]] = field(default_factory=Counter)
    # Reshards per stream name: a Pipe lists the shards again after one.
    reshards: Counter[str] = field(default_factory=Counter)
    # Messages sent per queue URL: an SQS mapping receives again from an empty queue only after news.
    queue_activity: Counter[str] = field(default_factory=Counter)
    # The queue each message an SQS mapping received came from (SQS remembers it for a redriven
    # message; moto does not), so a message move task can send DLQ messages back.
    message_sources: dict[str, str] = field(default_factory=dict)
    # Metric values the emulators report, drained by the local CloudWatch (``cloudwatch``).
    metrics: list[Datum] = field(default_factory=list)
    # Called with the time before the CloudWatch reads ``metrics``: emulators that publish gauges on
    # their own schedule (S3 replication metrics, once a minute) report what is due up to then.
    reporters: list[Callable[[float], None]] = field(default_factory=list)
    _clients: dict[str, Any] = field(default_factory=dict)
    _queue_urls: dict[str, str] = field(default_factory=dict)
    _queue_attributes: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        # Every call through a watched client, charged to the function running at the time.
        self.calls = metering.CallMeter(lambda: self.faults.current_function)

    @property
    def region(self) -> str:
        return self.stack.region

    def client(self, service: str) -> Any:
        if service not in self._clients:
            client = self.session.client(service, region_name=self.region, endpoint_url=self.endpoint_url)
            self.watch(client)
            self._clients[service] = client
        return self._clients[service]

    def watch(self, client: Any) -> None:
        """Meter every call made through ``client`` (the cloud's own, and the project code's) and note
        its writes: an SQS mapping re-reads a drained queue, a Pipe a drained shard, only after news,
        because a blind receive costs moto milliseconds. Registering twice on one client is a no-op.

        DynamoDB, EventBridge and Kinesis requests (nearly all of a run's calls) go unsigned: moto never
        checks a signature and reads their Region from the URL, so SigV4 is ~0.1 ms of CPU per call (an
        eighth of a moto PutItem) spent on nothing. (moto's SQS reads the Region from the signature,
        S3 bodies are encoded differently unsigned: those stay signed.)"""
        self.calls.watch(client)
        events, service = client.meta.events, client.meta.service_model.service_name
        if service in _UNSIGNED_SERVICES:
            events.register("choose-signer", _unsigned, unique_id="localcloud:unsigned")
        if service == "sqs":
            for operation in ("SendMessage", "SendMessageBatch"):
                event = f"provide-client-params.sqs.{operation}"
                events.register(event, self._note_send, unique_id=f"localcloud:{event}")
        elif service == "kinesis":
            for operation in ("PutRecord", "PutRecords"):
                for event, handler in (
                    (f"provide-client-params.kinesis.{operation}", self._note_stream),
                    (f"after-call.kinesis.{operation}", self._note_put),
                ):
                    events.register(event, handler, unique_id=f"localcloud:{event}")

    def emit(
        self,
        namespace: str,
        name: str,
        dimensions: dict[str, str],
        value: float = 1.0,
        at: float | None = None,
    ) -> None:
        """Report a metric value now (or at ``at``), as the emulated AWS service would (the local
        CloudWatch reads it)."""
        emulated(namespace, name)
        moment = self.clock.now() if at is None else at
        self.metrics.append(Datum(namespace, name, tuple(sorted(dimensions.items())), value, moment))

    def _note_send(self, params: dict[str, Any], **_: Any) -> None:
        if "QueueUrl" in params:
            url = str(params["QueueUrl"])
            self.queue_activity[url] += 1
            sent = len(params.get("Entries") or ()) or 1
            self.emit("AWS/SQS", "NumberOfMessagesSent", {"QueueName": url.rsplit("/", 1)[-1]}, sent)

    @staticmethod
    def _note_stream(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        name = params.get("StreamName") or str(params.get("StreamARN", "")).rsplit("/", 1)[-1]
        context["localcloud_stream"] = name

    def _note_put(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        stream = str(context.get("localcloud_stream", ""))
        records = parsed.get("Records", []) if "Records" in parsed else [parsed]
        stored = 0
        for record in records:
            if record.get("ShardId"):
                self.stream_activity[stream, str(record["ShardId"])] += 1
                stored += 1
        if stored:
            self.emit("AWS/Kinesis", "IncomingRecords", {"StreamName": stream}, float(stored))
        self._maybe_reshard(stream)

    def _maybe_reshard(self, stream: str) -> None:
        """A ``Reshard`` fault splits a shard once the stream has taken its count of records."""
        if not any(isinstance(fault, Reshard) for fault in self.faults.active):
            return
        resource = next((r for r in self.stack.of_type("AWS::Kinesis::Stream") if r.ref == stream), None)
        names = (stream, resource.logical_id) if resource is not None else (stream,)
        written = sum(count for (name, _), count in self.stream_activity.items() if name == stream)
        if self.faults.reshard_due(names, written) and split_busiest_shard(
            self.stack.account_id, self.region, stream
        ):
            self.reshards[stream] += 1

    def queue_url(self, arn: str) -> str:
        if arn not in self._queue_urls:
            name = arn.rsplit(":", 1)[-1]
            self._queue_urls[arn] = self.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
        return self._queue_urls[arn]

    def queue_attributes(self, url: str) -> dict[str, str]:
        """A queue's VisibilityTimeout and RedrivePolicy (kept: a reset re-creates queues identically)."""
        if url not in self._queue_attributes:
            answer = self.client("sqs").get_queue_attributes(
                QueueUrl=url, AttributeNames=["VisibilityTimeout", "RedrivePolicy"]
            )
            self._queue_attributes[url] = dict(answer["Attributes"])
        return self._queue_attributes[url]

    def send_to_queue(self, arn: str, body: Any, attributes: dict[str, str] | None = None) -> bool:
        """One message to the SQS queue ``arn`` (a DLQ or a destination); False when it cannot be written."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        if self.faults.region_down(self.region):
            return False
        request: dict[str, Any] = {
            "QueueUrl": "",
            "MessageBody": body if isinstance(body, str) else codec.dumps(body).decode(),
        }
        if attributes:
            request["MessageAttributes"] = {
                name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
            }
        try:
            request["QueueUrl"] = self.queue_url(arn)
            self.client("sqs").send_message(**request)
        except (ClientError, BotoCoreError):
            log.exception("cannot write to queue %s", arn)
            return False
        return True

    def move_messages_back(self, arn: str) -> tuple[int, int]:
        """SQS StartMessageMoveTask without a destination: every message of the DLQ ``arn`` goes back to
        the queue it was redriven from. (moved, left in the DLQ because their source is unknown)."""
        sqs, url = self.client("sqs"), self.queue_url(arn)
        moved, unknown = 0, []
        while True:
            messages = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=600,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                source = self.message_sources.get(message["MessageId"])
                if source is None:
                    unknown.append(message["ReceiptHandle"])
                    continue
                request: dict[str, Any] = {"QueueUrl": source, "MessageBody": message["Body"]}
                if message.get("MessageAttributes"):
                    request["MessageAttributes"] = message["MessageAttributes"]
                sqs.send_message(**request)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                moved += 1
        for handle in unknown:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
        return moved, len(unknown)

    def put_record(self, stream_name: str, data: bytes, partition_key: str) -> tuple[str, str]:
        """PutRecord with the cloud's client (watched: the Pipe pollers learn of it); (shard id, sequence)."""
        answer = self.client("kinesis").put_record(
            StreamName=stream_name, Data=data, PartitionKey=partition_key
        )
        return str(answer["ShardId"]), str(answer["SequenceNumber"])

    def drop(self, where: str, reason: str, payload: Any) -> None:
        log.error("event dropped at %s: %s", where, reason)
        self.dropped.append(Dropped(where, reason, payload))
