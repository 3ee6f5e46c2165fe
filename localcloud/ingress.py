"""The ingestion edge's resources in moto: sources table, signing secret, ingress bus and a tap.

The tap is an SQS queue behind a rule matching every signal batch, so a caller can read exactly
what the validator forwarded (moto delivers rule targets to SQS, not to Lambda or Kinesis).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from signal_platform import codec

INGRESS_SOURCE = "signals.ingest"


@dataclass(frozen=True)
class IngressNames:
    bus: str = "signals-ingress"
    sources_table: str = "signals-sources"
    signing_key_secret_name: str = "signals-signing-key"  # noqa: S105 - a name, not a secret
    tap_queue: str = "signals-ingress-tap"


@dataclass
class IngressStack:
    names: IngressNames
    secret_arn: str
    tap_queue_url: str
    sqs: Any

    def validator_environment(self) -> dict[str, str]:
        return {
            "INGRESS_BUS_NAME": self.names.bus,
            "SOURCES_TABLE_NAME": self.names.sources_table,
            "SIGNING_KEY_SECRET_ARN": self.secret_arn,
            "GLOBAL_ENDPOINT_ID": "",
        }

    def drain_tap(self) -> list[dict[str, Any]]:
        """Every bus event the tap holds, removed from the queue."""
        return drain_queue(self.sqs, self.tap_queue_url)


def drain_queue(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every message body a queue holds, parsed as JSON and removed from the queue."""
    received: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return received
        received.extend(codec.loads(message["Body"]) for message in messages)
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )


def create_ingress(session: Any, signing_key: str, names: IngressNames | None = None) -> IngressStack:
    names = names or IngressNames()
    session.client("dynamodb").create_table(
        TableName=names.sources_table,
        KeySchema=[{"AttributeName": "source_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "source_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    secret_arn = session.client("secretsmanager").create_secret(
        Name=names.signing_key_secret_name, SecretString=signing_key
    )["ARN"]
    events, sqs = session.client("events"), session.client("sqs")
    events.create_event_bus(Name=names.bus)
    queue_url = sqs.create_queue(QueueName=names.tap_queue)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="tap", EventBusName=names.bus, EventPattern=codec.dumps({"source": [INGRESS_SOURCE]}).decode()
    )
    events.put_targets(Rule="tap", EventBusName=names.bus, Targets=[{"Id": "tap", "Arn": queue_arn}])
    return IngressStack(names, secret_arn, queue_url, sqs)
