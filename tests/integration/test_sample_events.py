"""Every file in events/ runs through its handler in-process, as `sam local invoke -e` would run it."""

from __future__ import annotations

from typing import Any

import pytest

from signal_platform import codec
from tests.conftest import EVENTS_DIR, FakeLambdaContext, load_event
from tests.integration.conftest import IngressPlatform
from validator.handler import lambda_handler

# file -> (handler, expected status, accepted signals that reach the bus)
EXPECTED: dict[str, tuple[Any, int, int]] = {
    "validator-valid-batch.json": (lambda_handler, 200, 3),
    "validator-single-event.json": (lambda_handler, 200, 1),
    "validator-invalid-batch.json": (lambda_handler, 207, 1),
    "validator-malformed-json.json": (lambda_handler, 400, 0),
    "validator-oversized-gzip.json": (lambda_handler, 413, 0),
    "validator-bad-key.json": (lambda_handler, 401, 0),
    # Segment's /v1/batch: the last call has no userId/anonymousId, so it is rejected, and still 200
    "validator-segment-batch.json": (lambda_handler, 200, 3),
}
SAMPLES = sorted(path.name for path in EVENTS_DIR.glob("validator-*.json"))


def test_every_sample_event_has_an_expectation() -> None:
    assert sorted(EXPECTED) == SAMPLES


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_event_runs_through_its_handler(
    name: str, ingress: IngressPlatform, lambda_context: FakeLambdaContext
) -> None:
    # GIVEN a sample event file
    handler, status, forwarded = EXPECTED[name]
    # WHEN it is invoked like `sam local invoke -e events/<name>`
    response = handler(load_event(name), lambda_context)
    # THEN the status and what reaches the bus are as documented
    assert response["statusCode"] == status, codec.loads(response["body"])
    assert len(ingress.forwarded_signals()) == forwarded


def test_invalid_batch_sample_lists_every_reason(
    ingress: IngressPlatform, lambda_context: FakeLambdaContext
) -> None:
    response = lambda_handler(load_event("validator-invalid-batch.json"), lambda_context)
    results = codec.loads(response["body"])["results"]
    codes = [[error["code"] for error in result.get("errors", [])] for result in results]
    assert codes == [
        [],
        ["unknown_event_type"],
        ["schema_violation", "schema_violation"],
        ["duplicate_event_id"],
        ["unknown_schema_version"],
    ]


def test_env_vars_file_names_the_validator_settings() -> None:
    env = codec.loads((EVENTS_DIR / "env.json").read_bytes())
    assert {"INGRESS_BUS_NAME", "SOURCES_TABLE_NAME", "SIGNING_KEY_SECRET_ARN"} <= set(
        env["ValidatorFunction"]
    )
