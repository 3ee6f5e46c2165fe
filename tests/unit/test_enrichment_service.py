"""The enrichment's domain operation with in-memory collaborators: verify, quarantine, enrich, forward."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest
from botocore.exceptions import ClientError

from enrichment.models import BusEvent, SourceBatch
from enrichment.quarantine import Quarantine, object_name, quarantine_key
from enrichment.service import EnrichmentService, idempotency_data, no_guard
from enrichment.signals import SignalEnricher
from enrichment.user_agents import UserAgentParser
from enrichment.verification import BatchVerifier
from signal_platform import codec, signing
from signal_platform.bus_publisher import BusPublisher, RetryPolicy
from signal_platform.errors import (
    BusThrottledError,
    BusUnavailableError,
    MalformedBatchError,
    QuarantineUnavailableError,
    SigningKeyUnavailableError,
)
from signal_platform.signal_batches import EncodedSignal, IngestMetadata, SignalBatcher, by_partition_key

KEY = b"unit-test-signing-key"
NOW = datetime(2026, 11, 26, 16, 0, 1, 500_000, tzinfo=UTC)
INGEST = IngestMetadata("2026-11-26T16:00:00.140Z", "us-west-2", "req-1", "web-shop")


class FakeS3:
    def __init__(self, error: Exception | None = None) -> None:
        self.objects: dict[str, tuple[bytes, dict[str, str]]] = {}
        self.error = error

    def put_object(self, **request: Any) -> None:
        if self.error:
            raise self.error
        assert (request["Bucket"], request["ContentType"]) == ("quarantine", "application/json")
        self.objects[request["Key"]] = (request["Body"], request["Metadata"])


class FakeEvents:
    """Accepts every entry unless told to fail some by index (per call)."""

    def __init__(self, fail: set[int] | None = None, code: str = "InternalFailure") -> None:
        self.requests: list[list[dict[str, Any]]] = []
        self.fail, self.code = fail or set(), code

    def put_events(self, *, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        self.requests.append(Entries)
        results = [
            {"ErrorCode": self.code, "ErrorMessage": "x"} if i in self.fail else {"EventId": str(i)}
            for i in range(len(Entries))
        ]
        return {"FailedEntryCount": len(self.fail & set(range(len(Entries)))), "Entries": results}

    def details(self) -> list[dict[str, Any]]:
        return [codec.loads(entry["Detail"]) for request in self.requests for entry in request]


def make_service(
    *,
    s3: FakeS3 | None = None,
    events: FakeEvents | None = None,
    key: Callable[[], bytes] = lambda: KEY,
    fresh_key: bytes | None = None,
    guard: Callable[[Any], Any] = no_guard,
    max_signals: int = 2,
    by_type: bool = True,
) -> tuple[EnrichmentService, FakeS3, FakeEvents]:
    s3, events = s3 or FakeS3(), events or FakeEvents()
    service = EnrichmentService(
        verifier=BatchVerifier(key, (lambda: fresh_key) if fresh_key else None),
        enricher=SignalEnricher(UserAgentParser(), store_raw_ip=False),
        batcher=SignalBatcher(
            bus_name="data-platform",
            entry_source="signals.enriched",
            max_signals=max_signals,
            signer=None,
            group_key=by_partition_key,
            group_field="partition_key",
            by_type=by_type,
        ),
        publisher=BusPublisher(
            client=lambda: events, policy=RetryPolicy(max_attempts=3), sleep=lambda _: None, rand=lambda: 0.0
        ),
        quarantine=Quarantine("quarantine", client=lambda: s3, clock=lambda: NOW),
        guard=guard,
        clock=lambda: NOW,
    )
    return service, s3, events


def signal(n: int, *, anonymous_id: str = "anon-1", **overrides: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "event_id": str(uuid.UUID(int=n, version=4)),
        "event_type": "page_view",
        "schema_version": "1-0-0",
        "occurred_at": "2026-11-26T15:59:58.000Z",
        "derived_at": "2026-11-26T15:59:58.100Z",
        "source": "web-shop",
        "context": {"anonymous_id": anonymous_id},
        "data": {"page_url": "https://shop.example.com/"},
        **overrides,
    }
    return value


def event_for(signals: list[dict[str, Any]], *, key: bytes = KEY) -> BusEvent:
    encoded = [EncodedSignal(s["event_id"], "page_view", "web-shop", codec.canonical(s)) for s in signals]
    batcher = SignalBatcher(
        bus_name="ingress", entry_source="signals.ingest", max_signals=500, signer=partial(signing.sign, key)
    )
    (entry,) = batcher.build(encoded, INGEST)
    raw = {
        "version": "0",
        "id": "0d9f8e7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f",
        "detail-type": "page_view",
        "source": "signals.ingest",
        "account": "123456789012",
        "time": "2026-11-26T23:59:59Z",
        "region": "us-west-2",
        "resources": [],
        "detail": codec.loads(entry.entry["Detail"]),
    }
    return BusEvent.parse(raw)


def test_handle_valid_batch_regroups_and_forwards() -> None:
    # GIVEN a signed batch of five signals of two visitors
    signals = [signal(n, anonymous_id=("anon-1", "anon-2")[n % 2]) for n in range(5)]
    service, s3, events = make_service()
    # WHEN it is handled
    outcome = service.handle(event_for(signals), deadline=float("inf"))
    # THEN the signals go out regrouped by partition key, at most two per entry, nothing quarantined
    assert (outcome.status, outcome.forwarded, outcome.quarantined, outcome.entries) == ("enriched", 5, 0, 3)
    assert [(d["partition_key"], [s["event_id"] for s in d["signals"]]) for d in events.details()] == [
        ("anon-1", [signals[0]["event_id"], signals[2]["event_id"]]),
        ("anon-1", [signals[4]["event_id"]]),
        ("anon-2", [signals[1]["event_id"], signals[3]["event_id"]]),
    ]
    assert {d["source_batch_id"] for d in events.details()} == {outcome.batch_id}
    assert {d["enriched_at"] for d in events.details()} == {"2026-11-26T16:00:01.500Z"}
    assert s3.objects == {}


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda d: d.pop("signature"), "missing_signature"),
        (lambda d: d.update(signature=42), "missing_signature"),
        (lambda d: d.update(signature="v1=" + "0" * 64), "bad_signature"),
        (lambda d: d["signals"][0].update(event_id=str(uuid.uuid4())), "bad_signature"),
        (lambda d: d["ingest"].update(source_id="someone-else"), "bad_signature"),
        (lambda d: d["signals"][0]["data"].update(big=2**70), "unverifiable"),
    ],
    ids=["missing", "not-a-string", "zeros", "tampered-signal", "tampered-ingest", "unencodable"],
)
def test_handle_forged_batch_quarantines_whole_event_and_forwards_nothing(tamper: Any, reason: str) -> None:
    # GIVEN a signed batch with its signature removed or its content changed
    event = event_for([signal(1), signal(2)])
    raw = copy.deepcopy(dict(event.raw))
    tamper(raw["detail"])
    service, s3, events = make_service()
    # WHEN it is handled
    outcome = service.handle(BusEvent.parse(raw), deadline=float("inf"))
    # THEN it is never enriched nor forwarded; the whole event is kept under a deterministic key
    assert (outcome.status, outcome.reason) == ("forged", reason)
    assert events.requests == []
    key = f"quarantine/bad_signature/2026/11/26/{raw['detail']['batch_id']}.json"
    assert outcome.quarantine_key == key
    body, metadata = s3.objects[key]
    assert metadata == {"reason": reason}
    assert body.decode().startswith("{")


def test_handle_batch_signed_with_a_rotated_key_verifies_against_a_fresh_read() -> None:
    # GIVEN a container still holding the old key while the validator signs with the new one
    service, s3, _events = make_service(key=lambda: b"old-key", fresh_key=KEY)
    # WHEN a batch signed with the new key arrives / THEN it is enriched, not called forged
    assert service.handle(event_for([signal(1)]), deadline=float("inf")).status == "enriched"
    assert s3.objects == {}


def test_handle_signing_key_outage_raises_retryable() -> None:
    def unavailable() -> bytes:
        raise SigningKeyUnavailableError("down")

    service = make_service(key=unavailable)[0]
    with pytest.raises(SigningKeyUnavailableError):
        service.handle(event_for([signal(1)]), deadline=float("inf"))


def test_handle_signed_but_malformed_batch_is_quarantined() -> None:
    # GIVEN a correctly signed batch whose signals are not an array
    raw = dict(event_for([signal(1)]).raw)
    detail = {**raw["detail"], "signals": {"0": signal(1)}}
    detail.pop("signature")
    detail["signature"] = signing.sign(KEY, codec.canonical(detail))
    service, s3, events = make_service()
    # WHEN it is handled
    outcome = service.handle(BusEvent.parse({**raw, "detail": detail}), deadline=float("inf"))
    # THEN it is quarantined as malformed, nothing forwarded
    assert (outcome.status, outcome.reason) == ("malformed", "signals must be a non-empty array")
    assert list(s3.objects) == [f"quarantine/malformed_batch/2026/11/26/{detail['batch_id']}.json"]
    assert events.requests == []


def test_handle_bad_signal_is_quarantined_and_the_rest_forwarded() -> None:
    # GIVEN a signed batch whose middle signal has another event type
    signals = [signal(1), signal(2, event_type="click"), signal(3)]
    event = event_for(signals)
    service, s3, events = make_service()
    # WHEN it is handled
    outcome = service.handle(event, deadline=float("inf"))
    # THEN the others are forwarded and the bad one kept with its reason
    assert (outcome.forwarded, outcome.quarantined) == (2, 1)
    assert [s["event_id"] for d in events.details() for s in d["signals"]] == [
        signals[0]["event_id"],
        signals[2]["event_id"],
    ]
    body, _ = s3.objects[f"quarantine/bad_signal/2026/11/26/{outcome.batch_id}.json"]
    document = codec.loads(body)
    assert [r["index"] for r in document["rejected"]] == [1]
    assert "click" in document["rejected"][0]["reason"]
    assert document["ingest"]["request_id"] == "req-1"


def test_handle_quarantine_outage_raises_before_anything_is_forwarded() -> None:
    # GIVEN a batch with a bad signal and a quarantine bucket that cannot be written
    error = ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "PutObject")
    service, _, events = make_service(s3=FakeS3(error))
    # WHEN it is handled / THEN the invocation fails, nothing forwarded, so the retry loses nothing
    with pytest.raises(QuarantineUnavailableError):
        service.handle(event_for([signal(1), signal(2, occurred_at="noon")]), deadline=float("inf"))
    assert events.requests == []


@pytest.mark.parametrize(
    ("code", "error"), [("InternalFailure", BusUnavailableError), ("ThrottlingException", BusThrottledError)]
)
def test_handle_entries_still_failing_after_retries_raise_retryable(
    code: str, error: type[Exception]
) -> None:
    # GIVEN a bus that fails the first entry of every call
    service, _, events = make_service(events=FakeEvents(fail={0}, code=code))
    # WHEN a batch is handled
    with pytest.raises(error, match="not delivered after 3 attempts") as raised:
        service.handle(event_for([signal(1), signal(2), signal(3)]), deadline=float("inf"))
    # THEN the error is retryable, and the publisher retried only the failed entry
    assert getattr(raised.value, "retryable", False) is True
    assert [len(r) for r in events.requests] == [2, 1, 1]


def test_handle_runs_the_enrichment_through_the_guard_with_the_batch_id_key() -> None:
    # GIVEN a guard that records the idempotency payload and answers "enriched before" the second time
    seen: list[dict[str, Any]] = []

    def guard(function: Any) -> Any:
        stored: dict[str, Any] = {}

        def once(**kwargs: Any) -> dict[str, Any]:
            seen.append(kwargs["idempotency_key"])
            key = kwargs["idempotency_key"]["detail"]["batch_id"]
            if key not in stored:
                stored[key] = function(**kwargs)
                return dict(stored[key])
            return {**stored[key], "status": "duplicate"}

        return once

    service, _, events = make_service(guard=guard)
    event = event_for([signal(1)])
    # WHEN the same event is handled twice
    first = service.handle(event, deadline=float("inf"))
    second = service.handle(event, deadline=float("inf"))
    # THEN the guard keys on detail.batch_id only, and the second answer is a duplicate with no put
    assert seen == [idempotency_data(first.batch_id or "")] * 2
    assert (first.status, second.status) == ("enriched", "duplicate")
    assert len(events.requests) == 1


# --- models and keys -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"batch_id": "ABC"}, "batch_id"),
        ({"signals": []}, "signals"),
        ({"ingest": None}, "ingest must be an object"),
        ({"ingest": {**INGEST.as_dict(), "received_at": "noon"}}, "ingest.received_at"),
        ({"ingest": {**INGEST.as_dict(), "request_id": " "}}, "ingest.request_id"),
        ({"event_type": ""}, "event_type"),
    ],
)
def test_source_batch_breaking_the_contract_raises(change: dict[str, Any], message: str) -> None:
    detail = {**dict(event_for([signal(1)]).detail or {}), **change}
    with pytest.raises(MalformedBatchError, match=message):
        SourceBatch.parse(detail)


def test_bus_event_parse_tolerates_any_shape() -> None:
    event = BusEvent.parse({"detail": [1], "id": 5})
    assert (event.event_id, event.source, event.detail, event.claimed_batch_id) == ("", "", None, None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"id": "abc-123", "detail": {"batch_id": "5e0b7c3a9d2f41e8b6a1c4d7e9f02b38"}},
            "5e0b7c3a9d2f41e8b6a1c4d7e9f02b38",
        ),
        ({"id": "abc-123", "detail": {"batch_id": "../../etc/passwd"}}, "abc-123"),
        ({"id": "../x", "detail": {}}, "sha256-"),
    ],
    ids=["batch-id", "bad-batch-id", "bad-both"],
)
def test_object_name_is_safe_and_deterministic(raw: dict[str, Any], expected: str) -> None:
    name = object_name(BusEvent.parse(raw))
    assert name.startswith(expected)
    assert name == object_name(BusEvent.parse(copy.deepcopy(raw)))
    assert "/" not in name


def test_quarantine_key_uses_utc_date_of_the_event_time() -> None:
    # GIVEN an event stamped just before midnight UTC / WHEN keyed / THEN its UTC day is used
    s3 = FakeS3()
    quarantine = Quarantine("quarantine", client=lambda: s3, clock=lambda: NOW)
    event = BusEvent.parse({"id": "e-1", "time": "2026-11-27T01:30:00+02:00", "detail": {}})
    assert quarantine.event("bad_signature", event, "missing_signature") == quarantine_key(
        "bad_signature", datetime(2026, 11, 26, tzinfo=UTC).date(), "e-1"
    )
    no_time = BusEvent.parse({"id": "e-2", "detail": {}})
    assert quarantine.event("bad_signature", no_time, "x").startswith("quarantine/bad_signature/2026/11/26/")
