"""The no-loss accounting: what clients were told (``Ledger``), where every signal is (``Census``), and
the balance (``Report``).

Where things are is found from the template, not configured twice:

- the **lake**: the bucket in ``LAKE_BUCKET_NAME`` of the function a Pipe invokes, objects under its
  ``LAKE_PREFIX`` (gzip NDJSON, one signal per line) and bad records under ``BAD_PREFIX``;
- the **quarantine**: ``QUARANTINE_BUCKET_NAME`` of any function, under ``quarantine/``;
- the **DLQs**: every queue named as a rule target's or a Pipe's ``DeadLetterConfig``, a function's
  ``DeadLetterConfig`` or async ``OnFailure`` destination, or an SQS redrive target. A Pipe's DLQ
  holds only the Pipe's view of one consumer (its messages are batch metadata: the records are read
  back from the stream, as the DLQ-hydrate function will); every other DLQ is upstream of all
  consumers. Messages are peeked (received, then made visible again), never consumed;
- a **DLQ store**: any ``*_BUCKET_NAME`` of a function whose name says DLQ (the DLQ-hydrate's S3 store,
  when it exists), every object read; ``replayed/`` objects count as replayed;
- the **partner**: what the local partner stand-in accepted;
- **dropped**: events AWS itself would have dropped (no DLQ, no destination) — counted as lost.

For each consumer (each Pipe): ``lost = accepted - (in its sink | in a DLQ it depends on | bad |
quarantined)``, all as sets of distinct ``event_id``s; ``unexpected`` = signals in a sink that no
client was told were accepted; ``duplicates in the sink`` = extra copies of a signal (the lake should
hold each exactly once).
"""

from __future__ import annotations

import gzip
import json
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from localcloud.partner import PartnerStandIn
from localcloud.pipes import PipeSpec
from localcloud.runtime import FunctionSpec
from localcloud.services import Services
from localcloud.signals import decode_text, event_ids
from signal_platform import codec


# ---------------------------------------------------------------------------- ledger
@dataclass
class Ledger:
    """What the API answered, per event: accepted, rejected (with its reasons) or still to retry."""

    sent: int = 0
    requests: int = 0
    resent: int = 0
    accepted: Counter[str] = field(default_factory=Counter)
    rejected: dict[str, list[str]] = field(default_factory=dict)
    rejected_without_reason: int = 0
    reason_mismatches: list[tuple[str, str, str]] = field(default_factory=list)
    retry: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    started: float = field(default_factory=time.perf_counter)
    finished: float | None = None

    def rejected_by_reason(self) -> Counter[str]:
        return Counter(reasons[0] if reasons else "no reason" for reasons in self.rejected.values())

    def accept(self, event_id: str) -> None:
        self.accepted[event_id] += 1
        self.retry.discard(event_id)

    def reject(self, key: str, reasons: list[str], expected: str | None = None) -> None:
        self.rejected[key] = reasons
        if not reasons:
            self.rejected_without_reason += 1
        elif expected is not None and expected not in reasons:
            self.reason_mismatches.append((key, expected, ",".join(reasons)))

    @property
    def seconds(self) -> float:
        return (self.finished or time.perf_counter()) - self.started


# ---------------------------------------------------------------------------- census
@dataclass(frozen=True, slots=True)
class DlqInfo:
    logical_id: str
    arn: str
    pipe: str | None  # the consumer (pipe logical id) it belongs to; None: upstream of every consumer


@dataclass
class Census:
    lake: Counter[str] = field(default_factory=Counter)
    lake_objects: int = 0
    bad: Counter[str] = field(default_factory=Counter)
    bad_objects: int = 0
    quarantine: Counter[str] = field(default_factory=Counter)
    stream: Counter[str] = field(default_factory=Counter)
    stream_records: int = 0
    dlq: dict[str, Counter[str]] = field(default_factory=dict)
    dlq_messages: Counter[str] = field(default_factory=Counter)
    dlq_unreadable: Counter[str] = field(default_factory=Counter)
    hydrated: dict[str, Counter[str]] = field(default_factory=dict)
    unrecoverable: Counter[str] = field(default_factory=Counter)
    unparsed: Counter[str] = field(default_factory=Counter)
    dlq_store: Counter[str] = field(default_factory=Counter)
    replayed: Counter[str] = field(default_factory=Counter)
    partner: Counter[str] = field(default_factory=Counter)
    partner_requests: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    dlq_scope: dict[str, str | None] = field(default_factory=dict)

    def dead_lettered(self, queue: str) -> set[str]:
        """Signals dead-lettered through ``queue`` (a DLQ's logical id): still in it, or hydrated into
        the DLQ store from it."""
        return set(self.dlq.get(queue, ())) | set(self.hydrated.get(queue, ()))

    def dead_lettered_for(self, pipe: str | None) -> set[str]:
        """Signals in the DLQs of one consumer's path (``None``: the DLQs upstream of every consumer)."""
        names = {name for name, scope in self.dlq_scope.items() if scope == pipe}
        return set().union(*(self.dead_lettered(name) for name in names))


