"""Every events/enrichment-*.json runs through the enrichment handler in-process, as
`sam local invoke EnrichmentFunction -e events/<file> --env-vars events/env.json` would run it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from enrichment import dependencies
from enrichment.handler import lambda_handler
from localcloud.platform_bus import PlatformStack, create_platform
from signal_platform import codec, signing
from signal_platform.signal_batches import unsigned_bytes
from tests.conftest import EVENTS_DIR, REGION, FakeLambdaContext, load_event
from tests.integration.conftest import SIGNING_KEY, IngressPlatform

pytestmark = pytest.mark.integration

# file -> (status, enriched signals forwarded, data-platform entries, quarantined objects)
EXPECTED: dict[str, tuple[str, int, int, int]] = {
    # three page views of one visitor who signs in on the third: two partition keys, two entries
    "enrichment-signal-batch.json": ("enriched", 3, 2, 0),
    # a purchase signed with another key
    "enrichment-forged-batch.json": ("forged", 0, 0, 1),
}
SAMPLES = sorted(path.name for path in EVENTS_DIR.glob("enrichment-*.json"))


@pytest.fixture
def stack(ingress: IngressPlatform, monkeypatch: pytest.MonkeyPatch) -> Iterator[PlatformStack]:
    platform = create_platform(boto3.session.Session(region_name=REGION), SIGNING_KEY)
    for name, value in platform.enrichment_environment().items():
        monkeypatch.setenv(name, value)
    dependencies.reset()
    yield platform
    dependencies.reset()


def test_every_enrichment_sample_has_an_expectation() -> None:
    assert sorted(EXPECTED) == SAMPLES


@pytest.mark.parametrize("name", SAMPLES)
def test_enrichment_sample_runs_through_the_handler(
    name: str, stack: PlatformStack, lambda_context: FakeLambdaContext
) -> None:
    # GIVEN a sample ingress bus event
    status, signals, entries, quarantined = EXPECTED[name]
    # WHEN it is invoked like `sam local invoke -e events/<name>`
    answer = lambda_handler(load_event(name), lambda_context)
    # THEN the outcome, what reaches the data-platform bus and what is quarantined are as documented
    forwarded = stack.drain_tap()
    assert answer["status"] == status
    assert len(forwarded) == entries
    assert sum(len(event["detail"]["signals"]) for event in forwarded) == signals
    assert len(stack.quarantined()) == quarantined


def test_signal_batch_sample_is_signed_with_the_test_key_and_forged_sample_is_not() -> None:
    # GIVEN the two samples
    good, forged = (load_event(name)["detail"] for name in EXPECTED)
    # WHEN their signatures are checked with the key the integration fixture stores
    key = SIGNING_KEY.encode()
    # THEN the real one verifies and the forged one does not
    assert signing.verify(key, unsigned_bytes(good), good["signature"])
    assert not signing.verify(key, unsigned_bytes(forged), forged["signature"])


def test_samples_have_the_eventbridge_shape() -> None:
    for name in SAMPLES:
        event: dict[str, Any] = load_event(name)
        assert set(event) == {
            "version",
            "id",
            "detail-type",
            "source",
            "account",
            "time",
            "region",
            "resources",
            "detail",
        }
        assert event["source"] == "signals.ingest"
        assert event["detail-type"] == event["detail"]["event_type"]


def test_env_vars_file_names_the_enrichment_settings() -> None:
    env = codec.loads((EVENTS_DIR / "env.json").read_bytes())["EnrichmentFunction"]
    assert {
        "DATA_PLATFORM_BUS_NAME",
        "IDEMPOTENCY_TABLE_NAME",
        "IDEMPOTENCY_EXPIRY_SECONDS",
        "QUARANTINE_BUCKET_NAME",
        "SIGNING_KEY_SECRET_ARN",
        "MAX_SIGNALS_PER_ENTRY",
        "STORE_RAW_IP",
    } <= set(env)
