"""The enrichment's resources in moto: data-platform bus (with an SQS tap), idempotency table with TTL,
quarantine bucket, and the signing secret the ingress shares.

The tap is an SQS queue behind a rule matching every enriched batch, so a caller can read exactly what
the enrichment forwarded (moto delivers rule targets to SQS, not to Lambda or Kinesis).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from localcloud.ingress import drain_queue
from signal_platform import codec

ENRICHED_SOURCE = "signals.enriched"


@dataclass(frozen=True)
class PlatformNames:
    bus: str = "signals-data-platform"
    idempotency_table: str = "signals-idempotency"
    quarantine_bucket: str = "signals-quarantine"
    signing_secret: str = "signals-signing-key"  # noqa: S105 - the secret's name, not its value
    tap_queue: str = "signals-data-platform-tap"


@dataclass
class PlatformStack:
    names: PlatformNames
    secret_arn: str
    tap_queue_url: str
    sqs: Any
    s3: Any
    dynamodb: Any

    def enrichment_environment(self) -> dict[str, str]:
        return {
            "DATA_PLATFORM_BUS_NAME": self.names.bus,
            "IDEMPOTENCY_TABLE_NAME": self.names.idempotency_table,
            "QUARANTINE_BUCKET_NAME": self.names.quarantine_bucket,
            "SIGNING_KEY_SECRET_ARN": self.secret_arn,
        }

    def drain_tap(self) -> list[dict[str, Any]]:
        """Every bus event the tap holds, removed from the queue."""
        return drain_queue(self.sqs, self.tap_queue_url)

    def quarantined(self) -> dict[str, Any]:
        """Every quarantined object: key -> (parsed body, S3 metadata)."""
        bucket = self.names.quarantine_bucket
        listing = self.s3.list_objects_v2(Bucket=bucket, Prefix="quarantine/")
        objects: dict[str, Any] = {}
        for item in listing.get("Contents", []):
            response = self.s3.get_object(Bucket=bucket, Key=item["Key"])
            objects[item["Key"]] = (codec.loads(response["Body"].read()), response.get("Metadata", {}))
        return objects

    def idempotency_records(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.dynamodb.scan(TableName=self.names.idempotency_table)["Items"]
        return items


def create_platform(session: Any, signing_key: str, names: PlatformNames | None = None) -> PlatformStack:
    names = names or PlatformNames()
    dynamodb, s3, sqs, events = (session.client(s) for s in ("dynamodb", "s3", "sqs", "events"))
    # Powertools' DynamoDB persistence layer: partition key `id`, TTL attribute `expiration`.
    dynamodb.create_table(
        TableName=names.idempotency_table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=names.idempotency_table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"},
    )
    s3.create_bucket(
        Bucket=names.quarantine_bucket,
        CreateBucketConfiguration={"LocationConstraint": session.region_name},
    )
    secrets = session.client("secretsmanager")
    try:
        secret_arn = secrets.describe_secret(SecretId=names.signing_secret)["ARN"]
    except secrets.exceptions.ResourceNotFoundException:
        secret_arn = secrets.create_secret(Name=names.signing_secret, SecretString=signing_key)["ARN"]
    events.create_event_bus(Name=names.bus)
    queue_url = sqs.create_queue(QueueName=names.tap_queue)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="tap", EventBusName=names.bus, EventPattern=codec.dumps({"source": [ENRICHED_SOURCE]}).decode()
    )
    events.put_targets(Rule="tap", EventBusName=names.bus, Targets=[{"Id": "tap", "Arn": queue_arn}])
    return PlatformStack(names, secret_arn, queue_url, sqs, s3, dynamodb)
