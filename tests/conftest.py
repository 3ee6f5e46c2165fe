"""Shared fixtures: a Lambda context, fake AWS credentials, moto, and the validator's environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from signal_platform import aws_clients, codec

PROJECT_ROOT = Path(__file__).resolve().parents[1]
EVENTS_DIR = PROJECT_ROOT / "events"
REGION = "us-west-2"

# Never reach a real account: fake credentials and no telemetry, before anything imports boto3.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "POWERTOOLS_SERVICE_NAME": "signals-test",
        "POWERTOOLS_METRICS_NAMESPACE": "CustomerSignalsTest",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "SAM_CLI_TELEMETRY": "0",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)


@dataclass
class FakeLambdaContext:
    function_name: str = "validator"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:validator"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    function_version: str = "$LATEST"
    remaining_millis: int = 10_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


def load_event(name: str) -> dict[str, Any]:
    """A sample event from events/, by file name (relative to the project, not the working dir)."""
    event: dict[str, Any] = codec.loads((EVENTS_DIR / name).read_bytes())
    return event


@pytest.fixture(autouse=True)
def _fresh_clients() -> Iterator[None]:
    """Each test builds its own clients (moto patches the ones built inside its context)."""
    aws_clients.reset()
    yield
    aws_clients.reset()


@pytest.fixture(autouse=True)
def _test_environment_metrics() -> None:
    """The shared Powertools metrics object, as the test environment configures it: the local cloud
    points it at each function it runs (localcloud/runtime.py), and a handler test after that must
    not flush under another function's namespace, or none."""
    from signal_platform.observability import metrics  # imported once the environment above is set

    metrics.namespace = os.environ["POWERTOOLS_METRICS_NAMESPACE"]
    metrics.service = os.environ["POWERTOOLS_SERVICE_NAME"]