def _bucket_env(functions: Iterable[FunctionSpec], suffix: str) -> list[tuple[FunctionSpec, str]]:
    return [
        (spec, value)
        for spec in functions
        for key, value in spec.environment.items()
        if key.endswith(suffix) and value
    ]


def dead_letter_queues(
    services: Services, functions: dict[str, FunctionSpec], pipes: list[PipeSpec]
) -> list[DlqInfo]:
    stack = services.stack
    found: dict[str, str | None] = {}
    for rule in stack.of_type("AWS::Events::Rule"):
        for target in rule.properties.get("Targets", []):
            if arn := (target.get("DeadLetterConfig") or {}).get("Arn"):
                found.setdefault(arn, None)
    for spec in functions.values():
        for arn in (spec.dead_letter_arn, spec.async_config.on_failure):
            if arn:
                found.setdefault(arn, None)
    for queue in stack.of_type("AWS::SQS::Queue"):
        redrive = queue.properties.get("RedrivePolicy") or {}
        if isinstance(redrive, dict) and redrive.get("deadLetterTargetArn"):
            found.setdefault(str(redrive["deadLetterTargetArn"]), None)
    for pipe in pipes:
        if pipe.dead_letter_arn:
            found[pipe.dead_letter_arn] = pipe.logical_id
    infos = []
    for arn, pipe_id in found.items():
        resource = stack.by_arn(arn)
        infos.append(DlqInfo(resource.logical_id if resource else arn, arn, pipe_id))
    return infos


