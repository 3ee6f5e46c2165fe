"""The call meter: billed units from call parameters, and counts from botocore's own hooks."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from localcloud.metering import LOCAL_CLOUD, CallMeter, call_units, entry_bytes, item_bytes


def test_call_units_put_events_counts_entries_and_64kb_chunks() -> None:
    # GIVEN one small entry and one just over 64 KB
    small = {"Source": "signals.ingest", "DetailType": "page_view", "Detail": "{}"}
    large = {"Source": "signals.ingest", "DetailType": "page_view", "Detail": "x" * (64 * 1024)}

    # WHEN the units of the call are counted
    units = call_units("events", "PutEvents", {"Entries": [small, large]})

    # THEN two entries, three billed chunks, and the billed bytes of both
    assert units["entries"] == 2
    assert units["chunks"] == 3
    assert units["entry_bytes"] == entry_bytes(small) + entry_bytes(large) == 25 + (23 + 64 * 1024)


def test_call_units_kinesis_rounds_each_record_to_1kb_and_25kb_put_units() -> None:
    records = [{"Data": b"a" * 1500, "PartitionKey": "k"}, {"Data": b"b" * 10, "PartitionKey": "k"}]

    units = call_units("kinesis", "PutRecords", {"Records": records, "StreamName": "s"})

    assert (units["records"], units["kib_rounded"], units["put_payload_units"]) == (2, 3, 2)
    assert units["record_bytes"] == 1512


def test_call_units_dynamodb_write_units_follow_item_size() -> None:
    small = {"id": {"S": "batch-1"}, "status": {"S": "INPROGRESS"}, "expiration": {"N": "1796000000"}}
    large = {"id": {"S": "batch-2"}, "data": {"S": "x" * 3000}}

    assert item_bytes(small) == 2 + 7 + 6 + 10 + 10 + 6
    assert call_units("dynamodb", "PutItem", {"Item": small})["write_units"] == 1
    assert call_units("dynamodb", "PutItem", {"Item": large})["write_units"] == 3


def test_call_meter_charges_calls_to_the_running_function() -> None:
    # GIVEN a watched EventBridge client answered by botocore's stubber, inside "ValidatorFunction"
    running: list[str | None] = ["ValidatorFunction"]
    meter = CallMeter(lambda: running[0])
    client = boto3.session.Session().client("events", region_name="us-west-2")
    meter.watch(client)
    meter.watch(client)  # a second registration must not count twice
    entry = {"Source": "signals.ingest", "DetailType": "click", "Detail": '{"a":1}', "EventBusName": "b"}
    with Stubber(client) as stub:
        stub.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}] * 2})
        stub.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "2"}]})
        # WHEN the function makes two calls and the cloud itself one
        client.put_events(Entries=[entry, entry])
        running[0] = None
        client.put_events(Entries=[entry])

    # THEN each call is counted once, with its entries, under whoever made it
    function = meter.stats["ValidatorFunction", "events", "PutEvents"]
    cloud = meter.stats[LOCAL_CLOUD, "events", "PutEvents"]
    assert (function.calls, function.units["entries"], function.units["chunks"]) == (1, 2, 2)
    assert (cloud.calls, cloud.units["entries"]) == (1, 1)
    assert function.errors == 0


def test_call_meter_counts_a_failed_call_without_its_units() -> None:
    meter = CallMeter(lambda: "EnrichmentFunction")
    client = boto3.session.Session().client("dynamodb", region_name="us-west-2")
    meter.watch(client)
    with Stubber(client) as stub:
        stub.add_client_error("put_item", "ConditionalCheckFailedException", http_status_code=400)
        with pytest.raises(client.exceptions.ConditionalCheckFailedException):
            client.put_item(TableName="t", Item={"id": {"S": "x"}})

    stats = meter.stats["EnrichmentFunction", "dynamodb", "PutItem"]
    assert (stats.calls, stats.errors, stats.units["write_units"]) == (1, 1, 0)
