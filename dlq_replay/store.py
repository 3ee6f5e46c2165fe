"""The replay tool's side of the DLQ store: list, read, rewrite with a precondition, move.

Built on the hydrate function's ``DlqStore`` (same bucket, same error mapping): every S3 failure is
a ``DlqStoreError``. ``replace`` writes only over the version it read (``If-Match`` on the ETag), so
two replays of the same object cannot both go ahead; ``move_done`` copies before it deletes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dlq_hydrate.keys import replayed_key
from dlq_hydrate.store import JSON, DlqStore
from signal_platform import aws_clients, codec
from signal_platform.errors import DlqStoreError

_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


class ChangedMeanwhileError(DlqStoreError):
    """The object changed (or went) since it was read: another replay is working on it."""

    code = "dlq_object_changed"
    retryable = False


@dataclass(slots=True)
class StoredObject:
    key: str
    body: dict[str, Any]
    etag: str


class ReplayStore(DlqStore):
    def list_keys(self, prefix: str) -> Iterator[str]:
        """Every key under ``prefix``, in key order (S3 lists UTF-8 binary order)."""
        for page in self._pages(prefix):
            for item in page.get("Contents", []):
                yield str(item["Key"])

    def list_children(self, prefix: str) -> list[str]:
        """The next level of names under ``prefix`` (e.g. the consumers under ``dlq/``)."""
        return [
            str(item["Prefix"])[len(prefix) :].rstrip("/")
            for page in self._pages(prefix, delimiter="/")
            for item in page.get("CommonPrefixes", [])
        ]

    def _pages(self, prefix: str, delimiter: str | None = None) -> Iterator[dict[str, Any]]:
        """ListObjectsV2 page by page; a failure on any page is a ``DlqStoreError``."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - lazy import

        request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            request["Delimiter"] = delimiter
        while True:
            try:
                page: dict[str, Any] = self._client().list_objects_v2(**request)
            except (ClientError, BotoCoreError) as exc:
                raise DlqStoreError(
                    f"ListObjectsV2 s3://{self.bucket}/{prefix} failed: {aws_clients.error_code(exc)}"
                ) from exc
            yield page
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return
            request["ContinuationToken"] = token

    def get(self, key: str) -> StoredObject | None:
        """The object and its ETag; None when it is not there (any more)."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - lazy import

        try:
            response = self._client().get_object(Bucket=self.bucket, Key=key)
            raw = response["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            if aws_clients.error_code(exc) in _MISSING:
                return None
            raise DlqStoreError(
                f"GetObject s3://{self.bucket}/{key} failed: {aws_clients.error_code(exc)}"
            ) from exc
        try:
            body = codec.loads(raw)
        except codec.JSONDecodeError as exc:
            raise DlqStoreError(f"s3://{self.bucket}/{key} is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise DlqStoreError(f"s3://{self.bucket}/{key} is not a JSON object")
        return StoredObject(key, body, str(response.get("ETag", "")))

    def replace(self, stored: StoredObject) -> None:
        """Write ``stored.body`` over the version read (``If-Match``); the new ETag goes into ``stored``."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - lazy import

        try:
            response = self._client().put_object(
                Bucket=self.bucket,
                Key=stored.key,
                Body=codec.dumps(stored.body),
                ContentType=JSON,
                IfMatch=stored.etag,
            )
        except (ClientError, BotoCoreError) as exc:
            code = aws_clients.error_code(exc)
            if code in {"PreconditionFailed", "NoSuchKey", "ConditionalRequestConflict"}:
                raise ChangedMeanwhileError(
                    f"s3://{self.bucket}/{stored.key} changed meanwhile ({code})"
                ) from exc
            raise DlqStoreError(f"PutObject s3://{self.bucket}/{stored.key} failed: {code}") from exc
        stored.etag = str(response.get("ETag", ""))

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - lazy import

        try:
            self._client().delete_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise DlqStoreError(
                f"DeleteObject s3://{self.bucket}/{key} failed: {aws_clients.error_code(exc)}"
            ) from exc

    def move_done(self, stored: StoredObject) -> str:
        """Copy ``stored`` (its current body) to ``replayed/<key>``, then delete the original."""
        done = replayed_key(stored.key)
        self.put(done, codec.dumps(stored.body))
        self.delete(stored.key)
        return done
