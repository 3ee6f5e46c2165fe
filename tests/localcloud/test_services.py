"""The clients the local cloud watches: unsigned where moto does not need the signature, and each
cloud of a process its own Region's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from localcloud.cloud import CloudOptions, LocalCloud
from signal_platform import aws_clients
from tests.localcloud.conftest import queue, running, write_template

TABLE = {
    "Type": "AWS::DynamoDB::Table",
    "Properties": {
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    },
}


def _signed(client: Any, sent: list[bool]) -> None:
    def note(request: Any, **_: Any) -> None:
        sent.append("Authorization" in request.headers)

    client.meta.events.register("before-send", note)


def test_dynamodb_goes_unsigned_to_the_cloud_region_and_sqs_stays_signed(tmp_path: Path) -> None:
    with running(tmp_path, {"Table": TABLE, "Queue": queue()}, handlers={}) as cloud:
        dynamodb, sqs = cloud.services.client("dynamodb"), cloud.services.client("sqs")
        dynamodb_signed: list[bool] = []
        sqs_signed: list[bool] = []
        _signed(dynamodb, dynamodb_signed)
        _signed(sqs, sqs_signed)
        table = cloud.stack.get("Table").ref
        dynamodb.put_item(TableName=table, Item={"pk": {"S": "a"}})
        item = dynamodb.get_item(TableName=table, Key={"pk": {"S": "a"}}, ConsistentRead=True)
        queues = sqs.list_queues().get("QueueUrls", [])

    assert item["Item"] == {"pk": {"S": "a"}}  # the table provisioned in the cloud's Region
    assert queues == [cloud.stack.get("Queue").ref]
    assert dynamodb_signed == [False, False]
    assert sqs_signed == [True]


STREAM = {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": 1}}


def test_a_second_cloud_of_the_process_notes_the_writes_to_its_own_streams(tmp_path: Path) -> None:
    # GIVEN two clouds of other Regions open in one process (a package's and a module's), each with
    # a stream
    first, second = tmp_path / "first", tmp_path / "second"
    for folder in (first, second):
        folder.mkdir()
    with (
        LocalCloud(_options(first, "us-west-2")) as one,
        LocalCloud(_options(second, "eu-west-3")) as other,
    ):
        # WHEN an operator's tool, outside any invocation, puts a record on the second cloud's stream
        stream = other.stack.get("Stream")
        aws_clients.client("kinesis", "eu-west-3").put_record(
            StreamARN=stream.arn, Data=b"x", PartitionKey="k"
        )
        # THEN the second cloud noted it (its mappings and Pipes read a shard only after news), the
        # first did not
        assert sum(other.services.stream_activity.values()) == 1
        assert not one.services.stream_activity


def _options(folder: Path, region: str) -> CloudOptions:
    template = write_template(folder, {"Stream": STREAM})
    return CloudOptions(template=template, region=region, stack_name=f"lc-{region}", partner=False)
