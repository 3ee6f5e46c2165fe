"""The local CloudWatch: missing-data rules pinned to the user guide, statistics, metric math, EMF and
alarm evaluation on the cloud's clock (synthetic templates and handlers)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from localcloud.cloudwatch import State, Treatment, decide, expression, statistic
from tests.localcloud.conftest import Recorder, function, ref, running

# The CloudWatch user guide, "How alarm state is evaluated when data is missing": 0 is a
# non-breaching datapoint, X a breaching one, - a missing one, the most recent on the right; the
# evaluation range is 5 datapoints. Columns: MISSING, IGNORE, BREACHING, NOT BREACHING ("retain":
# the alarm keeps its current state).
TREATMENTS: tuple[Treatment, ...] = ("missing", "ignore", "breaching", "notBreaching")
THREE_OF_THREE = [
    ("0 - X - X", ("OK", "OK", "OK", "OK")),
    ("0 - - - -", ("OK", "OK", "OK", "OK")),
    ("- - - - -", ("INSUFFICIENT_DATA", "retain", "ALARM", "OK")),
    ("0 X X - X", ("ALARM", "ALARM", "ALARM", "ALARM")),
    ("- - X - -", ("ALARM", "retain", "ALARM", "OK")),
]
TWO_OF_THREE = [
    ("0 - X - X", ("ALARM", "ALARM", "ALARM", "ALARM")),
    ("0 0 X 0 X", ("ALARM", "ALARM", "ALARM", "ALARM")),
    ("0 - X - -", ("OK", "OK", "ALARM", "OK")),
    ("- - - - 0", ("OK", "OK", "ALARM", "OK")),
    ("- - - X -", ("ALARM", "retain", "ALARM", "OK")),
]


def _points(row: str) -> list[bool | None]:
    return [None if mark == "-" else mark == "X" for mark in row.split()]


@pytest.mark.parametrize(
    ("to_alarm", "row", "expected"),
    [(3, row, states) for row, states in THREE_OF_THREE] + [(2, row, states) for row, states in TWO_OF_THREE],
)
@pytest.mark.parametrize("current", ["OK", "ALARM"])
def test_missing_data_is_treated_as_the_user_guide_tables_say(
    to_alarm: int, row: str, expected: tuple[str, ...], current: State
) -> None:
    for treatment, state in zip(TREATMENTS, expected, strict=True):
        decided = decide(_points(row), periods=3, to_alarm=to_alarm, treatment=treatment, current=current)
        assert decided == (current if state == "retain" else state), (row, treatment)


def test_missing_data_rules_named_in_the_user_guide() -> None:
    # "notBreaching - Missing data points are treated as 'good' and within the threshold"
    assert decide([None] * 5, periods=3, to_alarm=3, treatment="notBreaching", current="ALARM") == "OK"
    # "breaching - Missing data points are treated as 'bad' and breaching the threshold"
    assert decide([None] * 5, periods=3, to_alarm=3, treatment="breaching", current="OK") == "ALARM"
    # "ignore - The current alarm state is maintained"
    assert decide([None] * 5, periods=1, to_alarm=1, treatment="ignore", current="ALARM") == "ALARM"
    # "missing - If all data points in the alarm evaluation range are missing, the alarm transitions to
    # INSUFFICIENT_DATA"
    assert decide([None] * 3, periods=1, to_alarm=1, treatment="missing", current="OK") == "INSUFFICIENT_DATA"
    # "If some data points in the evaluation range are missing, but the total number of existing data
    # points ... is equal to or more than the alarm's Evaluation Periods, CloudWatch evaluates the
    # alarm state based on the most recent real data points"
    assert (
        decide([True, True, None], periods=2, to_alarm=2, treatment="notBreaching", current="OK") == "ALARM"
    )
    # "CloudWatch uses missing data points only as few times as possible": one real breaching point
    # and one filled breaching point reach 2 of 3, not three
    assert decide([False, None, None], periods=3, to_alarm=3, treatment="breaching", current="OK") == "OK"


@pytest.mark.parametrize(
    ("stat", "values", "expected"),
    [
        ("Sum", [1, 2, 3], 6.0),
        ("Average", [1, 2, 3], 2.0),
        ("Maximum", [1, 5, 3], 5.0),
        ("Minimum", [4, 2, 3], 2.0),
        ("SampleCount", [7, 7], 2.0),
        ("p99", list(range(1, 101)), 99.0),
        ("p50", [10, 20, 30, 40], 20.0),
        ("Sum", [], None),
    ],
)
def test_statistics_of_one_period(stat: str, values: list[float], expected: float | None) -> None:
    assert statistic(stat, values) == expected


def test_metric_math_arithmetic_fill_and_if() -> None:
    assert expression("100 * age / (48 * 3600 - 86400)")({"age": 43200.0}) == 50.0
    assert expression("errors / requests")({"errors": 1.0, "requests": 0.0}) is None
    assert expression("errors / requests")({"errors": None, "requests": 4.0}) is None
    assert expression("FILL(a, 0) + FILL(b, 0)")({"a": None, "b": 2.0}) == 2.0
    assert expression("IF(requests > 0, errors / requests, 0)")({"errors": 1.0, "requests": 4.0}) == 0.25
    assert expression("IF(requests > 0, errors / requests, 0)")({"errors": 0.0, "requests": 0.0}) == 0.0
    with pytest.raises(ValueError, match="not emulated"):
        expression("ANOMALY_DETECTION_BAND(m)")({"m": 1.0})


# ---------------------------------------------------------------------------- in a running cloud
EMF_NAMESPACE = "Synthetic"


def _emf(name: str, value: float, service: str) -> str:
    return json.dumps(
        {
            "_aws": {
                "Timestamp": 0,
                "CloudWatchMetrics": [
                    {
                        "Namespace": "FirstImported",
                        "Dimensions": [["service"]],
                        "Metrics": [{"Name": name, "Unit": "Count"}],
                    }
                ],
            },
            "service": service,
            name: [value, value] if value > 1 else value,
        }
    )


def _alarm(metric: str, **properties: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": "synthetic",
            "Namespace": EMF_NAMESPACE,
            "MetricName": metric,
            "Dimensions": [{"Name": "service", "Value": "writer"}],
            "Statistic": "Sum",
            "Period": 60,
            "EvaluationPeriods": 1,
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
            **properties,
        },
    }


def _resources() -> dict[str, Any]:
    environment = {
        "Variables": {"POWERTOOLS_SERVICE_NAME": "writer", "POWERTOOLS_METRICS_NAMESPACE": EMF_NAMESPACE}
    }
    return {
        "Writer": function("lc-writer", Environment=environment),
        "Other": function(
            "lc-other",
            Environment={
                "Variables": {
                    "POWERTOOLS_SERVICE_NAME": "other",
                    "POWERTOOLS_METRICS_NAMESPACE": EMF_NAMESPACE,
                }
            },
        ),
        "FailuresAlarm": _alarm("Failures", TreatMissingData="notBreaching"),
        "SustainedAlarm": _alarm(
            "Failures", EvaluationPeriods=3, DatapointsToAlarm=2, TreatMissingData="notBreaching"
        ),
        "SilenceAlarm": _alarm(
            "Heartbeats", Threshold=1, ComparisonOperator="LessThanThreshold", TreatMissingData="breaching"
        ),
        "ErrorsAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "Namespace": "AWS/Lambda",
                "MetricName": "Errors",
                "Dimensions": [{"Name": "FunctionName", "Value": ref("Writer")}],
                "Statistic": "Sum",
                "Period": 300,
                "EvaluationPeriods": 1,
                "Threshold": 0,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
            },
        },
    }


def _printing(name: str, service: str = "first-imported") -> Recorder:
    def answer(event: Any, _call: int) -> Any:
        sys.stdout.write(_emf(name, float(event.get("value", 1)), service) + "\n")  # as Powertools prints
        if event.get("fail"):
            raise RuntimeError("synthetic failure")
        return {}

    return Recorder(answer)


def _handlers(name: str) -> dict[str, Recorder]:
    return {"Writer": _printing(name), "Other": _printing(name)}


def _period_start(cloud: LocalCloud, period: float = 300.0) -> None:
    """Move the clock just past a period boundary, so a test's minutes fall in known periods."""
    now = cloud.clock.now()
    cloud.wait(math.floor(now / period) * period + period + 1 - now)
    cloud.pump()


