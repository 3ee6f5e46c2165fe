"""The lease store against moto's DynamoDB: the conditional UpdateItem keeps every window within budget."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from signal_platform.errors import RateLimitedError
from tests.conftest import REGION
from validator.limits import (
    LEASE_ITEM_TTL_SECONDS,
    DynamoLeaseStore,
    LeaseUnavailableError,
    SourceRateLimiter,
)

TABLE = "rate-leases"


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName=TABLE,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def test_lease_store_grants_until_the_budget_then_refuses(dynamodb: Any) -> None:
    # GIVEN a budget of 100 for one source and window
    store = DynamoLeaseStore(TABLE, client=lambda: dynamodb)
    # WHEN leases of 30 are asked for until one is refused, then a lease that fits the rest
    grants = [store.lease("web-shop", 1_000, 30, 100) for _ in range(4)]
    # THEN three fit, the fourth does not, 10 still fit, and the item says what was granted
    assert grants == [True, True, True, False]
    assert store.lease("web-shop", 1_000, 10, 100)
    assert not store.lease("web-shop", 1_000, 1, 100)
    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "web-shop#1000"}})["Item"]
    assert item["granted"] == {"N": "100"}
    assert item["expiration"] == {"N": str(1_000 + LEASE_ITEM_TTL_SECONDS)}


def test_lease_store_windows_and_sources_are_separate(dynamodb: Any) -> None:
    store = DynamoLeaseStore(TABLE, client=lambda: dynamodb)
    assert store.lease("web-shop", 1_000, 100, 100)
    assert store.lease("web-shop", 1_001, 100, 100)
    assert store.lease("kiosk", 1_000, 100, 100)


def test_lease_store_missing_table_raises_unavailable(dynamodb: Any) -> None:
    store = DynamoLeaseStore("no-such-table", client=lambda: dynamodb)
    with pytest.raises(LeaseUnavailableError):
        store.lease("web-shop", 1_000, 1, 100)


def test_limiters_in_two_environments_hold_the_rate_through_dynamodb(dynamodb: Any) -> None:
    # GIVEN two environments' limiters on one lease table, a source allowed 40 events a second
    now = [2_000.0]
    environments = [
        SourceRateLimiter(DynamoLeaseStore(TABLE, client=lambda: dynamodb), 5_000, clock=lambda: now[0])
        for _ in range(2)
    ]
    admitted = refused = 0
    # WHEN both send 5 events every 0.05 s for 2 s (200 events a second together)
    for tick in range(40):
        now[0] = 2_000.0 + tick / 20
        for limiter in environments:
            try:
                limiter.admit("shared", 40, 5)
            except RateLimitedError:
                refused += 1
            else:
                admitted += 5
    # THEN together they were admitted two windows' budgets
    assert admitted == 2 * 40
    assert refused == 80 - 16