class StoreReader:
    """Readers of every store, each returning event_id counts."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def objects(self, bucket: str, prefix: str) -> list[tuple[str, bytes]]:
        s3 = self.services.client("s3")
        keys = [
            item["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        ]
        return [(key, s3.get_object(Bucket=bucket, Key=key)["Body"].read()) for key in keys]

    @staticmethod
    def document_ids(key: str, body: bytes) -> list[str]:
        if key.endswith(".gz") or body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        ids: list[str] = []
        for line in body.splitlines():
            if line.strip():
                ids.extend(event_ids(codec.loads(line)))
        return ids

    def peek_queue(self, arn: str) -> list[dict[str, Any]]:
        """Every message of the queue, left in it (received, then made visible again)."""
        sqs = self.services.client("sqs")
        url = self.services.queue_url(arn)
        messages: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60, MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not batch:
                break
            messages.extend(batch)
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            sqs.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(chunk)
                ],
            )
        return messages

    def stream_range(self, info: dict[str, Any]) -> list[str] | None:
        """The signals of the records a Pipe DLQ message points at, read back from the stream."""
        kinesis = self.services.client("kinesis")
        stream_name = str(info["streamArn"]).rsplit("/", 1)[-1]
        start, end = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
        iterator = kinesis.get_shard_iterator(
            StreamName=stream_name,
            ShardId=info["shardId"],
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=info["startSequenceNumber"],
        )["ShardIterator"]
        ids: list[str] = []
        first = True
        while iterator:
            answer = kinesis.get_records(ShardIterator=iterator, Limit=1000)
            records = answer.get("Records", [])
            if not records:
                return None  # the range is no longer (fully) in the stream: unrecoverable
            for record in records:
                sequence = int(record["SequenceNumber"])
                if first and sequence != start:
                    return None
                first = False
                if sequence > end:
                    return ids
                ids.extend(
                    event_ids(
                        decode_text(bytes(record["Data"]).decode(errors="replace"), base64_encoded=False)
                    )
                )
                if sequence == end:
                    return ids
            iterator = answer.get("NextShardIterator")
        return None

    def whole_stream(self, stream_name: str) -> tuple[int, Counter[str]]:
        kinesis = self.services.client("kinesis")
        ids: Counter[str] = Counter()
        records = 0
        for shard in kinesis.list_shards(StreamName=stream_name)["Shards"]:
            iterator = kinesis.get_shard_iterator(
                StreamName=stream_name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while iterator:
                answer = kinesis.get_records(ShardIterator=iterator, Limit=10000)
                batch = answer.get("Records", [])
                if not batch:
                    break
                records += len(batch)
                for record in batch:
                    ids.update(
                        event_ids(
                            decode_text(bytes(record["Data"]).decode(errors="replace"), base64_encoded=False)
                        )
                    )
                iterator = answer.get("NextShardIterator")
        return records, ids


def _lake(
    census: Census, read: StoreReader, functions: dict[str, FunctionSpec], pipes: list[PipeSpec]
) -> None:
    lake_functions = {pipe.target_arn for pipe in pipes if pipe.target_kind == "lambda"}
    for spec in functions.values():
        if spec.arn not in lake_functions or "LAKE_BUCKET_NAME" not in spec.environment:
            continue
        bucket = spec.environment["LAKE_BUCKET_NAME"]
        lake_prefix = spec.environment.get("LAKE_PREFIX", "events").strip("/") + "/"
        bad_prefix = spec.environment.get("BAD_PREFIX", "bad").strip("/") + "/"
        for key, body in read.objects(bucket, lake_prefix):
            census.lake_objects += 1
            census.lake.update(read.document_ids(key, body))
        for key, body in read.objects(bucket, bad_prefix):
            census.bad_objects += 1
            census.bad.update(read.document_ids(key, body))


def _quarantine(census: Census, read: StoreReader, functions: dict[str, FunctionSpec]) -> None:
    for _spec, bucket in _bucket_env(functions.values(), "QUARANTINE_BUCKET_NAME"):
        for key, body in read.objects(bucket, "quarantine/"):
            census.quarantine.update(read.document_ids(key, body))


def _dlq_store(
    census: Census, read: StoreReader, functions: dict[str, FunctionSpec], queues: list[DlqInfo]
) -> None:
    """The DLQ store of a DLQ-hydrate function (a function whose name says DLQ or hydrate), by queue.

    Keys are ``<area>/<consumer>/...`` (``replayed/`` in front once replayed); the function's
    ``CONSUMER_BY_QUEUE`` (queue name -> consumer) ties a consumer back to its DLQ. ``unrecoverable``
    manifests hold no records: their signals stay counted as lost.
    """
    for spec, bucket in _bucket_env(functions.values(), "_BUCKET_NAME"):
        if "DLQ" not in spec.logical_id.upper() and "HYDRATE" not in spec.logical_id.upper():
            continue
        env = spec.environment
        queue_of = json.loads(env.get("CONSUMER_BY_QUEUE") or "{}")
        by_consumer = {
            consumer: info.logical_id
            for queue_name, consumer in queue_of.items()
            for info in queues
            if info.arn.rsplit(":", 1)[-1] == queue_name
        }
        unrecoverable, unparsed = (
            env.get("UNRECOVERABLE_PREFIX", "unrecoverable"),
            env.get("UNPARSED_PREFIX", "unparsed"),
        )
        for key, body in read.objects(bucket, ""):
            parts = key.split("/")
            replayed = parts[0] == "replayed"
            if replayed:
                parts = parts[1:]
            area = parts[0]
            consumer = parts[1] if len(parts) > 2 else ""
            queue = by_consumer.get(consumer)
            ids = read.document_ids(key, body)
            if replayed:
                census.replayed.update(ids)
            elif area == unrecoverable:
                census.unrecoverable[queue or consumer] += 1
            elif area == unparsed:  # kept whole; its DLQ is named inside (dlq.consumer)
                document = decode_text(body.decode(errors="replace"), base64_encoded=False)
                context = document.get("dlq") if isinstance(document, dict) else None
                queue = by_consumer.get(str(context.get("consumer"))) if isinstance(context, dict) else None
                census.unparsed[queue or "?"] += 1
                if queue is None:
                    census.dlq_store.update(ids)
                else:
                    census.hydrated.setdefault(queue, Counter()).update(ids)
            elif queue is not None:
                census.hydrated.setdefault(queue, Counter()).update(ids)
            else:
                census.dlq_store.update(ids)


def _dead_letters(census: Census, read: StoreReader, queues: list[DlqInfo], pipes: list[PipeSpec]) -> None:
    """Every DLQ's messages; a Pipe's message that was redriven into a shared queue (the hydrate's own
    DLQ) is counted for that Pipe's consumer only, by its ``context.partnerResourceArn``."""
    pipe_of = {pipe.arn: pipe.logical_id for pipe in pipes}
    for info in queues:
        found: Counter[str] = Counter()
        census.dlq_scope[info.logical_id] = info.pipe
        for message in read.peek_queue(info.arn):
            census.dlq_messages[info.logical_id] += 1
            body = decode_text(message["Body"], base64_encoded=False)
            batch_info = body.get("KinesisBatchInfo") if isinstance(body, dict) else None
            if batch_info is None:
                found.update(event_ids(body))
                continue
            ids = read.stream_range(batch_info)
            if ids is None:
                census.dlq_unreadable[info.logical_id] += 1
                continue
            owner = pipe_of.get(str((body.get("context") or {}).get("partnerResourceArn")))
            if info.pipe is None and owner is not None:
                name = f"{info.logical_id} ({owner})"
                census.dlq_scope[name] = owner
                census.dlq.setdefault(name, Counter()).update(ids)
            else:
                found.update(ids)
        census.dlq[info.logical_id] = found