def test_emf_a_function_prints_counts_under_its_own_service_and_fires_its_alarm(tmp_path: Path) -> None:
    with running(tmp_path, _resources(), handlers=_handlers("Failures")) as cloud:
        watch = cloud.primary.cloudwatch
        assert watch.state("FailuresAlarm") == "INSUFFICIENT_DATA"  # every alarm starts there
        _period_start(cloud)
        assert watch.state("FailuresAlarm") == "OK"  # no data, treated as not breaching
        cloud.runtime.invoke("Writer", {"value": 2})
        sent_at = cloud.clock.now()
        cloud.wait(61)
        watch.evaluate()

        # the shared Metrics object said "FirstImported"/"first-imported"; Lambda would have said the
        # function's own namespace and service
        assert watch.values(EMF_NAMESPACE, "Failures", {"service": "writer"}) == [2.0, 2.0]
        assert watch.values(EMF_NAMESPACE, "Failures", {"service": "first-imported"}) == []
        assert watch.values("FirstImported", "Failures", {"service": "writer"}) == []
        assert watch.state("FailuresAlarm") == "ALARM"
        went = watch.first_alarm("FailuresAlarm")
        assert went is not None and went == math.floor(sent_at / 60) * 60 + 60  # when its minute ended

        # "CloudWatch alarms might repeatedly re-evaluate the last set of data points for a period of
        # time after the metric has stopped flowing": the breaching point is the most recent real one
        # until it leaves the evaluation range (EvaluationPeriods + 2 periods)
        cloud.wait(60)
        watch.evaluate()
        assert watch.state("FailuresAlarm") == "ALARM"
        cloud.wait(120)
        watch.evaluate()
        assert [change.new for change in watch.changes("FailuresAlarm")] == ["OK", "ALARM", "OK"]


