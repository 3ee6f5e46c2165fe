"""What every invocation costs in CloudWatch Logs and X-Ray, as the template sets it: JSON logs with
Lambda's system lines filtered out, an application level that keeps the metrics' EMF lines, and
the hot path's tracing a parameter."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from localcloud.template import decode, parameter_values, translate

TEMPLATE_PATH = Path(__file__).parents[2] / "template.yaml"
HOT_PATH = {"ValidatorFunction", "BatcherFunction", "EnrichmentFunction", "S3WriterFunction"}
# Application levels at which Lambda keeps a line without a "level" (it files it under INFO): the
# metrics' EMF lines, which every custom-metric alarm reads, and the runtime's own error records.
KEEPS_LINES_WITHOUT_LEVEL = {"TRACE", "DEBUG", "INFO"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return decode(TEMPLATE_PATH)


def _translated(template: dict[str, Any]) -> dict[str, Any]:
    """The CloudFormation SAM would deploy, with the front-door buffer (and its batcher) on."""
    parameters = parameter_values(template, {"FrontDoorBuffer": "Enabled"})
    return translate(copy.deepcopy(template), parameters, "us-west-2")


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    cfn = _translated(template)
    return {
        name: resource["Properties"]
        for name, resource in cfn["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    }


def test_every_function_logs_json_without_lambdas_per_invocation_lines(template: dict[str, Any]) -> None:
    # GIVEN the functions SAM deploys
    functions = _functions(template)
    assert set(functions) >= HOT_PATH | {"DlqHydrateFunction"}
    for name, properties in functions.items():
        logging = properties["LoggingConfig"]
        # THEN each logs JSON to its own group; Lambda sends no START/END/REPORT (system level WARN)
        assert logging["LogFormat"] == "JSON", name
        assert logging["SystemLogLevel"] == "WARN", name
        assert "LogGroup" in logging, name
        # AND the application level is the one Powertools' Logger is told, so the two agree
        assert logging["ApplicationLogLevel"] == {"Ref": "LogLevel"}, name
        assert properties["Environment"]["Variables"]["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}, name


def test_no_allowed_log_level_drops_the_metric_lines(template: dict[str, Any]) -> None:
    # GIVEN the LogLevel parameter, WHEN any allowed value is chosen
    spec = template["Parameters"]["LogLevel"]
    # THEN Lambda still sends lines without a level (the EMF metrics), and the default is INFO
    assert set(spec["AllowedValues"]) <= KEEPS_LINES_WITHOUT_LEVEL
    assert spec["Default"] == "INFO"


def test_hot_path_tracing_is_the_parameter_and_the_rest_stays_active(template: dict[str, Any]) -> None:
    # GIVEN the functions SAM deploys
    functions = _functions(template)
    # THEN the hot path's functions trace as HotPathTracing says, the low-volume DLQ hydrate one Active
    for name, properties in functions.items():
        expected = {"Ref": "HotPathTracing"} if name in HOT_PATH else "Active"
        assert properties["TracingConfig"] == {"Mode": expected}, name
    # AND the parameter offers Lambda's two modes, PassThrough unless a deployment asks for traces
    spec = template["Parameters"]["HotPathTracing"]
    assert set(spec["AllowedValues"]) == {"PassThrough", "Active"}
    assert spec["Default"] == "PassThrough"


def test_hot_path_can_still_send_traces(template: dict[str, Any]) -> None:
    # GIVEN PassThrough (a caller's sampled trace is continued) or Active
    cfn = translate(
        copy.deepcopy(template), parameter_values(template, {"FrontDoorBuffer": "Enabled"}), "us-west-2"
    )
    for name in HOT_PATH:
        role = cfn["Resources"][f"{name}Role"]["Properties"]
        # THEN each function's role may write segments
        assert any("AWSXrayWriteOnlyAccess" in str(arn) for arn in role["ManagedPolicyArns"]), name
