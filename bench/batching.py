"""3. EventBridge entries and PutEvents calls per accepted event, batched and unbatched, one type or mixed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bench import harness, report
from bench.events import PAGE_VIEW, EventFactory, EventKind, sample_kinds
from bench.pipeline import accepted_answer
from bench.report import Check
from bench.timing import Timing, measure
from signal_platform.schema_registry import SchemaRegistry

EVENTS_PER_REQUEST: Final = 100
DEFAULT_SIGNALS_PER_ENTRY: Final = 50
MIXED_TYPES: Final = 5


@dataclass(frozen=True, slots=True)
class Scenario:
    label: str
    kinds: list[EventKind]
    signals_per_entry: int


@dataclass(frozen=True, slots=True)
class Outcome:
    scenario: Scenario
    accepted: int
    entries: int
    calls: int
    largest_entry: int
    cpu: Timing

    @property
    def entries_per_event(self) -> float:
        return self.entries / self.accepted

    @property
    def calls_per_event(self) -> float:
        return self.calls / self.accepted


def _scenarios(kinds: list[EventKind]) -> list[Scenario]:
    mixed = f"{len(kinds)} types interleaved"
    return [
        Scenario("page_view only", [PAGE_VIEW], DEFAULT_SIGNALS_PER_ENTRY),
        Scenario("page_view only", [PAGE_VIEW], 1),
        Scenario(mixed, kinds, DEFAULT_SIGNALS_PER_ENTRY),
        Scenario(mixed, kinds, 1),
    ]


def _play(scenario: Scenario, registry: SchemaRegistry, factory: EventFactory) -> Outcome:
    rig = harness.rig(registry, max_signals_per_entry=scenario.signals_per_entry)
    request = rig.request(factory.events(scenario.kinds, EVENTS_PER_REQUEST))
    rig.bus.reset()
    answer = accepted_answer(rig, request, EVENTS_PER_REQUEST)
    if (answer.bus_entries, answer.put_events_calls) != (rig.bus.entries, rig.bus.calls):
        raise RuntimeError("the answer's counts disagree with what the fake bus received")
    return Outcome(
        scenario=scenario,
        accepted=answer.counts.accepted,
        entries=rig.bus.entries,
        calls=rig.bus.calls,
        largest_entry=rig.bus.largest_entry,
        cpu=measure(lambda: rig.handle(request)).per(EVENTS_PER_REQUEST),
    )


def _row(outcome: Outcome, unbatched: Outcome, reference: Outcome) -> tuple[str, ...]:
    return (
        outcome.scenario.label,
        str(outcome.scenario.signals_per_entry),
        str(outcome.accepted),
        str(outcome.entries),
        str(outcome.calls),
        f"{outcome.entries_per_event:.3f}",
        f"{outcome.calls_per_event:.3f}",
        f"{outcome.entries / unbatched.entries:.3f}x",
        f"{outcome.largest_entry / 1024:,.1f}",
        report.us(outcome.cpu.best_ns),
        report.ratio(outcome.cpu.best_ns, reference.cpu.best_ns),
    )


def _checks(batched: Outcome, unbatched: Outcome) -> list[Check]:
    return [
        Check(
            f"{DEFAULT_SIGNALS_PER_ENTRY}/entry: <= 0.02 entries and <= 0.01 calls per event",
            f"{batched.entries_per_event:.3f} entries, {batched.calls_per_event:.3f} calls",
            batched.entries_per_event <= 0.02 and batched.calls_per_event <= 0.01,
        ),
        Check(
            "1/entry: exactly 1 entry and 0.1 calls per event",
            f"{unbatched.entries_per_event:.3f} entries, {unbatched.calls_per_event:.3f} calls",
            unbatched.entries == unbatched.accepted and unbatched.calls * 10 == unbatched.accepted,
        ),
    ]


def run() -> list[Check]:
    registry, factory = SchemaRegistry(), EventFactory()
    kinds = sample_kinds(registry, factory, MIXED_TYPES)
    report.title(f"3. EventBridge entries and PutEvents calls, {EVENTS_PER_REQUEST} ~1 KB events per request")
    outcomes = [_play(scenario, registry, factory) for scenario in _scenarios(kinds)]
    by_scenario = {(o.scenario.label, o.scenario.signals_per_entry): o for o in outcomes}
    report.table(
        (
            "request",
            "max signals/entry",
            "accepted",
            "entries",
            "calls",
            "entries/event",
            "calls/event",
            "entries vs 1/entry",
            "largest entry KB",
            "us/event",
            "CPU vs row 1",
        ),
        [_row(o, by_scenario[(o.scenario.label, 1)], outcomes[0]) for o in outcomes],
    )
    report.note("types mixed: " + ", ".join(f"{kind.event_type} {kind.version}" for kind in kinds))
    report.note("a batch holds one (event type, source): mixing multiplies entries by the number of types")
    return _checks(outcomes[0], outcomes[1])
