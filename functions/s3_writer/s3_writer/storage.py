"""``LakeWriter``: the S3 adapter of the lake (PutObject, DeleteObject), SDK errors as ``LakeWriteError``.

A put answers the new object's ``VersionId`` (the lake bucket is versioned), so a clean-up removes
exactly the version it wrote, never a version someone else wrote later under the same key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from s3_writer.lake import PutRequest
from signal_platform import aws_clients
from signal_platform.errors import LakeWriteError


class LakeWriter:
    """Writes and deletes objects of one bucket; the S3 client is resolved on first use."""

    def __init__(self, bucket: str, *, client: Callable[[], Any] = lambda: aws_clients.client("s3")) -> None:
        self.bucket = bucket
        self._client = client

    def put(self, request: PutRequest) -> str | None:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - lazy import

        arguments: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": request.key,
            "Body": request.body,
            "ContentType": request.content_type,
            "Metadata": dict(request.metadata),
        }
        if request.content_encoding:
            arguments["ContentEncoding"] = request.content_encoding
        try:
            response = self._client().put_object(**arguments)
        except (ClientError, BotoCoreError) as exc:
            raise LakeWriteError(
                f"PutObject s3://{self.bucket}/{request.key} failed: {aws_clients.error_code(exc)}"
            ) from exc
        version = response.get("VersionId")
        return version if isinstance(version, str) and version != "null" else None

    def delete(self, key: str, version_id: str | None = None) -> None:
        """The version ``version_id`` of ``key`` (gone for good), or without one, the key's current
        version (a delete marker: only for a put whose outcome is unknown)."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - lazy import

        version = {"VersionId": version_id} if version_id else {}
        try:
            self._client().delete_object(Bucket=self.bucket, Key=key, **version)
        except (ClientError, BotoCoreError) as exc:
            raise LakeWriteError(
                f"DeleteObject s3://{self.bucket}/{key} failed: {aws_clients.error_code(exc)}"
            ) from exc
