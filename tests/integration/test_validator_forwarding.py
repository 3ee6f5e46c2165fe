"""The validator against moto: what reaches the ingress bus, exactly once, signed; and every failure path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonschema_rs
import pytest
from botocore.exceptions import ClientError

from signal_platform import aws_clients, codec, signing
from signal_platform.schema_registry import SchemaRegistry
from signal_platform.signal_batches import unsigned_bytes
from tests.conftest import FakeLambdaContext
from tests.http_events import batch_body, http_api_event, page_view
from tests.integration.conftest import SIGNING_KEY, BatchShape, IngressPlatform
from validator.handler import lambda_handler


def _post(
    ingress: IngressPlatform, context: FakeLambdaContext, events: list[Any], **kwargs: Any
) -> dict[str, Any]:
    kwargs.setdefault("write_key", ingress.write_key)
    response = lambda_handler(http_api_event(batch_body(events), **kwargs), context)
    response["json"] = codec.loads(response["body"])
    return response


class FlakyEvents:
    """Wraps the moto events client: ``fail(call_number, entries)`` decides per call what fails."""

    def __init__(self, real: Any, plan: Callable[[int, list[dict[str, Any]]], Any]) -> None:
        self.real, self.plan, self.calls = real, plan, 0

    def put_events(self, **request: Any) -> dict[str, Any]:
        self.calls += 1
        decision = self.plan(self.calls, request["Entries"])
        if isinstance(decision, Exception):
            raise decision
        failed: set[int] = decision
        passing = [entry for index, entry in enumerate(request["Entries"]) if index not in failed]
        if passing:
            self.real.put_events(Entries=passing)
        results = [
            {"ErrorCode": "InternalFailure", "ErrorMessage": "injected"}
            if index in failed
            else {"EventId": f"e{index}"}
            for index in range(len(request["Entries"]))
        ]
        return {"FailedEntryCount": len(failed), "Entries": results}


def _install(
    monkeypatch: pytest.MonkeyPatch, plan: Callable[[int, list[dict[str, Any]]], Any]
) -> FlakyEvents:
    real = aws_clients.client("events")
    flaky = FlakyEvents(real, plan)
    original = aws_clients.client
    monkeypatch.setattr(
        aws_clients,
        "client",
        lambda service, region=None: flaky if service == "events" else original(service, region),
    )
    return flaky


def _throttled() -> ClientError:
    return ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "PutEvents")


def test_valid_batch_forwarded_exactly_once_and_signed(
    ingress: IngressPlatform, lambda_context: FakeLambdaContext, batch_shape: BatchShape
) -> None:
    # GIVEN 120 valid page views (more than one signal batch)
    events = [page_view() for _ in range(120)]
    # WHEN they are posted
    response = _post(ingress, lambda_context, events)
    # THEN all are accepted, and each arrives on the bus exactly once, in order, in signed batches
    assert response["statusCode"] == 200
    assert response["json"]["counts"] == {"received": 120, "accepted": 120, "rejected": 0, "retry": 0}
    forwarded = ingress.forwarded()
    assert [s["event_id"] for e in forwarded for s in e["detail"]["signals"]] == [
        e["event_id"] for e in events
    ]
    assert len(forwarded) == 3  # 50 + 50 + 20 with MAX_SIGNALS_PER_ENTRY=50
    for bus_event in forwarded:
        detail = bus_event["detail"]
        assert (bus_event["source"], bus_event["detail-type"]) == ("signals.ingest", batch_shape.detail_type)
        assert detail["ingest"]["source_id"] == "web-shop"
        assert signing.verify(SIGNING_KEY.encode(), unsigned_bytes(detail), detail["signature"])


def test_partly_invalid_batch_forwards_only_valid(
    ingress: IngressPlatform, lambda_context: FakeLambdaContext
) -> None:
    # GIVEN two good events around three bad ones
    good = [page_view(), page_view()]
    bad_schema = page_view()
    bad_schema["data"]["page_type"] = "spaceship"
    events = [good[0], {"event_type": "teleport"}, bad_schema, good[1], dict(good[0])]
    # WHEN posted
    response = _post(ingress, lambda_context, events)
    # THEN 207 with per-event verdicts, and only the good ones reach the bus
    assert response["statusCode"] == 207
    assert [r["verdict"] for r in response["json"]["results"]] == [
        "accepted",
        "rejected",
        "rejected",
        "accepted",
        "rejected",
    ]
    assert [s["event_id"] for s in ingress.forwarded_signals()] == [e["event_id"] for e in good]


def test_all_invalid_batch_is_400_and_nothing_forwarded(
    ingress: IngressPlatform, lambda_context: FakeLambdaContext
) -> None:
    response = _post(ingress, lambda_context, [{"event_type": "teleport"}, 5])
    assert response["statusCode"] == 400
    assert response["json"]["counts"]["rejected"] == 2
    assert ingress.forwarded() == []


def test_gzip_body_accepted(ingress: IngressPlatform, lambda_context: FakeLambdaContext) -> None:
    events = [page_view() for _ in range(3)]
    response = _post(ingress, lambda_context, events, gzip_body=True)
    assert response["statusCode"] == 200
    assert len(ingress.forwarded_signals()) == 3


def test_identical_resend_gives_identical_batches(
    ingress: IngressPlatform, lambda_context: FakeLambdaContext
) -> None:
    # GIVEN a request sent twice (a client retry after a lost answer)
    events = [page_view() for _ in range(60)]
    _post(ingress, lambda_context, events)
    first = [e["detail"]["batch_id"] for e in ingress.forwarded()]
    # WHEN resent
    _post(ingress, lambda_context, events)
    second = [e["detail"]["batch_id"] for e in ingress.forwarded()]
    # THEN the batch ids are the same, so enrichment's idempotency drops the copy
    assert first == second
    assert len(first) == 2


def test_partial_put_failures_retried_without_duplicates(
    ingress: IngressPlatform, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a bus that fails the 2nd entry of the first call and the 1st entry of the second call
    flaky = _install(monkeypatch, lambda call, entries: {1} if call == 1 else ({0} if call == 2 else set()))
    events = [page_view() for _ in range(150)]
    # WHEN 150 events (3 entries) are posted
    response = _post(ingress, lambda_context, events)
    # THEN all are accepted, each signal arrives once, and only failed entries were re-sent
    assert response["statusCode"] == 200
    signal_ids = [s["event_id"] for s in ingress.forwarded_signals()]
    assert sorted(signal_ids) == sorted(e["event_id"] for e in events)
    assert len(signal_ids) == len(set(signal_ids))
    assert flaky.calls == 3


def test_throttled_calls_retried_until_delivered(
    ingress: IngressPlatform, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install(monkeypatch, lambda call, entries: _throttled() if call <= 2 else set())
    events = [page_view() for _ in range(10)]
    response = _post(ingress, lambda_context, events)
    assert response["statusCode"] == 200
    assert [s["event_id"] for s in ingress.forwarded_signals()] == [e["event_id"] for e in events]


@pytest.mark.parametrize(
    ("failure", "status", "retry_after"),
    [
        (
            lambda: ClientError({"Error": {"Code": "InternalException", "Message": "down"}}, "PutEvents"),
            503,
            "30",
        ),
        (_throttled, 429, "5"),
    ],
    ids=["outage", "throttling"],
)
def test_bus_that_stays_down_gives_retry_verdicts(
    ingress: IngressPlatform,
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    failure: Callable[[], Exception],
    status: int,
    retry_after: str,
) -> None:
    # GIVEN a bus that fails every call, and a Lambda with 3 s left
    _install(monkeypatch, lambda call, entries: failure())
    lambda_context.remaining_millis = 3000
    good, bad = page_view(), {"event_type": "teleport"}
    # WHEN events are posted
    response = _post(ingress, lambda_context, [good, bad])
    # THEN the valid event is `retry`, the invalid stays rejected, and the client is told when to come back
    assert response["statusCode"] == status
    assert response["headers"]["Retry-After"] == retry_after
    assert [r["verdict"] for r in response["json"]["results"]] == ["retry", "rejected"]
    assert ingress.forwarded() == []


@pytest.mark.parametrize(
    ("write_key", "status", "code"),
    [
        ("web-shop.wrong-secret", 401, "unauthenticated"),
        ("nobody.secret", 401, "unauthenticated"),
        ("retired-kiosk.retired-secret", 403, "forbidden"),
    ],
)
def test_bad_write_key_refused_and_nothing_forwarded(
    ingress: IngressPlatform, lambda_context: FakeLambdaContext, write_key: str, status: int, code: str
) -> None:
    response = _post(ingress, lambda_context, [page_view()], write_key=write_key)
    assert (response["statusCode"], response["json"]["error"]["code"]) == (status, code)
    assert ingress.forwarded() == []


def test_missing_write_key_is_401(ingress: IngressPlatform, lambda_context: FakeLambdaContext) -> None:
    response = lambda_handler(http_api_event(batch_body([page_view()])), lambda_context)
    assert response["statusCode"] == 401


def test_sources_table_unreachable_is_503(
    ingress: IngressPlatform, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a sources table that is gone
    ingress.dynamodb.delete_table(TableName="signals-sources")
    # WHEN a request arrives / THEN it is a retryable 503, never a 401 that would make the client give up
    response = _post(ingress, lambda_context, [page_view()])
    assert response["statusCode"] == 503
    assert response["json"]["error"]["retryable"] is True


def test_forwarded_batches_match_the_signal_batch_contract(
    ingress: IngressPlatform, lambda_context: FakeLambdaContext, batch_shape: BatchShape
) -> None:
    # GIVEN the published contract of the ingress bus, in the version the grouping writes
    contract = jsonschema_rs.Draft7Validator(
        SchemaRegistry().contract("signal_batch", batch_shape.contract_version), validate_formats=True
    )
    # WHEN a mixed request is forwarded
    _post(ingress, lambda_context, [page_view() for _ in range(3)])
    # THEN every Detail the bus carries satisfies it
    details = [event["detail"] for event in ingress.forwarded()]
    assert details
    for detail in details:
        assert contract.is_valid(detail), [e.message for e in contract.iter_errors(detail)]
