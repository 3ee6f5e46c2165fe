"""After an incident, what docs/runbook.md has an operator do once the cause is fixed, run against the
local cloud:

1. the last-resort queues (a queue that is only ever a redrive target, e.g. the DLQ-hydrate's own
   DLQ) are moved back to the queues their messages came from (SQS StartMessageMoveTask), and the
   DLQ-hydrate stores them;
2. every consumer's objects in the DLQ store are replayed with the replay engine the operator's tool
   (``python -m tools.dlq``) runs (``dlq_replay``), each to its own target, with the settings an operator
   would pass: the partner over HTTP, the lake through the S3 writer's write path, a rule target's
   events back onto the bus of its rule, the front-door buffer's records back onto its stream;
3. the pipeline carries the replayed events to the end.

The no-loss property test runs this after every fault schedule: what was dead-lettered must then be
in the lake exactly once, like everything else.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from dlq_replay.engine import ReplaySettings, StoreSettings, replay_consumer, summary_lines
from dlq_replay.targets import (
    TARGET_BY_CONSUMER,
    BusTargetSettings,
    HttpTargetSettings,
    LakeTargetSettings,
    StreamTargetSettings,
    TargetSettings,
    api_key_from_secret,
    bus_of,
)
from localcloud.accounting import Report
from localcloud.cloud import LocalCloud
from s3_writer.settings import S3WriterSettings


@dataclass(frozen=True, slots=True)
class Recovery:
    moved: dict[str, int]  # last-resort queue (logical id) -> messages moved back
    stranded: dict[str, int]  # last-resort queue -> messages left there (source unknown)
    replays: dict[str, int]  # consumer -> the replay tool's exit status (0: all sent, none poison)
    output: str  # the replay summaries, as the replay tool prints them
    settled: bool

    @property
    def ok(self) -> bool:
        return self.settled and not any(self.stranded.values()) and not any(self.replays.values())

    def describe(self) -> str:
        moved = ", ".join(f"{queue} {count} moved back" for queue, count in self.moved.items() if count)
        replays = ", ".join(f"{consumer} exit {code}" for consumer, code in self.replays.items())
        return f"recovery: {moved or 'nothing to move back'}; replays: {replays or 'none'}"


def recover(cloud: LocalCloud) -> Recovery:
    """Clear the faults, move last-resort messages back, replay the DLQ store, and settle."""
    cloud.faults.clear()
    # The cause is fixed after the incident, not within it: every invocation of the incident has ended
    # (its leases and in-progress records have expired) before the operator replays anything.
    cloud.wait(max((spec.timeout for spec in cloud.functions.values()), default=0.0))
    moved, stranded = {}, {}
    for logical_id, arn in _last_resort_queues(cloud):
        moved[logical_id], stranded[logical_id] = cloud.services.move_messages_back(arn)
    settled = cloud.settle()
    hydrate = cloud.function_with_env("DLQ_STORE_BUCKET_NAME")
    store = StoreSettings(
        hydrate.environment["DLQ_STORE_BUCKET_NAME"], hydrate.environment.get("DLQ_PREFIX", "dlq")
    )
    replays, printed = {}, []
    for consumer in _stored_consumers(cloud, store.bucket, store.dlq_prefix):
        target = _target_settings(cloud, hydrate.environment, consumer)
        used, summary = replay_consumer(ReplaySettings(store, consumer, target))
        replays[consumer] = 0 if summary.ok else 1
        printed.extend(summary_lines(consumer, used, summary))
    settled = cloud.settle() and settled
    return Recovery(moved, stranded, replays, "".join(f"{line}\n" for line in printed), settled)


def undelivered(report: Report) -> list[str]:
    """What is still undone after a recovery: accepted events missing from a sink (a quarantined or
    bad record counts as missing: the recovery did not bring it back), DLQ messages and stored
    objects still waiting, objects no replay can send."""
    census, found = report.census, []
    accepted, aside = set(report.ledger.accepted), set(census.bad) | set(census.quarantine)
    sinks = {
        balance.sink: census.lake if balance.sink == "lake" else census.partner for balance in report.balances
    }
    for sink, signals in sinks.items():
        missing = accepted - set(signals)
        if missing:
            set_aside = f" ({len(missing & aside)} quarantined or bad records)" if missing & aside else ""
            found.append(f"{sink}: {len(missing)} accepted events missing after the replay{set_aside}")
    waiting = {name: len(ids) for name, ids in census.dlq.items() if ids}
    waiting.update({f"store ({name})": len(ids) for name, ids in census.hydrated.items() if ids})
    if waiting:
        found.append(f"still dead-lettered after the replay: {waiting}")
    left = +(census.unparsed + census.unrecoverable)
    if left:
        found.append(f"store objects the replay cannot send: {dict(left)}")
    return found


def _last_resort_queues(cloud: LocalCloud) -> Iterator[tuple[str, str]]:
    """Queues named as another queue's redrive DLQ (nothing consumes them: a human moves them back)."""
    queues = cloud.stack.of_type("AWS::SQS::Queue")
    targets = set()
    for queue in queues:
        policy = cloud.services.queue_attributes(queue.ref).get("RedrivePolicy")
        if policy:
            targets.add(str(json.loads(policy)["deadLetterTargetArn"]))
    yield from ((queue.logical_id, queue.arn) for queue in queues if queue.arn in targets)


