"""A moto account with the validator's resources: sources table, signing secret, ingress bus with a
rule that taps every signal batch into an SQS queue, so tests can read exactly what was forwarded."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from signal_platform import codec
from signal_platform.sources import Source, SourceRegistry, hash_secret, new_write_key
from tests.conftest import REGION
from validator import dependencies

BUS_NAME = "signals-ingress"
TABLE_NAME = "signals-sources"
SIGNING_KEY = "test-signing-key-0123456789abcdef0123456789abcdef"
SAMPLE_WRITE_KEY = "demo-web.sample-write-key-for-local-tests-only"


@dataclass
class IngressPlatform:
    write_key: str
    queue_url: str
    secret_arn: str
    sqs: Any
    events: Any
    dynamodb: Any

    def forwarded(self) -> list[dict[str, Any]]:
        """Every EventBridge event the tap queue holds, drained."""
        received: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = batch.get("Messages", [])
            if not messages:
                return received
            for message in messages:
                received.append(codec.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def forwarded_signals(self) -> list[dict[str, Any]]:
        return [signal for event in self.forwarded() for signal in event["detail"]["signals"]]


def create_ingress(session: Any) -> dict[str, str]:
    dynamodb = session.client("dynamodb")
    dynamodb.create_table(
        TableName=TABLE_NAME,
        KeySchema=[{"AttributeName": "source_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "source_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    secret_arn = session.client("secretsmanager").create_secret(Name="signals-signing-key", SecretString=SIGNING_KEY)[
        "ARN"
    ]
    events = session.client("events")
    sqs = session.client("sqs")
    events.create_event_bus(Name=BUS_NAME)
    queue_url = sqs.create_queue(QueueName="ingress-tap")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="tap", EventBusName=BUS_NAME, EventPattern=codec.dumps({"source": ["signals.ingest"]}).decode())
    events.put_targets(Rule="tap", EventBusName=BUS_NAME, Targets=[{"Id": "tap", "Arn": queue_arn}])
    return {"secret_arn": secret_arn, "queue_url": queue_url}


@pytest.fixture
def validator_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "INGRESS_BUS_NAME": BUS_NAME,
        "SOURCES_TABLE_NAME": TABLE_NAME,
        "MAX_SIGNALS_PER_ENTRY": "50",
        "GLOBAL_ENDPOINT_ID": "",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def ingress(validator_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[IngressPlatform]:
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        created = create_ingress(session)
        monkeypatch.setenv("SIGNING_KEY_SECRET_ARN", created["secret_arn"])
        registry = SourceRegistry(TABLE_NAME)
        write_key, source = new_write_key("web-shop", "storefront")
        registry.register(source)
        # The fixed key the sample events in events/ carry (local tests only, never deployed).
        sample_source, _, sample_secret = SAMPLE_WRITE_KEY.partition(".")
        registry.register(Source(sample_source, hash_secret(sample_secret), True, "sample events"))
        registry.register(Source("retired-kiosk", hash_secret("retired-secret"), False, "disabled"))
        dependencies.reset()
        yield IngressPlatform(
            write_key=write_key,
            queue_url=created["queue_url"],
            secret_arn=created["secret_arn"],
            sqs=session.client("sqs"),
            events=session.client("events"),
            dynamodb=session.client("dynamodb"),
        )
        dependencies.reset()