def test_datapoints_to_alarm_needs_m_breaching_periods_out_of_n(tmp_path: Path) -> None:
    with running(tmp_path, _resources(), handlers=_handlers("Failures")) as cloud:
        watch = cloud.primary.cloudwatch
        _period_start(cloud)
        cloud.runtime.invoke("Writer", {})
        cloud.wait(60)
        watch.evaluate()
        assert watch.state("SustainedAlarm") == "OK"  # 1 of 3
        cloud.runtime.invoke("Writer", {})
        cloud.wait(60)
        watch.evaluate()
        assert watch.state("SustainedAlarm") == "ALARM"  # 2 of 3


def test_missing_data_treated_as_breaching_fires_a_silence_alarm(tmp_path: Path) -> None:
    with running(tmp_path, _resources(), handlers=_handlers("Heartbeats")) as cloud:
        watch = cloud.primary.cloudwatch
        cloud.runtime.invoke("Writer", {})
        cloud.wait(60)
        watch.evaluate()
        assert watch.state("SilenceAlarm") == "OK"
        cloud.wait(600)  # no heartbeat for ten minutes: the range is all missing, treated as breaching
        watch.evaluate()
        assert watch.state("SilenceAlarm") == "ALARM"


def test_lambda_errors_counted_by_the_runtime_fire_an_errors_alarm(tmp_path: Path) -> None:
    handlers = {"Writer": _printing("Failures"), "Other": _printing("Failures")}
    with running(tmp_path, _resources(), handlers=handlers) as cloud:
        watch = cloud.primary.cloudwatch
        cloud.runtime.invoke("Other", {"fail": True})  # another function's error is not the Writer's
        cloud.wait(300)
        watch.evaluate()
        assert watch.state("ErrorsAlarm") == "OK"
        cloud.runtime.invoke("Writer", {"fail": True})
        cloud.wait(300)
        watch.evaluate()
        assert watch.state("ErrorsAlarm") == "ALARM"
        assert watch.values("AWS/Lambda", "Errors", {"FunctionName": "lc-writer"}) == [1.0]