def _stored_consumers(cloud: LocalCloud, bucket: str, prefix: str) -> list[str]:
    answer = cloud.services.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/", Delimiter="/")
    return sorted(entry["Prefix"][len(prefix) + 1 :].strip("/") for entry in answer.get("CommonPrefixes", []))


class RecoveryError(Exception):
    """The DLQ store holds records the recovery cannot name a target for."""


def _target_settings(cloud: LocalCloud, environment: Mapping[str, str], consumer: str) -> TargetSettings:
    """The replay target for ``consumer``, as an operator would name it on the command line."""
    kind = TARGET_BY_CONSUMER.get(consumer)
    if kind == "http":
        if cloud.partner is None:
            raise RecoveryError(f"{consumer!r} records are stored, but this cloud runs no partner")
        secret = str(cloud.loaded.parameters.get("PartnerApiKeySecretName", ""))
        return HttpTargetSettings(cloud.partner.url, api_key_from_secret(secret) if secret else None)
    if kind == "lake":  # the S3 writer's own settings, from its template environment
        writer = cloud.function_with_env("LAKE_BUCKET_NAME")
        return LakeTargetSettings(S3WriterSettings.from_env(writer.environment))
    if kind == "bus":  # the bus of the rule that failed: in each message's RULE_ARN
        return BusTargetSettings()
    if kind == "stream":  # the stream each record came from: in the stored record
        return StreamTargetSettings()
    bus, region = _bus_of_failed_function(cloud, environment, consumer)
    return BusTargetSettings(bus=bus, region=region)


def _bus_of_failed_function(
    cloud: LocalCloud, environment: Mapping[str, str], consumer: str
) -> tuple[str, str]:
    """A Lambda async failure record holds the event the function got: it goes back onto the bus of
    the rule that invokes the function whose OnFailure destination is this consumer's queue."""
    consumers = json.loads(environment.get("CONSUMER_BY_QUEUE", "{}"))
    queue_name = next((name for name, named in consumers.items() if named == consumer), None)
    function = next(
        (
            spec
            for spec in cloud.functions.values()
            if queue_name and (spec.async_config.on_failure or "").rsplit(":", 1)[-1] == queue_name
        ),
        None,
    )
    rule = next(
        (target for target in cloud.eventbridge.targets if function and target.arn == function.arn), None
    )
    if rule is None:
        raise RecoveryError(
            f"no target for {consumer!r}: not the OnFailure queue of a function a rule invokes "
            f"(CONSUMER_BY_QUEUE names queue {queue_name!r})"
        )
    region, bus = bus_of(rule.rule_arn)
    return bus, region
