"""No alarm of template.yaml reads a metric that nothing in the project emits.

What is emitted is derived, not listed here: the AWS metrics the local cloud reports
(``EMULATED_METRICS``, which ``Services.emit`` and the CloudWatch refuse to leave) or names as AWS's
own for features it does not run (``NOT_EMULATED_METRICS``, with the reason), and the EMF names
each function's code passes to Powertools' ``add_metric`` (a literal, an f-string read as a pattern,
or a name taken from the module's own string constants), under the function's metrics namespace and
``service`` dimension from the template.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from localcloud.services import EMULATED_METRICS, NOT_EMULATED_METRICS
from localcloud.template import load

ROOT = Path(__file__).resolve().parents[2]
_CAMEL_CASE = re.compile(r"[A-Z][A-Za-z0-9]+")


def _name_patterns(module: ast.Module) -> Iterator[re.Pattern[str]]:
    """The metric names one module's ``add_metric(name=...)`` calls can pass."""
    constants = {
        node.value
        for node in ast.walk(module)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and _CAMEL_CASE.fullmatch(node.value)
    }
    for call in ast.walk(module):
        if not (isinstance(call, ast.Call) and getattr(call.func, "attr", None) == "add_metric"):
            continue
        name = next((keyword.value for keyword in call.keywords if keyword.arg == "name"), None)
        if isinstance(name, ast.Constant) and isinstance(name.value, str):
            yield re.compile(re.escape(name.value))
        elif isinstance(name, ast.JoinedStr):
            parts = [
                re.escape(str(part.value)) if isinstance(part, ast.Constant) else ".+" for part in name.values
            ]
            yield re.compile("".join(parts))
        else:  # a variable: one of the module's own names
            yield from (re.compile(re.escape(constant)) for constant in constants)


@cache
def _emitted_by_functions() -> Mapping[tuple[str, str], tuple[re.Pattern[str], ...]]:
    """(metrics namespace, service) of every function -> the EMF names its code can emit."""
    loaded, _ = load(ROOT / "template.yaml")
    emitted: dict[tuple[str, str], tuple[re.Pattern[str], ...]] = {}
    for logical_id, resource in loaded.resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        variables = resource["Properties"].get("Environment", {}).get("Variables", {})
        folder = loaded.code_dirs[logical_id]
        patterns = tuple(
            pattern
            for path in sorted(folder.rglob("*.py"))
            for pattern in _name_patterns(ast.parse(path.read_text(encoding="utf-8")))
        )
        emitted[variables["POWERTOOLS_METRICS_NAMESPACE"], variables["POWERTOOLS_SERVICE_NAME"]] = patterns
    return emitted


def _alarm_metrics(properties: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    queries = properties.get("Metrics") or [{"MetricStat": {"Metric": properties}}]
    for query in queries:
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions") or []}
            yield metric["Namespace"], metric["MetricName"], dimensions


def _emitted(namespace: str, name: str, dimensions: Mapping[str, Any]) -> bool:
    if namespace.startswith("AWS/"):
        return (
            name in EMULATED_METRICS.get(namespace, frozenset()) or (namespace, name) in NOT_EMULATED_METRICS
        )
    patterns = _emitted_by_functions().get((namespace, str(dimensions.get("service"))), ())
    return any(pattern.fullmatch(name) for pattern in patterns)


def _alarms() -> dict[str, Mapping[str, Any]]:
    loaded, _ = load(ROOT / "template.yaml")
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in loaded.resources.items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }


@pytest.mark.parametrize("alarm", sorted(_alarms()))
def test_every_alarm_reads_a_metric_that_something_emits(alarm: str) -> None:
    for namespace, name, dimensions in _alarm_metrics(_alarms()[alarm]):
        assert _emitted(namespace, name, dimensions), (
            f"{alarm}: nothing emits {namespace} {name} {dimensions}"
        )


def test_the_derivation_tells_an_emitted_name_from_a_misspelt_one() -> None:
    # GIVEN the validator's EMF names, derived from its code (an f-string among them)
    validator = [key for key in _emitted_by_functions() if key[1] == "validator"]
    assert len(validator) == 1
    namespace, service = validator[0]

    # THEN a name it passes matches, a misspelt one, another service's, another namespace's do not
    assert _emitted(namespace, "EventsRetry", {"service": service})
    assert _emitted(namespace, "Requests503", {"service": service})  # f"Requests{status}"
    assert not _emitted(namespace, "EventRetry", {"service": service})
    assert not _emitted(namespace, "EventsRetry", {"service": "s3_writer"})
    assert not _emitted("AWS/Lambda", "Error", {})
    assert not _emitted("AWS/Kinesis", "IteratorAge", {})
