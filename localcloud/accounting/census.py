"""Where every signal is, found from the template: the lake and its bad records, the quarantine, every
DLQ, the DLQ store, the stream, the partner and what AWS itself would have dropped (see the package
docstring for where each store is found)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from localcloud.accounting.stores import StoreReader
from localcloud.partner import PartnerStandIn
from localcloud.pipes import PipeSpec
from localcloud.runtime import FunctionSpec
from localcloud.services import Services
from localcloud.signals import decode_text, event_ids


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


def _mapping_destinations(services: Services) -> Iterator[str]:
    """The OnFailure destinations of the stack's event source mappings (a stream mapping's, such as
    the batcher's BufferDlq: on-failure records pointing at records that aged out, or that the
    batcher set aside as not signal batches)."""
    for mapping in services.stack.of_type("AWS::Lambda::EventSourceMapping"):
        on_failure = (mapping.properties.get("DestinationConfig") or {}).get("OnFailure") or {}
        if on_failure.get("Destination"):
            yield str(on_failure["Destination"])


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
    for arn in _mapping_destinations(services):
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
