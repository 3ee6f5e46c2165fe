"""SignalBatchGrouping in the template (docs/adr/0010): the design's per-type batches by default, one
setting for every function that builds signal batches, and no rule that routes on the type."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

from signal_platform import settings
from tests.infra.test_template import _effective_function, _plain

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "template.yaml"
BATCH_BUILDERS = ("ValidatorFunction", "BatcherFunction", "EnrichmentFunction")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return _plain(cfn_yaml.load(str(TEMPLATE_PATH)))


def test_grouping_defaults_to_per_request_and_offers_per_type(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["SignalBatchGrouping"]
    assert parameter["Default"] == "Request"
    # the functions' own default (no variable set) is the template's
    assert settings.groups_by_type({}) is (parameter["Default"] == "EventType")
    assert parameter["AllowedValues"] == ["EventType", "Request"]
    # every allowed value is one the functions' settings accept
    assert [settings.groups_by_type({"SIGNAL_BATCH_GROUPING": v}) for v in parameter["AllowedValues"]] == [
        True,
        False,
    ]


def test_every_function_that_builds_signal_batches_gets_the_one_setting(template: dict[str, Any]) -> None:
    for name in BATCH_BUILDERS:
        variables = _effective_function(template, name)["Environment"]["Variables"]
        assert variables["SIGNAL_BATCH_GROUPING"] == {"Ref": "SignalBatchGrouping"}, name


def test_no_rule_routes_on_the_detail_type(template: dict[str, Any]) -> None:
    # Mixed batches carry DetailType "mixed": a rule on detail-type would miss them.
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Events::Rule":
            pattern = json.dumps(resource["Properties"].get("EventPattern", {}))  # also inside Fn::If
            assert '"detail-type"' not in pattern, name
