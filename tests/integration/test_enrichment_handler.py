"""The enrichment handler against moto: from an ingress bus event to the data-platform bus exactly once,
redelivery, forged and malformed batches, a bad signal, and a data-platform bus outage."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import boto3
import jsonschema_rs
import pytest
from botocore.exceptions import ClientError

from enrichment import dependencies
from enrichment.handler import lambda_handler
from localcloud.platform_bus import PlatformStack, create_platform
from signal_platform import aws_clients, codec, signing
from signal_platform.errors import (
    BatchInProgressError,
    BusThrottledError,
    BusUnavailableError,
    IdempotencyStoreUnavailableError,
    QuarantineUnavailableError,
)
from signal_platform.schema_registry import SchemaRegistry
from signal_platform.signal_batches import EncodedSignal, IngestMetadata, SignalBatcher
from tests.conftest import REGION, FakeLambdaContext
from tests.http_events import batch_body, http_api_event, page_view
from tests.integration.conftest import SIGNING_KEY, BatchShape, IngressPlatform
from validator.handler import lambda_handler as validator_handler

pytestmark = pytest.mark.integration

INGEST = IngestMetadata("2026-11-26T16:00:00.140Z", "us-west-2", "req-enrichment-test", "web-shop")


@dataclass
class Platform:
    stack: PlatformStack
    ingress: IngressPlatform

    def forwarded(self) -> list[dict[str, Any]]:
        return self.stack.drain_tap()


@pytest.fixture
def platform(ingress: IngressPlatform, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    """The ingress fixture's moto account plus the enrichment's own resources and environment."""
    stack = create_platform(boto3.session.Session(region_name=REGION), SIGNING_KEY)
    for name, value in {**stack.enrichment_environment(), "MAX_SIGNALS_PER_ENTRY": "50"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("STORE_RAW_IP", raising=False)
    dependencies.reset()
    yield Platform(stack, ingress)
    dependencies.reset()


def bus_event(detail: dict[str, Any], *, event_type: str = "page_view") -> dict[str, Any]:
    """An ingress bus event as EventBridge delivers it to a Lambda target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": event_type,
        "source": "signals.ingest",
        "account": "123456789012",
        "time": "2026-11-26T16:00:01Z",
        "region": REGION,
        "resources": [],
        "detail": detail,
    }


def signed_batch(signals: list[dict[str, Any]], *, key: bytes = SIGNING_KEY.encode()) -> dict[str, Any]:
    """One signal batch Detail, built and signed the way the validator does."""
    encoded = [
        EncodedSignal(s["event_id"], s["event_type"], s["source"], codec.canonical(s)) for s in signals
    ]
    batcher = SignalBatcher(
        bus_name="signals-ingress",
        entry_source="signals.ingest",
        max_signals=500,
        signer=partial(signing.sign, key),
    )
    (entry,) = batcher.build(encoded, INGEST)
    detail: dict[str, Any] = codec.loads(entry.entry["Detail"])
    return detail


def signal(**overrides: Any) -> dict[str, Any]:
    event = page_view("web-shop", derived_at="2026-11-26T15:59:58.000Z")
    event.update(overrides)
    return event


