"""EventBridge Scheduler: the template's ``AWS::Scheduler::Schedule`` resources with a ``rate(...)``
expression and an event bus target (the global endpoint's heartbeat), run on the cloud's clock.

Each tick puts one event on the target bus (``EventBridgeParameters`` Source and DetailType, the
``Input`` with ``<aws.scheduler.scheduled-time>`` filled in), as the schedule's role would. A schedule
in a Region that is down (``RegionOutage``) puts nothing: the Scheduler of that Region is down too.

Lazy, like the local CloudWatch: ``pump`` fires the tick that is due and ``next_due`` is None, so a
settled cloud stays settled. A tick the clock jumped over is not fired late: the template's
schedules carry ``MaximumEventAgeInSeconds: 60`` and a heartbeat is worth nothing after its minute.
A driver that needs every heartbeat (the Region-outage drill) advances the clock in steps shorter
than the rate.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from localcloud.provision import Resource
from localcloud.services import Services

log = logging.getLogger("localcloud")

_UNITS: Final = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float:
    """``rate(1 minute)``, ``rate(5 minutes)`` in seconds."""
    value, unit = expression.strip().removeprefix("rate(").removesuffix(")").split()
    return float(value) * _UNITS[unit.rstrip("s")]


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    name: str
    every: float
    bus_arn: str
    source: str
    detail_type: str
    input: str

    @classmethod
    def of(cls, schedule: Resource) -> ScheduleSpec | None:
        """The schedule, if it is one this emulator runs (enabled, a rate, an event bus target)."""
        props = schedule.properties
        target = props.get("Target") or {}
        expression = str(props.get("ScheduleExpression", ""))
        if props.get("State", "ENABLED") != "ENABLED" or ":event-bus/" not in str(target.get("Arn", "")):
            return None
        if not expression.startswith("rate("):
            log.warning("not emulated locally: schedule %s (%s)", schedule.logical_id, expression)
            return None
        parameters = target.get("EventBridgeParameters") or {}
        return cls(
            name=str(schedule.ref),
            every=rate_seconds(expression),
            bus_arn=str(target["Arn"]),
            source=str(parameters.get("Source", "aws.scheduler")),
            detail_type=str(parameters.get("DetailType", "Scheduled Event")),
            input=str(target.get("Input", "{}")),
        )


class Scheduler:
    """Every emulated schedule of one Region (an ``Emulator``; lazy: ``next_due`` is None)."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self.schedules = [
            spec
            for schedule in services.stack.of_type("AWS::Scheduler::Schedule")
            if (spec := ScheduleSpec.of(schedule)) is not None
        ]
        self._fired: dict[str, float] = {}
        self.fired: list[tuple[str, float]] = []  # (schedule, scheduled time) of every event put

    def pump(self) -> int:
        now = self._services.clock.now()
        for spec in self.schedules:
            tick = math.floor(now / spec.every) * spec.every
            if self._fired.get(spec.name) == tick:
                continue
            self._fired[spec.name] = tick
            if not self._services.faults.region_down(self._services.region):
                self._put(spec, tick)
        return 0  # a heartbeat is not work that should keep the cloud busy

    def next_due(self) -> None:
        return None

    def _put(self, spec: ScheduleSpec, tick: float) -> None:
        scheduled = datetime.fromtimestamp(tick, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        detail = spec.input.replace("<aws.scheduler.scheduled-time>", scheduled)
        json.loads(detail)  # a template whose Input is not JSON fails here, not silently in moto
        entry: dict[str, Any] = {
            "Source": spec.source,
            "DetailType": spec.detail_type,
            "Detail": detail,
            "EventBusName": spec.bus_arn.rsplit("/", 1)[-1],
        }
        self._services.client("events").put_events(Entries=[entry])
        self.fired.append((spec.name, tick))
