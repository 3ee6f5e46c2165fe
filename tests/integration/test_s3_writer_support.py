"""A moto data-lake bucket for the S3 writer's integration tests (no tests here)."""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from s3_writer import dependencies
from signal_platform import aws_clients, codec
from tests.conftest import REGION

LAKE_BUCKET = "signals-lake-123456789012-us-west-2"
LEDGER_TABLE = "signals-lake-ledger"


def without_attempt(key: str) -> str:
    """A lake key without the writing attempt's id (``...-<16 hex>.json.gz``), for comparisons."""
    return re.sub(r"-[0-9a-f]{16}(\.json(?:\.gz)?)$", r"\1", key)


def create_ledger_table(name: str = LEDGER_TABLE) -> Any:
    """The lake ledger table as template.yaml defines it (key ``pk``), in the current moto account."""
    dynamodb: Any = boto3.session.Session(region_name=REGION).client("dynamodb")
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return dynamodb


@dataclass
class LakeBucket:
    """The moto bucket as a reader sees it."""

    s3: Any
    name: str = LAKE_BUCKET

    def listing(self, prefix: str = "") -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def head(self, key: str) -> dict[str, Any]:
        head: dict[str, Any] = self.s3.head_object(Bucket=self.name, Key=key)
        return head

    def raw(self, key: str) -> bytes:
        body: bytes = self.s3.get_object(Bucket=self.name, Key=key)["Body"].read()
        return body

    def lines(self, key: str) -> list[dict[str, Any]]:
        return [codec.loads(line) for line in gzip.decompress(self.raw(key)).splitlines()]

    def json(self, key: str) -> dict[str, Any]:
        document: dict[str, Any] = codec.loads(self.raw(key))
        return document

    def snapshot(self) -> dict[str, bytes]:
        return {key: self.raw(key) for key in self.listing()}


@contextmanager
def lake_bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[LakeBucket]:
    """A moto account with the (versioned) lake bucket and the ledger table, and the S3 writer's
    environment pointing at them."""
    with mock_aws():
        s3: Any = boto3.session.Session(region_name=REGION).client("s3")
        s3.create_bucket(Bucket=LAKE_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=LAKE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
        create_ledger_table()
        monkeypatch.setenv("LAKE_BUCKET_NAME", LAKE_BUCKET)
        monkeypatch.setenv("LAKE_LEDGER_TABLE_NAME", LEDGER_TABLE)
        monkeypatch.delenv("LAKE_PREFIX", raising=False)
        monkeypatch.delenv("BAD_PREFIX", raising=False)
        dependencies.reset()
        try:
            yield LakeBucket(s3)
        finally:
            dependencies.reset()


class FlakyS3:
    """Wraps the moto S3 client: ``fails(operation, key)`` decides per call whether it raises."""

    def __init__(self, real: Any, fails: Callable[[str, str], bool]) -> None:
        self.real, self.fails = real, fails
        self.calls: list[tuple[str, str]] = []

    def _call(self, operation: str, **request: Any) -> Any:
        self.calls.append((operation, request["Key"]))
        if self.fails(operation, request["Key"]):
            raise ClientError(
                {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, operation
            )
        return getattr(self.real, operation)(**request)

    def put_object(self, **request: Any) -> Any:
        return self._call("put_object", **request)

    def delete_object(self, **request: Any) -> Any:
        return self._call("delete_object", **request)


def install_flaky_s3(monkeypatch: pytest.MonkeyPatch, fails: Callable[[str, str], bool]) -> FlakyS3:
    """Every ``aws_clients.client("s3")`` from now on is the flaky wrapper around the moto client."""
    flaky = FlakyS3(aws_clients.client("s3"), fails)
    original = aws_clients.client
    monkeypatch.setattr(
        aws_clients,
        "client",
        lambda service, region=None: flaky if service == "s3" else original(service, region),
    )
    return flaky