def via_validator(
    platform: Platform, context: FakeLambdaContext, events: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Post events through the real validator and return what it put on the ingress bus."""
    response = validator_handler(
        http_api_event(batch_body(events), write_key=platform.ingress.write_key), context
    )
    assert response["statusCode"] == 200, response["body"]
    return platform.ingress.forwarded()


class EventsSpy:
    """The moto events client, counting PutEvents calls; ``fail`` makes every call fail."""

    def __init__(self, real: Any) -> None:
        self.real, self.put_events_calls = real, 0
        self.fail: Exception | Callable[[], dict[str, Any]] | None = None

    def put_events(self, **request: Any) -> dict[str, Any]:
        self.put_events_calls += 1
        if isinstance(self.fail, Exception):
            raise self.fail
        if self.fail is not None:
            return self.fail()
        result: dict[str, Any] = self.real.put_events(**request)
        return result


@pytest.fixture
def events_spy(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> EventsSpy:
    original = aws_clients.client
    spy = EventsSpy(original("events"))
    monkeypatch.setattr(
        aws_clients,
        "client",
        lambda service, region=None: spy if service == "events" else original(service, region),
    )
    return spy


def _signals(forwarded: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for event in forwarded for s in event["detail"]["signals"]]


# --- exactly once --------------------------------------------------------------------------------


def test_ingress_batches_reach_data_platform_bus_exactly_once_regrouped(
    platform: Platform, lambda_context: FakeLambdaContext, batch_shape: BatchShape
) -> None:
    # GIVEN 120 page views from two visitors, posted through the validator (3 signed ingress batches)
    visitors = [{"anonymous_id": "anon-a"}, {"anonymous_id": "anon-b", "user_id": "usr_42"}]
    events = []
    for n in range(120):
        event = page_view("web-shop")
        event["context"] = {**event["context"], **visitors[n % 2]}
        events.append(event)
    ingress_events = via_validator(platform, lambda_context, events)
    assert len(ingress_events) == 3
    # WHEN the enrichment gets each ingress event
    answers = [lambda_handler(event, lambda_context) for event in ingress_events]
    # THEN every signal reaches the data-platform bus exactly once, grouped by partition key
    assert [a["status"] for a in answers] == ["enriched"] * 3
    forwarded = platform.forwarded()
    signals = _signals(forwarded)
    assert sorted(s["event_id"] for s in signals) == sorted(e["event_id"] for e in events)
    for bus_event in forwarded:
        detail = bus_event["detail"]
        assert (bus_event["source"], bus_event["detail-type"]) == (
            "signals.enriched",
            batch_shape.detail_type,
        )
        assert {s["partition_key"] for s in detail["signals"]} == {detail["partition_key"]}
        assert detail["partition_key"] in {"anon-a", "usr_42"}
        assert len(detail["signals"]) <= 50
    # AND the output is exactly the enriched_batch contract (the schema pins the handler's real output)
    contract = SchemaRegistry().contract("enriched_batch", batch_shape.contract_version)
    validator = jsonschema_rs.Draft7Validator(contract, validate_formats=True, offline=True)
    for bus_event in forwarded:
        errors = [f"{list(e.instance_path)}: {e.message}" for e in validator.iter_errors(bus_event["detail"])]
        assert errors == []
    # AND each signal is standardised and enriched
    first = next(s for s in signals if s["event_id"] == events[0]["event_id"])
    assert first["campaign"] == {"source": "newsletter"}
    assert first["network"] == {"ip_prefix": "198.51.100.0/24"}
    assert first["device"]["browser_family"] == "Safari"
    assert first["page"]["host"] == "shop.example.com"
    # AND one idempotency record per ingress batch, completed, with a TTL
    records = platform.stack.idempotency_records()
    assert len(records) == 3
    assert {r["status"]["S"] for r in records} == {"COMPLETED"}
    assert all("expiration" in r for r in records)


def test_redelivered_event_is_not_put_again(
    platform: Platform, lambda_context: FakeLambdaContext, events_spy: EventsSpy
) -> None:
    # GIVEN an ingress event that was enriched once
    event = bus_event(signed_batch([signal(), signal()]))
    first = lambda_handler(event, lambda_context)
    calls_after_first = events_spy.put_events_calls
    assert first["status"] == "enriched"
    assert calls_after_first == 1
    # WHEN EventBridge delivers it again, to the same container and to a fresh one
    again = lambda_handler(event, lambda_context)
    dependencies.reset()  # a new container: no local cache, only the DynamoDB record
    fresh = lambda_handler({**event, "id": str(uuid.uuid4())}, lambda_context)
    # THEN no second PutEvents is made and the answers say duplicate
    assert events_spy.put_events_calls == calls_after_first
    assert again["status"] == fresh["status"] == "duplicate"
    assert again["batch_id"] == fresh["batch_id"] == event["detail"]["batch_id"]
    assert len(_signals(platform.forwarded())) == 2


def test_identical_client_resend_is_enriched_once(
    platform: Platform, lambda_context: FakeLambdaContext
) -> None:
    # GIVEN the same events posted twice through the validator (a client retry after a lost answer)
    events = [page_view("web-shop") for _ in range(3)]
    first = via_validator(platform, lambda_context, events)
    second = via_validator(platform, lambda_context, events)
    assert first[0]["detail"]["batch_id"] == second[0]["detail"]["batch_id"]
    assert first[0]["detail"]["signature"] != second[0]["detail"]["signature"]  # another request
    # WHEN both ingress events are enriched
    answers = [lambda_handler(e, lambda_context)["status"] for e in first + second]
    # THEN the resend is dropped by its batch id
    assert answers == ["enriched", "duplicate"]
    assert len(_signals(platform.forwarded())) == 3


# --- forged and malformed ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda d: d.pop("signature"), "missing_signature"),
        (lambda d: d["signals"][0]["data"].update(page_type="checkout"), "bad_signature"),
        (lambda d: d.update(signature=signing.sign(b"attacker-key", b"{}")), "bad_signature"),
    ],
    ids=["missing", "tampered", "other-key"],
)
def test_forged_batch_is_quarantined_never_forwarded(
    platform: Platform,
    lambda_context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
    tamper: Callable[[dict[str, Any]], Any],
    reason: str,
) -> None:
    # GIVEN a signal batch whose signature is missing or does not match
    detail = signed_batch([signal(), signal()])
    tamper(detail)
    event = bus_event(detail)
    # WHEN it is delivered
    answer = lambda_handler(event, lambda_context)
    # THEN nothing is forwarded, no idempotency record is kept, the whole event is quarantined
    assert (answer["status"], answer["reason"]) == ("forged", reason)
    assert platform.forwarded() == []
    assert platform.stack.idempotency_records() == []
    key = f"quarantine/bad_signature/2026/11/26/{detail['batch_id']}.json"
    assert answer["quarantine_key"] == key
    body, metadata = platform.stack.quarantined()[key]
    assert body == event
    assert metadata == {"reason": reason}
    # AND the ForgedBatches metric is emitted, and the log line carries no payload
    out = capsys.readouterr().out
    assert '"ForgedBatches"' in out
    assert detail["signals"][0]["event_id"] not in out


def test_event_without_detail_object_is_quarantined_under_its_eventbridge_id(
    platform: Platform, lambda_context: FakeLambdaContext
) -> None:
    # GIVEN an event whose detail is not a batch at all
    event = bus_event({})
    event["detail"] = "not an object"
    # WHEN it is delivered
    answer = lambda_handler(event, lambda_context)
    # THEN it is quarantined under its EventBridge id
    assert answer["status"] == "forged"
    assert list(platform.stack.quarantined()) == [f"quarantine/bad_signature/2026/11/26/{event['id']}.json"]


def test_signed_batch_breaking_its_contract_is_quarantined(
    platform: Platform, lambda_context: FakeLambdaContext
) -> None:
    # GIVEN a correctly signed batch without ingest metadata
    detail = signed_batch([signal()])
    del detail["ingest"]
    detail["signature"] = signing.sign(
        SIGNING_KEY.encode(), codec.canonical({k: v for k, v in detail.items() if k != "signature"})
    )
    # WHEN it is delivered
    answer = lambda_handler(bus_event(detail), lambda_context)
    # THEN it is quarantined as malformed, nothing forwarded
    assert answer["status"] == "malformed"
    assert answer["quarantine_key"] == f"quarantine/malformed_batch/2026/11/26/{detail['batch_id']}.json"
    assert platform.forwarded() == []


# --- one bad signal ------------------------------------------------------------------------------


def test_bad_signal_is_quarantined_while_the_others_forward(
    platform: Platform, lambda_context: FakeLambdaContext
) -> None:
    # GIVEN a signed batch whose second signal has an unusable timestamp
    good = [signal(), signal()]
    bad = signal(occurred_at="yesterday at noon")
    detail = signed_batch([good[0], bad, good[1]])
    # WHEN it is enriched
    answer = lambda_handler(bus_event(detail), lambda_context)
    # THEN the good signals are forwarded, in order
    assert (answer["status"], answer["forwarded"], answer["quarantined"]) == ("enriched", 2, 1)
    assert [s["event_id"] for s in _signals(platform.forwarded())] == [g["event_id"] for g in good]
    # AND the bad one is kept with its reason under the batch id
    key = f"quarantine/bad_signal/2026/11/26/{detail['batch_id']}.json"
    body, metadata = platform.stack.quarantined()[key]
    assert metadata == {"reason": "malformed_signal"}
    assert [(r["index"], r["event_id"]) for r in body["rejected"]] == [(1, bad["event_id"])]
    assert "occurred_at" in body["rejected"][0]["reason"]
    assert body["rejected"][0]["signal"] == detail["signals"][1]


# --- outages -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (
            ClientError({"Error": {"Code": "InternalException", "Message": "down"}}, "PutEvents"),
            BusUnavailableError,
        ),
        (
            ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "PutEvents"),
            BusThrottledError,
        ),
        (
            lambda: {
                "FailedEntryCount": 1,
                "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "x"}],
            },
            BusUnavailableError,
        ),
    ],
    ids=["unavailable", "throttled", "entry-failed"],
)
def test_bus_outage_raises_and_leaves_nothing_completed(
    platform: Platform,
    lambda_context: FakeLambdaContext,
    events_spy: EventsSpy,
    capsys: pytest.CaptureFixture[str],
    failure: Any,
    error: type[Exception],
) -> None:
    # GIVEN a warm container, a data-platform bus that fails every PutEvents, and little time left
    lambda_handler(bus_event(signed_batch([signal()])), lambda_context)
    platform.forwarded()
    calls_before = events_spy.put_events_calls
    lambda_context.remaining_millis = 4_500  # 1.5 s of PutEvents retries before the release margin
    events_spy.fail = failure
    event = bus_event(signed_batch([signal(), signal()]))
    # WHEN the batch is enriched
    with pytest.raises(error):
        lambda_handler(event, lambda_context)
    # THEN the invocation fails (so it is retried), the publisher retried, and no record is kept
    assert events_spy.put_events_calls - calls_before >= 2
    assert [r["status"]["S"] for r in platform.stack.idempotency_records()] == ["COMPLETED"]  # the warm-up's
    assert '"EnrichmentRetries"' in capsys.readouterr().out
    # AND once the bus is back, the retry of the same event is enriched and forwarded, not a duplicate
    events_spy.fail = None
    lambda_context.remaining_millis = 10_000
    assert lambda_handler(event, lambda_context)["status"] == "enriched"
    assert len(_signals(platform.forwarded())) == 2


def test_concurrent_copy_of_a_batch_in_progress_raises_retryable_and_puts_nothing(
    platform: Platform, lambda_context: FakeLambdaContext, events_spy: EventsSpy
) -> None:
    # GIVEN a copy of the same batch delivered while the first invocation is still publishing
    event = bus_event(signed_batch([signal()]))
    copies: list[BatchInProgressError] = []

    def deliver_copy_meanwhile() -> dict[str, Any]:
        events_spy.fail = None
        try:
            lambda_handler({**event, "id": str(uuid.uuid4())}, lambda_context)
        except BatchInProgressError as exc:
            copies.append(exc)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "first"}]}

    events_spy.fail = deliver_copy_meanwhile
    # WHEN the first invocation runs
    first = lambda_handler(event, lambda_context)
    # THEN the copy failed with a retryable error before putting anything; the first completed
    assert len(copies) == 1
    assert copies[0].retryable is True
    assert events_spy.put_events_calls == 1
    assert first["status"] == "enriched"
    # AND the copy's retry, later, is answered from the store
    assert lambda_handler(event, lambda_context)["status"] == "duplicate"


def test_idempotency_table_outage_raises_and_forwards_nothing(
    platform: Platform, lambda_context: FakeLambdaContext
) -> None:
    # GIVEN an idempotency table that cannot be reached (here: it does not exist)
    platform.stack.dynamodb.delete_table(TableName=platform.stack.names.idempotency_table)
    # WHEN a batch arrives / THEN the invocation fails retryably, and nothing is enriched unguarded
    with pytest.raises(IdempotencyStoreUnavailableError):
        lambda_handler(bus_event(signed_batch([signal()])), lambda_context)
    assert platform.forwarded() == []


def test_quarantine_outage_raises_so_the_forged_event_is_retried(
    platform: Platform, lambda_context: FakeLambdaContext
) -> None:
    # GIVEN a quarantine bucket that does not exist (a deployment fault or an outage)
    s3 = platform.stack.s3
    s3.delete_bucket(Bucket=platform.stack.names.quarantine_bucket)
    detail = signed_batch([signal()])
    detail["signature"] = signing.sign(b"attacker-key", b"{}")
    # WHEN a forged batch arrives
    # THEN the invocation fails rather than dropping the evidence
    with pytest.raises(QuarantineUnavailableError):
        lambda_handler(bus_event(detail), lambda_context)
    assert platform.forwarded() == []


def test_store_raw_ip_true_keeps_the_address(
    platform: Platform, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN STORE_RAW_IP=true
    monkeypatch.setenv("STORE_RAW_IP", "true")
    dependencies.reset()
    # WHEN a batch is enriched
    lambda_handler(bus_event(signed_batch([signal()])), lambda_context)
    # THEN the raw address travels next to its prefix
    (enriched,) = _signals(platform.forwarded())
    assert enriched["network"] == {"ip_prefix": "198.51.100.0/24", "ip": "198.51.100.23"}
