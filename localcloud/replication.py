"""Event replication of a global endpoint (``ReplicationConfig.State: ENABLED``), as AWS documents it:
"Event replication sends all custom events to the event buses in the primary and secondary Regions
using managed rules."

- **Managed rules**: one rule named ``GlobalEndpointManagedRule-<id>`` on each of the two buses
  (created in moto, so ListRules shows them), matching every event of the account. Their target,
  the other Region's bus, is delivered here rather than by moto, so that lag, outages and the retry
  window apply. Replayed events are not replicated (AWS does not document that they are; the
  template forwards the secondary's replays itself with ``ArchiveReplayForwardRule``).
- **The copy**: the event as it was, with ``region`` kept as the Region it came from (AWS: "the
  region field of replicated events is the Region the event was replicated from"), the endpoint's
  ARN added to ``resources``, and a new ``id`` (AWS: event IDs can change across API calls; consumers
  key on their own immutable id). A copy is never replicated again.
- **Timing**: a copy arrives ``lag`` seconds after its event (a ``ReplicationLag`` fault sets
  another); while either Region is down it is retried with exponential backoff, for 24 hours
  (AWS: EventBridge retries replication for up to 24 hours). After that it is given up
  (``expired``): the event is still in the archive of the Region it entered, where ``tools.replay``
  finds it.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from localcloud.due_queue import DueQueue
from localcloud.faults import Faults
from localcloud.global_endpoint import EndpointSpec
from localcloud.services import Services, backoff
from localcloud.signals import event_ids

MANAGED_RULE_PREFIX: Final = "GlobalEndpointManagedRule-"
REPLICATION_WINDOW: Final = 24 * 3600.0
DEFAULT_LAG: Final = 1.0
RETRY_BASE_SECONDS: Final = 1.0
RETRY_CAP_SECONDS: Final = 300.0


@dataclass
class _Copy:
    source: str
    destination: str
    event: dict[str, Any]
    first_attempt: float
    attempts: int = 0
    quiet: bool = False  # a heartbeat's copy: keeps no one waiting
    due: float = 0.0  # DueQueue sets it


@dataclass(frozen=True, slots=True)
class Replicated:
    source: str
    destination: str
    original_id: str  # the event's id on the source bus
    event: dict[str, Any]  # the copy as it was put on the destination bus
    at: float


class Replication:
    """The managed rules' deliveries between the two Regions (an ``Emulator``)."""

    def __init__(
        self,
        spec: EndpointSpec,
        services: Mapping[str, Services],  # by Region: the primary's and the secondary's
        faults: Faults,
        *,
        lag: float = DEFAULT_LAG,
        quiet_sources: frozenset[str] = frozenset(),
    ) -> None:
        self.spec = spec
        # Sources of events that keep no one waiting (the schedules' heartbeats): their copies are
        # delivered when due, but ``next_due`` does not count them, as the lazy Scheduler does not
        # count its ticks; a copy of each tick a lag later would otherwise keep a settling cloud busy.
        self._quiet_sources = quiet_sources
        self._services = services
        self._faults = faults
        self._lag = lag
        first = next(iter(services.values()))
        self._clock = first.clock
        self._rng = first.rng
        self._queue: DueQueue[_Copy] = DueQueue()
        self.rule_name = f"{MANAGED_RULE_PREFIX}{spec.endpoint_id.split('.')[0]}"
        self.replicated: list[Replicated] = []
        self.expired: list[_Copy] = []

    # ------------------------------------------------------------------ managed rules
    def install(self) -> dict[str, tuple[str, Callable[[dict[str, Any]], None]]]:
        """Create the managed rule on both buses; (rule ARN, tap) per Region, for its EventBridge."""
        taps = {}
        pattern = {"account": [next(iter(self._services.values())).stack.account_id]}
        pattern["replay-name"] = [{"exists": False}]  # type: ignore[list-item]
        for region, services in self._services.items():
            answer = services.client("events").put_rule(
                Name=self.rule_name,
                EventBusName=self.spec.bus_name,
                EventPattern=json.dumps(pattern),
                State="ENABLED",
                Description=f"Replication of global endpoint {self.spec.endpoint_id} (emulated delivery)",
            )
            taps[region] = (str(answer["RuleArn"]), self._tap(region))
        return taps

    def _tap(self, source: str) -> Callable[[dict[str, Any]], None]:
        destination = next(region for region in self._services if region != source)

        def tap(event: dict[str, Any]) -> None:
            if self.spec.arn in event.get("resources", []):
                return  # a copy: never replicated again
            now = self._clock.now()
            copied = _Copy(source, destination, event, now, quiet=event.get("source") in self._quiet_sources)
            self._queue.push(copied, now + self._faults.replication_lag(self._lag))

        return tap

    def reset(self) -> None:
        """After ``LocalCloud.reset``: nothing in flight, nothing recorded."""
        self._queue.clear()
        self.replicated.clear()
        self.expired.clear()

    def given_up(self, destination: str) -> set[str]:
        """The signals (event_ids) of the copies for ``destination`` given up after the window: only
        the archive of the Region they entered still holds them, until a replay."""
        return {
            event_id
            for item in self.expired
            if item.destination == destination
            for event_id in event_ids(item.event)
        }

    # ------------------------------------------------------------------ the emulator protocol
    def pending(self) -> int:
        return len(self._queue)

    def next_due(self) -> float | None:
        return min((item.due for item in self._queue if not item.quiet), default=None)

    def pump(self) -> int:
        now = self._clock.now()
        work = 0
        for item in self._queue.take(now):
            work += 1
            if self._faults.region_down(item.source) or self._faults.region_down(item.destination):
                item.attempts += 1
                if now - item.first_attempt >= REPLICATION_WINDOW:
                    self.expired.append(item)
                    continue
                delay = backoff(item.attempts, base=RETRY_BASE_SECONDS, cap=RETRY_CAP_SECONDS, rng=self._rng)
                # The retries in between would fail too: the next one that matters is the first after
                # both Regions are back, or the last one of the window.
                back = self._faults.down_until(item.source, item.destination)
                self._queue.push(item, max(now + delay, min(back, item.first_attempt + REPLICATION_WINDOW)))
                continue
            self._deliver(item, now)
        return work

    def _deliver(self, item: _Copy, now: float) -> None:
        """Put the copy on the destination bus: its rules (and archive) see it as moto's PutEvents
        would show it, with the source Region kept in ``region``."""
        from moto.events.models import events_backends  # noqa: PLC0415

        services = self._services[item.destination]
        copied = copy.deepcopy(item.event)
        copied["id"] = str(uuid.uuid4())
        copied["resources"] = [*copied.get("resources", []), self.spec.arn]
        moto_event = {**copied, "time": _epoch(copied.get("time")), "ingestion-time": now}
        backend = events_backends[services.stack.account_id][item.destination]
        bus = backend.describe_event_bus(self.spec.bus_name)
        for rule in list(bus.rules.values()):
            rule.send_to_targets(copy.deepcopy(moto_event))  # type: ignore[arg-type]
        self.replicated.append(
            Replicated(item.source, item.destination, str(item.event.get("id")), copied, now)
        )


def _epoch(value: Any) -> float:
    """An event's ``time`` (``2026-12-06T10:00:00Z``) as moto keeps it (epoch seconds)."""
    if isinstance(value, int | float):
        return float(value)
    return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