def take_census(
    services: Services,
    functions: dict[str, FunctionSpec],
    pipes: list[PipeSpec],
    partner: PartnerStandIn | None,
) -> Census:
    census = Census()
    read = StoreReader(services)
    queues = dead_letter_queues(services, functions, pipes)
    _lake(census, read, functions, pipes)
    _quarantine(census, read, functions)
    _dead_letters(census, read, queues, pipes)
    _dlq_store(census, read, functions, queues)
    for stream in {pipe.stream_name for pipe in pipes}:
        records, ids = read.whole_stream(stream)
        census.stream_records += records
        census.stream.update(ids)
    if partner is not None:
        census.partner = partner.event_ids()
        census.partner_requests = len(partner.received)
    for dropped in services.dropped:
        census.dropped.update(event_ids(dropped.payload))
    return census


# ---------------------------------------------------------------------------- report
@dataclass(frozen=True, slots=True)
class ConsumerBalance:
    consumer: str
    sink: str
    accepted: int
    in_sink: int
    copies_in_sink: int
    in_dlq: int
    set_aside: int
    lost: tuple[str, ...]
    unexpected: tuple[str, ...]
    duplicated: tuple[str, ...]
    delivered_unconfirmed: int


def balance(ledger: Ledger, census: Census, pipes: list[PipeSpec]) -> list[ConsumerBalance]:
    accepted = set(ledger.accepted)
    upstream = census.dead_lettered_for(None)
    upstream |= set(census.quarantine) | set(census.dlq_store) | set(census.replayed)
    balances = []
    for pipe in pipes:
        own = census.dead_lettered_for(pipe.logical_id)
        if pipe.target_kind == "lambda":
            sink_name, sink, aside = "lake", census.lake, set(census.bad)
        else:
            sink_name, sink, aside = "partner", census.partner, set()
        in_sink = set(sink)
        dlq = (upstream | own) - in_sink
        lost = accepted - in_sink - dlq - aside
        balances.append(
            ConsumerBalance(
                consumer=pipe.logical_id,
                sink=sink_name,
                accepted=len(accepted),
                in_sink=len(in_sink & accepted),
                copies_in_sink=sum(sink.values()),
                in_dlq=len(dlq & accepted),
                set_aside=len(aside & accepted),
                lost=tuple(sorted(lost)),
                # Events the client was told to retry (and gave up on) may have got through anyway.
                unexpected=tuple(sorted(in_sink - accepted - ledger.retry)),
                delivered_unconfirmed=len(in_sink & ledger.retry),
                duplicated=tuple(sorted(event_id for event_id, copies in sink.items() if copies > 1)),
            )
        )
    return balances


