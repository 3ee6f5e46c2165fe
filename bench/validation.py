"""1. Schema validation of one ~1 KB page_view event: the registry against jsonschema and fastjsonschema."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

import fastjsonschema
import jsonschema
import jsonschema_rs

from bench import report
from bench.baselines import combined_schema
from bench.events import PAGE_VIEW, EventFactory, event_size, with_schema_errors
from bench.report import Check
from bench.timing import Timing, measure
from signal_platform.schema_registry import SchemaRegistry

TARGET_VALID_NS: Final = 2_000

Event = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Contender:
    """A way to validate an event; ``check`` returns how many errors it reports (0: valid)."""

    name: str
    check: Callable[[Event], int]


def _registry_check(registry: SchemaRegistry) -> Callable[[Event], int]:
    """What ``EventJudge`` does: the fast ``is_valid``, the full error list only on failure."""

    def check(event: Event) -> int:
        return 0 if registry.is_valid(event) else len(registry.errors(event))

    return check


def _first_error(validate: Callable[[Event], object], error: type[Exception]) -> Callable[[Event], int]:
    """For validators that raise on the first (or best-match) error: 1 error at most."""

    def check(event: Event) -> int:
        try:
            validate(event)
        except error:
            return 1
        return 0

    return check


def _all_errors(validator: Any) -> Callable[[Event], int]:
    """For compiled validators with ``is_valid`` and ``iter_errors``, used the registry's way."""

    def check(event: Event) -> int:
        return 0 if validator.is_valid(event) else sum(1 for _ in validator.iter_errors(event))

    return check


def contenders(registry: SchemaRegistry) -> list[Contender]:
    """The baseline (naive ``jsonschema.validate``) first, then the compiled alternatives and ours."""
    schema = combined_schema(registry, PAGE_VIEW.event_type, PAGE_VIEW.version)
    draft7 = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    # The Rust validator without the registry around it: the registry's own overhead, and a check
    # that the rebuilt schema is the registry's (same verdicts, same error counts).
    rust = jsonschema_rs.Draft7Validator(schema, validate_formats=True, offline=True)
    return [
        Contender(
            "jsonschema.validate per event (baseline)",
            _first_error(partial(jsonschema.validate, schema=schema), jsonschema.ValidationError),
        ),
        Contender("jsonschema Draft7Validator, compiled", _all_errors(draft7)),
        Contender(
            "fastjsonschema.compile",
            _first_error(fastjsonschema.compile(schema), fastjsonschema.JsonSchemaValueException),
        ),
        Contender("jsonschema_rs direct, same schema", _all_errors(rust)),
        Contender("SchemaRegistry (jsonschema_rs)", _registry_check(registry)),
    ]


def _path_table(label: str, event: Event, runners: list[Contender]) -> dict[str, Timing]:
    report.title(f"1. Validation, {label}: {event_size(event)}-byte page_view event (orjson size)")
    timings = {runner.name: measure(partial(runner.check, event)) for runner in runners}
    baseline = timings[runners[0].name]
    rows = [
        (
            runner.name,
            report.us(timings[runner.name].best_ns),
            report.us(timings[runner.name].median_ns),
            str(runner.check(event)),
            report.ratio(timings[runner.name].best_ns, baseline.best_ns),
        )
        for runner in runners
    ]
    report.table(("validator", "best us", "median us", "errors", "vs baseline (best)"), rows)
    return timings


def run() -> list[Check]:
    registry = SchemaRegistry()
    valid = EventFactory().event()
    invalid, expected_errors = with_schema_errors(valid)
    runners = contenders(registry)
    ours = runners[-1].name
    valid_timings = _path_table("valid path", valid, runners)
    _path_table(f"invalid path ({expected_errors} schema errors)", invalid, runners)
    report.note("registry invalid path = is_valid + errors(), exactly as EventJudge does it")
    report.note("jsonschema.validate raises one (best-match) error; fastjsonschema stops at the first")
    report.note("jsonschema checks formats only where a checker is installed (no rfc3987: 'uri' unchecked)")
    best = valid_timings[ours]
    return [
        Check(
            f"registry is_valid, valid {event_size(valid)} B event <= {report.us(TARGET_VALID_NS)} us",
            f"{report.us(best.best_ns)} us best, {report.us(best.median_ns)} us median",
            best.best_ns <= TARGET_VALID_NS,
        )
    ]
