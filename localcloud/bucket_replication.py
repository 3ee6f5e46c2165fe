"""S3 Cross-Region Replication of one Region's buckets (their ``ReplicationConfiguration``: the
primary's; with active-active the secondary's too, one instance each) into the replica buckets of the
other Region, which moto does not perform, with the replication metrics S3 publishes for each rule.

As the S3 user guide ("Monitoring progress with replication metrics") describes them, per rule
(dimensions ``SourceBucket``, ``DestinationBucket``, ``RuleId``), minute by minute, when the rule has
``Metrics`` (or ``ReplicationTime``) enabled:

- ``ReplicationLatency``: "the maximum number of seconds by which the replication destination buckets
  are behind the source bucket for a given replication rule";
- ``OperationsPendingReplication``: "the number of operations pending replication for a given
  replication rule";
- ``BytesPendingReplication``: "the total number of bytes of objects pending replication for a given
  replication rule";
- ``OperationsFailedReplication``: "the total number of operations that failed replication" (reported
  when one fails).

What happens to an object version written to a source bucket (seen in moto's S3 backend, whoever
writes it):

- its copy is due ``lag`` seconds later; while the source's or the destination's Region is down it
  stays pending (S3 keeps retrying), so the latency grows;
- a destination bucket that does not exist (deleted, or never created by the other Region's stack)
  fails it for good: S3 marks the version FAILED and does not retry it (S3 Batch Replication replays
  those, docs/runbook.md#replication-catch-up); it is kept in ``failed``;
- otherwise the version is copied into the destination bucket, encrypted with the rule's
  ``ReplicaKmsKeyID``. Deletes are not replicated (``DeleteMarkerReplication: Disabled``).

The gauges are reported, each minute something was pending and once more when it drained, before the
local CloudWatch reads its metrics (``Services.reporters``), so a clock that jumped still sees every
minute it jumped over.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

from localcloud.due_queue import DueQueue
from localcloud.faults import Faults
from localcloud.provision import Stack
from localcloud.services import Services

DEFAULT_LAG: Final = 5.0
RETRY_SECONDS: Final = 60.0
MINUTE: Final = 60.0


@dataclass(frozen=True, slots=True)
class ReplicationRule:
    source_bucket: str
    rule_id: str
    prefix: str
    destination_bucket: str
    replica_key: str | None
    metrics: bool  # replication metrics published (Metrics or ReplicationTime enabled)

    @property
    def dimensions(self) -> dict[str, str]:
        return {
            "SourceBucket": self.source_bucket,
            "DestinationBucket": self.destination_bucket,
            "RuleId": self.rule_id,
        }

    @classmethod
    def of_stack(cls, stack: Stack) -> list[ReplicationRule]:
        rules = []
        for bucket in stack.of_type("AWS::S3::Bucket"):
            configuration = bucket.properties.get("ReplicationConfiguration") or {}
            for rule in configuration.get("Rules") or []:
                if rule.get("Status") != "Enabled":
                    continue
                destination = rule["Destination"]
                enabled = {
                    (destination.get(part) or {}).get("Status") == "Enabled"
                    for part in ("Metrics", "ReplicationTime")
                }
                rules.append(
                    cls(
                        source_bucket=str(bucket.ref),
                        rule_id=str(rule.get("Id", "")),
                        prefix=str((rule.get("Filter") or {}).get("Prefix", rule.get("Prefix", ""))),
                        destination_bucket=str(destination["Bucket"]).rsplit(":", 1)[-1],
                        replica_key=(destination.get("EncryptionConfiguration") or {}).get("ReplicaKmsKeyID"),
                        metrics=True in enabled,
                    )
                )
        return rules


@dataclass
class _Version:
    rule: ReplicationRule
    key: str
    version_id: str
    size: int
    written: float
    done: float | None = None  # replicated or failed at
    due: float = 0.0  # DueQueue sets it


class BucketReplication:
    """The replication of every rule of the source Region's buckets (an ``Emulator``)."""

    def __init__(
        self,
        source: str,
        destination: str,
        services: Mapping[str, Services],  # by Region
        faults: Faults,
        *,
        lag: float = DEFAULT_LAG,
    ) -> None:
        self.source = source
        self.destination = destination
        self._services = services
        self._faults = faults
        self._lag = lag
        self._clock = services[source].clock
        self.rules = ReplicationRule.of_stack(services[source].stack)
        self._queue: DueQueue[_Version] = DueQueue()
        self._settled: list[_Version] = []  # done since the last report
        self._reported: float | None = None  # the last minute reported
        self._was_pending = False
        self.replicated: list[_Version] = []
        self.failed: list[_Version] = []
        services[source].reporters.append(self.report)

    # ------------------------------------------------------------------ seeing writes
    @contextmanager
    def watching(self) -> Iterator[None]:
        """While active, every object version written to a source bucket is queued for replication."""
        from moto.s3.models import S3Backend  # noqa: PLC0415

        original = S3Backend.put_object
        replication = self

        def put_object(backend: Any, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
            stored = original(backend, bucket_name, key_name, *args, **kwargs)
            replication.note(bucket_name, key_name, str(stored.version_id), int(stored.size))
            return stored

        S3Backend.put_object = put_object  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            S3Backend.put_object = original  # type: ignore[method-assign]

    def note(self, bucket: str, key: str, version_id: str, size: int) -> None:
        now = self._clock.now()
        for rule in self.rules:
            if rule.source_bucket == bucket and key.startswith(rule.prefix):
                self._queue.push(_Version(rule, key, version_id, size, now), now + self._lag)
                return  # one rule per version: the template's rules have distinct buckets

    def reset(self) -> None:
        """After ``LocalCloud.reset``: nothing in flight, nothing recorded."""
        self._queue.clear()
        self._settled.clear()
        self.replicated.clear()
        self.failed.clear()
        self._was_pending = False

    # ------------------------------------------------------------------ the emulator protocol
    def pending(self) -> int:
        return len(self._queue)

    def next_due(self) -> float | None:
        return self._queue.next_due()

    def pump(self) -> int:
        """Replicate what is due, each at its due time (the clock may have jumped past it)."""
        now = self._clock.now()
        work = 0
        for version in self._queue.take(now):
            work += 1
            if self._faults.region_down(self.source) or self._faults.region_down(self.destination):
                self._queue.push(version, version.due + RETRY_SECONDS)
                continue
            version.done = version.due
            if self._copy(version):
                self.replicated.append(version)
            else:
                self.failed.append(version)
                if version.rule.metrics:
                    self._emit(version.rule, "OperationsFailedReplication", 1.0, version.due)
            self._settled.append(version)
        return work

    def _copy(self, version: _Version) -> bool:
        """The version written into the destination bucket; False when that bucket does not exist."""
        from moto.s3.exceptions import MissingBucket  # noqa: PLC0415
        from moto.s3.models import s3_backends  # noqa: PLC0415

        source = self._services[self.source].stack
        backend = s3_backends[source.account_id]["aws"]  # S3 is one namespace over the Regions
        try:
            backend.get_bucket(version.rule.destination_bucket)
        except MissingBucket:
            return False
        stored = backend.get_object(version.rule.source_bucket, version.key, version_id=version.version_id)
        if stored is None:  # the version was removed before its turn (a permanent delete)
            return True
        backend.put_object(
            version.rule.destination_bucket,
            version.key,
            stored.value,
            encryption="aws:kms" if version.rule.replica_key else None,
            kms_key_id=version.rule.replica_key,
        )
        return True

    # ------------------------------------------------------------------ metrics
    def report(self, now: float) -> None:
        """The per-minute gauges of every minute up to ``now`` (``Services.reporters``)."""
        self.pump()
        last = math.floor(now / MINUTE) * MINUTE
        minute = last if self._reported is None else self._reported + MINUTE
        while minute <= last:
            if not self._queue and not self._settled and not self._was_pending:
                break  # nothing pending then or since: S3 has nothing to report
            self._report_minute(minute)
            minute += MINUTE
        self._reported = last
        self._settled = [version for version in self._settled if (version.done or 0.0) > last]

    def _report_minute(self, minute: float) -> None:
        pending = [
            version
            for version in (*self._queue, *self._settled)
            if version.written <= minute and (version.done is None or version.done > minute)
        ]
        for rule in self.rules:
            if not rule.metrics:
                continue
            mine = [version for version in pending if version.rule == rule]
            behind = max((minute - version.written for version in mine), default=0.0)
            self._emit(rule, "ReplicationLatency", behind, minute)
            self._emit(rule, "OperationsPendingReplication", float(len(mine)), minute)
            self._emit(rule, "BytesPendingReplication", float(sum(v.size for v in mine)), minute)
        self._was_pending = bool(pending)

    def _emit(self, rule: ReplicationRule, name: str, value: float, at: float) -> None:
        self._services[self.source].emit("AWS/S3", name, rule.dimensions, value, at=at)
