"""The accounting on its own: event ids in every shape, the per-consumer balance, the client's ledger."""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Mapping

from localcloud.accounting import Census, Ledger, Report, balance
from localcloud.client import ApiClient
from localcloud.http_api import HttpResponse, http_api_event, lambda_response
from localcloud.pipes import PipeSpec
from localcloud.runtime import Invocation
from localcloud.signals import event_ids
from localcloud.traffic import TrafficEvent


def _signal(event_id: str) -> dict[str, str]:
    return {"event_id": event_id, "event_type": "page_view"}


def test_event_ids_are_found_in_every_shape_the_pipeline_produces() -> None:
    batch_event = {
        "detail-type": "page_view",
        "detail": {"batch_id": "b", "signals": [_signal("a"), _signal("b")]},
    }
    kinesis_record = {
        "eventID": "shardId-0:1",
        "data": base64.b64encode(json.dumps(batch_event).encode()).decode(),
    }
    on_failure = {"requestContext": {}, "requestPayload": batch_event}
    sqs_record = {"messageId": "m", "body": json.dumps(batch_event)}
    bad_object = {"reason": {"code": "x"}, "record": kinesis_record}
    assert list(event_ids(batch_event)) == ["a", "b"]
    assert list(event_ids([kinesis_record])) == ["a", "b"]
    assert list(event_ids(on_failure)) == ["a", "b"]
    assert list(event_ids({"Records": [sqs_record]})) == ["a", "b"]
    assert list(event_ids(bad_object)) == ["a", "b"]
    assert list(event_ids({"detail": {"signals": []}})) == []


def _pipe(logical_id: str, kind: str) -> PipeSpec:
    return PipeSpec(
        logical_id,
        logical_id,
        f"arn:{logical_id}",
        "",
        "arn:stream",
        "stream",
        "Stream",
        "TRIM_HORIZON",
        10,
        0,
        1,
        -1,
        True,
        f"arn:{logical_id}-dlq",
        "arn:target",
        kind,
        False,
        None,
        (),
        True,  # type: ignore[arg-type]
    )


def test_balance_counts_a_signal_in_its_consumers_sink_or_in_a_dlq_it_depends_on() -> None:
    ledger = Ledger()
    for event_id in ("a", "b", "c", "d", "e"):
        ledger.accept(event_id)
    census = Census(
        lake=Counter({"a": 1, "b": 2, "z": 1}),
        partner=Counter({"a": 1, "b": 1}),
        dlq={"Upstream": Counter({"c": 1}), "LakeDlq": Counter({"d": 1}), "PartnerDlq": Counter({"e": 1})},
        dlq_scope={"Upstream": None, "LakeDlq": "Lake", "PartnerDlq": "Partner"},
    )
    lake, partner = balance(ledger, census, [_pipe("Lake", "lambda"), _pipe("Partner", "api-destination")])
    assert (lake.in_sink, lake.in_dlq, lake.lost, lake.unexpected, lake.duplicated) == (
        2,
        2,
        ("e",),
        ("z",),
        ("b",),
    )
    assert (partner.in_sink, partner.in_dlq, partner.lost) == (2, 2, ("d",))
    report = Report(ledger, census, (lake, partner))
    assert report.lost == 2 and not report.ok


def test_a_rejection_without_a_reason_or_with_the_wrong_one_is_recorded() -> None:
    ledger = Ledger()
    ledger.reject("x@1:0", [], "schema_violation")
    ledger.reject("y@1:1", ["unknown_event_type"], "schema_violation")
    assert ledger.rejected_without_reason == 1
    assert ledger.reason_mismatches == [("y@1:1", "schema_violation", "unknown_event_type")]


def test_http_api_event_is_the_payload_2_0_shape_and_binary_bodies_are_base64() -> None:
    event = http_api_event(
        "POST",
        "/v1/events",
        b"\x1f\x8b...",
        {"Content-Type": "application/json", "Content-Encoding": "gzip"},
        request_id="r1",
    )
    assert event["version"] == "2.0" and event["routeKey"] == "POST /v1/events"
    assert event["headers"]["content-encoding"] == "gzip"
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\x1f\x8b..."
    assert (
        event["requestContext"]["http"]["method"] == "POST" and event["requestContext"]["requestId"] == "r1"
    )
    assert http_api_event("POST", "/v1/events", b"{}", {}, request_id="r")["body"] == "{}"


def test_function_answers_become_http_responses_as_api_gateway_makes_them() -> None:
    ok = lambda_response(Invocation("r", {"statusCode": 207, "headers": {"Retry-After": "5"}, "body": "{}"}))
    assert (ok.status, ok.headers, ok.body) == (207, {"retry-after": "5"}, b"{}")
    assert lambda_response(Invocation("r", None, "RuntimeError", "boom")).status == 500


def test_client_resends_retry_verdicts_with_the_same_event_ids_until_accepted() -> None:
    calls: list[list[str]] = []

    def api(method: str, path: str, body: bytes | None, headers: Mapping[str, str]) -> HttpResponse:
        events = json.loads(body or b"{}")["events"]
        calls.append([e["event_id"] for e in events])
        verdict = "retry" if len(calls) == 1 else "accepted"
        results = [{"index": i, "event_id": e["event_id"], "verdict": verdict} for i, e in enumerate(events)]
        status = 429 if verdict == "retry" else 200
        return HttpResponse(
            status, {"retry-after": "5"}, json.dumps({"results": results, "counts": {"rejected": 0}}).encode()
        )

    waits: list[float] = []
    ledger = Ledger()
    client = ApiClient(api, ledger, wait=waits.append)
    result = client.send(
        "k", [TrafficEvent({"event_id": "e1"}, "accepted"), TrafficEvent({"event_id": "e2"}, "accepted")]
    )
    assert calls == [["e1", "e2"], ["e1", "e2"]]
    assert waits == [5.0]
    assert ledger.accepted == Counter({"e1": 1, "e2": 1}) and ledger.resent == 2 and result.retry_left == 0


def test_client_gives_up_after_its_resends_and_remembers_what_is_still_to_retry() -> None:
    def api(method: str, path: str, body: bytes | None, headers: Mapping[str, str]) -> HttpResponse:
        return HttpResponse(503, {"retry-after": "30"}, b'{"error": {"code": "bus_unavailable"}}')

    ledger = Ledger()
    ApiClient(api, ledger, wait=lambda seconds: None, max_resends=2).send(
        "k", [TrafficEvent({"event_id": "e1"}, "accepted")]
    )
    assert ledger.retry == {"e1"} and ledger.requests == 3 and not ledger.accepted
