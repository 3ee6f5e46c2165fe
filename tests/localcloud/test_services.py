"""The clients the local cloud watches: unsigned where moto does not need the signature."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.localcloud.conftest import queue, running

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
