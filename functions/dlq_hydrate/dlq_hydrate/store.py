"""``DlqStore``: the S3 adapter of the DLQ store; SDK errors become ``DlqStoreError`` (retryable).

Record objects are written with ``If-None-Match: *`` (S3 conditional writes): a redelivered DLQ
message names the same keys and finds them already there, so it neither duplicates an object nor
resets the replay count the replay tool keeps in it. Manifests and unparsed messages are plain
writes of deterministic keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from signal_platform import aws_clients
from signal_platform.errors import DlqStoreError

JSON: Final = "application/json"
_ALREADY_THERE: Final = frozenset({"PreconditionFailed"})


class DlqStore:
    """Writes objects of one bucket; the S3 client is resolved on first use."""

    def __init__(self, bucket: str, *, client: Callable[[], Any] = lambda: aws_clients.client("s3")) -> None:
        self.bucket = bucket
        self._client = client

    def create(self, key: str, body: bytes) -> bool:
        """Write ``key`` unless it exists; True when written, False when it was already there."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - lazy import

        try:
            self._client().put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType=JSON, IfNoneMatch="*"
            )
        except (ClientError, BotoCoreError) as exc:
            code = aws_clients.error_code(exc)
            if code in _ALREADY_THERE:
                return False
            raise DlqStoreError(f"PutObject s3://{self.bucket}/{key} failed: {code}") from exc
        return True

    def put(self, key: str, body: bytes) -> None:
        """Write ``key``, replacing what is there."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - lazy import

        try:
            self._client().put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=JSON)
        except (ClientError, BotoCoreError) as exc:
            raise DlqStoreError(
                f"PutObject s3://{self.bucket}/{key} failed: {aws_clients.error_code(exc)}"
            ) from exc
