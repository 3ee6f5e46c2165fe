"""The validator's one metric line per request (Powertools EMF on stdout, what CloudWatch Logs ingests):
every count the alarms and the dashboard read when it is not zero, and no zeros."""

from __future__ import annotations

import pytest

from tests.conftest import FakeLambdaContext
from tests.http_events import batch_body, http_api_event, page_view
from tests.integration.conftest import IngressPlatform
from tests.unit.test_s3_writer_handler import _metrics
from validator.handler import lambda_handler


def test_one_event_request_metric_line_holds_only_what_happened(
    ingress: IngressPlatform, lambda_context: FakeLambdaContext, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN one valid event in a request, as a browser beacon sends it
    event = http_api_event(batch_body([page_view()]), write_key=ingress.write_key)
    # WHEN the validator handles it
    response = lambda_handler(event, lambda_context)
    # THEN its metric line counts the accepted event and the bus call, and carries no zero count
    assert response["statusCode"] == 200
    assert _metrics(capsys.readouterr().out) == {"EventsAccepted": 1, "BusEntries": 1, "PutEventsCalls": 1}


def test_rejected_events_counted_when_there_are_some(
    ingress: IngressPlatform, lambda_context: FakeLambdaContext, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a request with one good and two bad events
    body = batch_body([page_view(), {"event_type": "teleport"}, 5])
    # WHEN handled
    lambda_handler(http_api_event(body, write_key=ingress.write_key), lambda_context)
    # THEN the rejected ones are counted beside the accepted one
    metrics = _metrics(capsys.readouterr().out)
    assert metrics["EventsAccepted"] == 1
    assert metrics["EventsRejected"] == 2
    assert "EventsRetry" not in metrics
