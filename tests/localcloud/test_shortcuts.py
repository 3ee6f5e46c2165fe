"""The memoized helpers of moto and botocore keep every answer the same."""

from __future__ import annotations

import json
import string
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localcloud import shortcuts


@mock_aws
def test_moto_delivers_rule_events_to_its_own_targets_the_same_with_the_cached_parser() -> None:
    with shortcuts.memoized():
        events = boto3.client("events", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="copy")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="all", EventPattern='{"source": ["shop"]}')
        events.put_targets(Rule="all", Targets=[{"Id": "q", "Arn": arn}])
        for number in range(3):  # the second and third events reuse the parsed paths
            events.put_events(Entries=[{"Source": "shop", "DetailType": "t", "Detail": f'{{"n": {number}}}'}])
        bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]

    delivered = [json.loads(body) for body in bodies]
    assert sorted(event["detail"]["n"] for event in delivered) == [0, 1, 2]
    assert {(event["source"], event["detail-type"]) for event in delivered} == {("shop", "t")}


@mock_aws
def test_the_original_helpers_are_back_once_the_cloud_stops() -> None:
    import jsonpath_ng.ext

    original = jsonpath_ng.ext.parse
    with shortcuts.memoized():
        assert jsonpath_ng.ext.parse("$.id") is jsonpath_ng.ext.parse("$.id")

    assert jsonpath_ng.ext.parse is original


def _table() -> Any:
    """A DynamoDB client and its on-demand table "t" keyed by "pk" (inside ``mock_aws``)."""
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    dynamodb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return dynamodb


@mock_aws
def test_moto_applies_each_update_with_its_own_values_with_the_cached_expression() -> None:
    from botocore.exceptions import ClientError

    with shortcuts.memoized():
        dynamodb = _table()
        for key in ("a", "b"):
            dynamodb.put_item(TableName="t", Item={"pk": {"S": key}, "hits": {"N": "0"}})
        for key, state, step in (("a", "pending", "1"), ("b", "committed", "5"), ("a", "committed", "2")):
            dynamodb.update_item(  # one expression string: parsed once, applied three times
                TableName="t",
                Key={"pk": {"S": key}},
                UpdateExpression="SET #state = :state, hits = hits + :step",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":state": {"S": state}, ":step": {"N": step}},
            )
        items = {item["pk"]["S"]: item for item in dynamodb.scan(TableName="t")["Items"]}
        for _ in range(2):  # a bad expression fails every time, not only when first parsed
            with pytest.raises(ClientError, match="ValidationException"):
                dynamodb.update_item(TableName="t", Key={"pk": {"S": "a"}}, UpdateExpression="SET = oops")

    assert (items["a"]["state"], items["a"]["hits"]) == ({"S": "committed"}, {"N": "3"})
    assert (items["b"]["state"], items["b"]["hits"]) == ({"S": "committed"}, {"N": "5"})


@mock_aws
def test_moto_checks_each_condition_with_its_own_values_with_the_cached_tokens() -> None:
    from botocore.exceptions import ClientError

    with shortcuts.memoized():
        dynamodb = _table()

        def claim(owner: str, previous: str | None) -> bool:
            condition: dict[str, Any] = (
                {"ConditionExpression": "attribute_not_exists(pk)"}
                if previous is None
                else {
                    "ConditionExpression": "attempt = :previous",
                    "ExpressionAttributeValues": {":previous": {"S": previous}},
                }
            )
            try:
                dynamodb.put_item(
                    TableName="t", Item={"pk": {"S": "r"}, "attempt": {"S": owner}}, **condition
                )
            except ClientError as error:
                assert error.response["Error"]["Code"] == "ConditionalCheckFailedException"
                return False
            return True

        outcomes = [claim("one", None), claim("two", None), claim("two", "zero"), claim("two", "one")]

    assert outcomes == [True, False, False, True]


def test_moto_random_strings_keep_their_alphabet_length_and_seed() -> None:
    from moto.moto_api._internal import mock_random

    with shortcuts.memoized():
        mock_random.seed(7)
        first = mock_random.get_random_string(length=52)
        mock_random.seed(7)
        again = mock_random.get_random_string(length=52)
        letters = mock_random.get_random_string(200, include_digits=False)
        lower = mock_random.get_random_string(200, lower_case=True)

    assert first == again
    assert len(first) == 52
    assert set(first) <= set(string.ascii_letters + string.digits)
    assert set(letters) <= set(string.ascii_letters)
    assert lower == lower.lower()
    assert len(set(letters)) > 26  # drawn from the whole alphabet, not a corner of it


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "a": 2, "b": [1.5, -0.0, 1e-7, "\\u00e9"]}',
        '{"big": 123456789012345678901234567890, "small": 18446744073709551615}',
        '{"huge": 1e400, "long": 0.12345678901234567890123}',
        '{"nan": NaN, "inf": Infinity}',
        '{"lone": "\\ud800"}',
        '{"arabic_indic_digits": "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660'
        '\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669", "big": 98765432109876543210}',
        "[1, 2",
    ],
)
def test_moto_events_parses_json_exactly_as_the_standard_library(text: str) -> None:
    import moto.events.models

    expected: object
    try:
        expected = json.loads(text)
    except ValueError as error:
        expected = type(error)
    with shortcuts.memoized():
        try:
            parsed = moto.events.models.json.loads(text)
        except ValueError as error:
            parsed = type(error)

    assert repr(parsed) == repr(expected)
    assert moto.events.models.json is json
