"""``BufferDlq``: the SQS adapter that sets buffer records aside; SDK errors become
``DeadLetterSendError`` (the record is then held and retried, never skipped)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from signal_platform import aws_clients, codec
from signal_platform.errors import DeadLetterSendError


class BufferDlq:
    """Sends messages to one queue; the SQS client is resolved on first use."""

    def __init__(
        self, queue_url: str, *, client: Callable[[], Any] = lambda: aws_clients.client("sqs")
    ) -> None:
        self.queue_url = queue_url
        self._client = client

    def send(self, message: Mapping[str, Any]) -> str:
        """Send ``message`` (JSON); the SQS message id once the queue holds it."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - lazy import

        try:
            answer = self._client().send_message(
                QueueUrl=self.queue_url, MessageBody=codec.dumps(message).decode()
            )
        except (ClientError, BotoCoreError) as exc:
            raise DeadLetterSendError(
                f"SendMessage to {self.queue_url} failed: {aws_clients.error_code(exc)}"
            ) from exc
        return str(answer["MessageId"])
