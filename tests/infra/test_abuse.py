"""Abuse containment in the template: the rate-lease table, the validator's reserved concurrency and
the bounds of the background functions, argued from the quota model's concurrency figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

from bench import cost_model, quota_model
from signal_platform import codec
from tests.infra.test_template import _effective_function, _plain, _statements

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "template.yaml"
# Lambda's default concurrency quota per Region, and what AWS keeps unreserved.
ACCOUNT_CONCURRENCY = 1_000
UNRESERVED_MINIMUM = 100
# The validator's and the S3 writer's concurrency at 2 B signals/day with 3x peaks (69,444 signals/s),
# realistic traffic at 10 events per request, as measured when the reservations were sized
# (docs/adr/0008-abuse-containment.md); today's figures (bench/results/calls.json) are checked too.
VALIDATOR_AT_PEAK = 195
S3_WRITER_AT_PEAK = 97
CALLS_PATH = TEMPLATE_PATH.parent / "bench" / "results" / "calls.json"
HYDRATE_MAPPINGS = 6  # five DLQs, and the front-door buffer's when it is on


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return _plain(cfn_yaml.load(str(TEMPLATE_PATH)))


def _default(template: dict[str, Any], name: str) -> int:
    return int(template["Parameters"][name]["Default"])


def test_rate_lease_table_is_short_lived_encrypted_and_validator_only_updates_it(
    template: dict[str, Any],
) -> None:
    table = template["Resources"]["RateLeasesTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert table["SSESpecification"]["KMSMasterKeyId"] == {"Fn::GetAtt": ["PlatformKey", "Arn"]}
    validator = _effective_function(template, "ValidatorFunction")
    assert validator["Environment"]["Variables"]["RATE_LEASES_TABLE_NAME"] == {"Ref": "RateLeasesTable"}
    grants = [
        s for s in _statements(validator) if s["Resource"] == {"Fn::GetAtt": ["RateLeasesTable", "Arn"]}
    ]
    assert [grant["Action"] for grant in grants] == ["dynamodb:UpdateItem"]


def test_validator_reserves_concurrency_above_its_peak_and_leaves_the_pool_room(
    template: dict[str, Any],
) -> None:
    # GIVEN the default reservations
    validator = _default(template, "ValidatorReservedConcurrency")
    writer = _default(template, "S3WriterReservedConcurrency")
    # THEN the validator's covers its peak with 1.5x headroom, the writer's covers its peak too
    assert validator >= 1.5 * VALIDATOR_AT_PEAK
    assert writer >= 1.5 * S3_WRITER_AT_PEAK
    # AND together with the hydrate's bound they leave Lambda's unreserved minimum and room for
    # enrichment (its peak figure at that shape is about 400)
    hydrate = HYDRATE_MAPPINGS * _default(template, "DlqHydrateMaximumConcurrency")
    assert validator + writer + hydrate <= ACCOUNT_CONCURRENCY - UNRESERVED_MINIMUM - 400


def _measured_peak_concurrency(function: str) -> float:
    """Little's law on the calls ``make bench`` measured (bench/quota_model.py, as ``make quota``)."""
    usage = cost_model.usage_of(codec.loads(CALLS_PATH.read_bytes())["shapes"]["realistic-10"])
    seconds_per_signal = usage.gb_seconds[function] / (usage.memory_gb.get(function) or 1.0)
    return seconds_per_signal * quota_model.peak_rate(2e9, 3)


@pytest.mark.parametrize(
    ("function", "parameter"),
    [
        ("ValidatorFunction", "ValidatorReservedConcurrency"),
        ("S3WriterFunction", "S3WriterReservedConcurrency"),
    ],
)
def test_reservations_cover_todays_measured_peak_with_headroom(
    template: dict[str, Any], function: str, parameter: str
) -> None:
    # GIVEN the function's concurrency at the 2 B/day peak from the latest measured calls
    peak = _measured_peak_concurrency(function)
    assert peak > 0
    # THEN its default reservation still covers it 1.5x (a slower handler shows up here)
    assert _default(template, parameter) >= 1.5 * peak


def test_reservations_are_applied_and_zero_means_none(template: dict[str, Any]) -> None:
    for function, parameter, condition in (
        ("ValidatorFunction", "ValidatorReservedConcurrency", "ReservesValidatorConcurrency"),
        ("S3WriterFunction", "S3WriterReservedConcurrency", "ReservesS3WriterConcurrency"),
    ):
        reserved = template["Resources"][function]["Properties"]["ReservedConcurrentExecutions"]
        assert reserved == {"Fn::If": [condition, {"Ref": parameter}, {"Ref": "AWS::NoValue"}]}
        assert template["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, 0]}]}


def test_dlq_hydrate_is_bounded_by_every_mapping(template: dict[str, Any]) -> None:
    mappings = [
        resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::EventSourceMapping"
        and resource["Properties"]["FunctionName"]
        in ({"Ref": "DlqHydrateFunction"}, {"Fn::GetAtt": ["DlqHydrateFunction", "Arn"]})
    ]
    assert len(mappings) == HYDRATE_MAPPINGS
    assert all(
        m["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "DlqHydrateMaximumConcurrency"}}
        for m in mappings
    )


def test_developer_stack_reserves_nothing(template: dict[str, Any]) -> None:
    import tomllib

    config = tomllib.loads((TEMPLATE_PATH.parent / "samconfig.toml").read_text())
    overrides = config["default"]["deploy"]["parameters"]["parameter_overrides"]
    assert "ValidatorReservedConcurrency=0" in overrides
    assert "S3WriterReservedConcurrency=0" in overrides