@dataclass(frozen=True, slots=True)
class Report:
    ledger: Ledger
    census: Census
    balances: tuple[ConsumerBalance, ...]

    @property
    def lake(self) -> ConsumerBalance | None:
        return next((b for b in self.balances if b.sink == "lake"), None)

    @property
    def lost(self) -> int:
        return sum(len(b.lost) for b in self.balances)

    @property
    def unexpected(self) -> int:
        return sum(len(b.unexpected) for b in self.balances)

    @property
    def duplicates_suppressed(self) -> int:
        """Extra copies that existed upstream (client resends, redeliveries) but not in the lake."""
        accepted_extra = sum(self.ledger.accepted.values()) - len(self.ledger.accepted)
        stream_extra = sum(self.census.stream.values()) - len(self.census.stream)
        lake_extra = sum(self.census.lake.values()) - len(self.census.lake)
        return max(0, accepted_extra + stream_extra - lake_extra)

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.unexpected == 0
            and self.ledger.rejected_without_reason == 0
            and not self.census.dlq_unreadable
            and not self.census.dropped
        )

    def rows(self) -> list[tuple[str, str]]:
        ledger, census = self.ledger, self.census
        rows = [
            ("sent", f"{ledger.sent:,} events in {ledger.requests:,} requests ({ledger.resent:,} resent)"),
            (
                "accepted",
                f"{len(ledger.accepted):,} distinct ({sum(ledger.accepted.values()):,} acceptances)",
            ),
            (
                "rejected",
                f"{len(ledger.rejected):,}  "
                + ", ".join(f"{r} {n}" for r, n in ledger.rejected_by_reason().most_common()),
            ),
            ("  without a reason", f"{ledger.rejected_without_reason:,}"),
            ("still to retry", f"{len(ledger.retry):,}"),
            (
                "enriched (on the stream)",
                f"{len(census.stream):,} distinct in {census.stream_records:,} records",
            ),
            ("quarantined", f"{len(census.quarantine):,}"),
        ]
        for b in self.balances:
            objects = (
                f" in {census.lake_objects:,} objects"
                if b.sink == "lake"
                else f" in {census.partner_requests:,} requests"
            )
            rows.append(
                (f"{b.sink} ({b.consumer})", f"{b.in_sink:,} distinct ({b.copies_in_sink:,} rows){objects}")
            )
        rows.append(("bad records", f"{len(census.bad):,} signals in {census.bad_objects:,} objects"))
        for name, ids in census.dlq.items():
            scope = census.dlq_scope.get(name) or "all consumers"
            unread = f", {census.dlq_unreadable[name]} unreadable" if census.dlq_unreadable[name] else ""
            hydrated = len(census.hydrated.get(name, ()))
            stored = f", {hydrated:,} hydrated into the DLQ store" if hydrated else ""
            gone = f", {census.unrecoverable[name]} unrecoverable" if census.unrecoverable[name] else ""
            gone += f", {census.unparsed[name]} unparsed" if census.unparsed[name] else ""
            rows.append(
                (
                    f"DLQ {name}",
                    f"{census.dlq_messages[name]:,} messages, {len(ids):,} signals{stored}{gone}"
                    f" ({scope}){unread}",
                )
            )
        if census.dlq_store or census.replayed:
            rows.append(
                (
                    "DLQ store, other",
                    f"{len(census.dlq_store):,} signals ({census.unparsed['?']:,} unparsed messages of no "
                    f"known DLQ), {len(census.replayed):,} replayed",
                )
            )
        rows.append(("dropped by AWS rules", f"{len(census.dropped):,}"))
        rows.append(("duplicates suppressed", f"{self.duplicates_suppressed:,}"))
        for b in self.balances:
            rows.append((f"duplicates in {b.sink}", f"{len(b.duplicated):,}"))
            balance_text = (
                f"{len(b.lost):,}  = accepted {b.accepted:,} - {b.sink} {b.in_sink:,} - DLQ {b.in_dlq:,}"
                f" - set aside {b.set_aside:,}"
            )
            rows.append((f"LOST ({b.sink})", balance_text))
            rows.append((f"unexpected in {b.sink}", f"{len(b.unexpected):,}"))
            if b.delivered_unconfirmed:
                rows.append((f"  in {b.sink}, client told to retry", f"{b.delivered_unconfirmed:,}"))
        seconds = ledger.seconds
        rate = len(ledger.accepted) / seconds if seconds else 0.0
        rows.append(("time", f"{seconds:.1f} s, {rate:,.0f} accepted events per second"))
        return rows

    def render(self) -> str:
        width = max(len(label) for label, _ in self.rows())
        return "\n".join(f"  {label:<{width}}  {value}" for label, value in self.rows())
