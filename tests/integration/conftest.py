"""A moto account with the validator's resources: sources table, signing secret, ingress bus with a
rule that taps every signal batch into an SQS queue, so tests can read exactly what was forwarded."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localcloud.ingress import IngressNames, IngressStack, create_ingress
from signal_platform.sources import Source, SourceRegistry, hash_secret, new_write_key
from tests.conftest import REGION
from validator import dependencies

BUS_NAME = "signals-ingress"
TABLE_NAME = "signals-sources"
SIGNING_KEY = "test-signing-key-0123456789abcdef0123456789abcdef"
SAMPLE_WRITE_KEY = "demo-web.sample-write-key-for-local-tests-only"


@dataclass
class IngressPlatform:
    write_key: str
    stack: IngressStack
    dynamodb: Any

    def forwarded(self) -> list[dict[str, Any]]:
        """Every EventBridge event the tap queue holds, drained."""
        return self.stack.drain_tap()

    def forwarded_signals(self) -> list[dict[str, Any]]:
        return [signal for event in self.forwarded() for signal in event["detail"]["signals"]]


@pytest.fixture
def ingress(monkeypatch: pytest.MonkeyPatch) -> Iterator[IngressPlatform]:
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        stack = create_ingress(session, SIGNING_KEY, IngressNames(bus=BUS_NAME, sources_table=TABLE_NAME))
        for name, value in {**stack.validator_environment(), "MAX_SIGNALS_PER_ENTRY": "50"}.items():
            monkeypatch.setenv(name, value)
        registry = SourceRegistry(TABLE_NAME)
        write_key, source = new_write_key("web-shop", "storefront")
        registry.register(source)
        # The fixed key the sample events in events/ carry (local tests only, never deployed).
        sample_source, _, sample_secret = SAMPLE_WRITE_KEY.partition(".")
        registry.register(Source(sample_source, hash_secret(sample_secret), True, "sample events"))
        registry.register(Source("retired-kiosk", hash_secret("retired-secret"), False, "disabled"))
        dependencies.reset()
        yield IngressPlatform(write_key=write_key, stack=stack, dynamodb=session.client("dynamodb"))
        dependencies.reset()


@dataclass(frozen=True)
class BatchShape:
    """What a signal batch of page views looks like under one SignalBatchGrouping setting."""

    grouping: str
    detail_type: str
    contract_version: str


BATCH_SHAPES = (
    BatchShape("Request", "mixed", "1-1-0"),  # the template's default: the types of a request together
    BatchShape("EventType", "page_view", "1-0-0"),  # one event type per batch
)


@pytest.fixture(params=BATCH_SHAPES, ids=lambda shape: shape.grouping)
def batch_shape(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> BatchShape:
    """Each grouping in turn, set before the functions read their settings (on their first call)."""
    shape: BatchShape = request.param
    monkeypatch.setenv("SIGNAL_BATCH_GROUPING", shape.grouping)
    return shape
