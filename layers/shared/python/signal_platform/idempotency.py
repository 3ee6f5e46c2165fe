"""Powertools idempotency, configured once for the functions that need it.

The key is the signal batch id, which the validator derives from the batch's ``event_id``s; so
client resends of the same events, EventBridge redelivery and replays all map to one record.
"""

from __future__ import annotations

from typing import Any, Final

BATCH_ID_JMESPATH: Final = "detail.batch_id"
DEFAULT_EXPIRY_SECONDS: Final = 48 * 3600


def persistence_layer(table_name: str) -> Any:
    from aws_lambda_powertools.utilities.idempotency import (  # noqa: PLC0415 - only where used
        DynamoDBPersistenceLayer,
    )

    from signal_platform import aws_clients  # noqa: PLC0415

    return DynamoDBPersistenceLayer(table_name=table_name, boto3_client=aws_clients.client("dynamodb"))


def config(expires_after_seconds: int = DEFAULT_EXPIRY_SECONDS, key_jmespath: str = BATCH_ID_JMESPATH) -> Any:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig  # noqa: PLC0415

    return IdempotencyConfig(
        event_key_jmespath=key_jmespath,
        raise_on_no_idempotency_key=True,
        expires_after_seconds=expires_after_seconds,
        use_local_cache=True,
    )
