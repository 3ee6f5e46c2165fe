"""SQS message retention, which moto does not apply: a message older than its queue's
``MessageRetentionPeriod`` is deleted, on the cloud's clock.

A message's age counts from the step this emulator first sees it (the step it was sent in). Only
messages no consumer holds are deleted: the template's consumed queues keep theirs 14 days, longer
than any run. What it changes in practice: the heartbeat queue keeps a heartbeat 60 s and nothing
consumes it. Without retention it held one more message every cloud minute, and moto's SendMessage
reads every message of the queue, so a day-long outage in a run cost time quadratic in its length.
"""

from __future__ import annotations

from typing import Final

from localcloud.services import Services

# What SQS keeps a message when the queue does not say (4 days).
DEFAULT_RETENTION_SECONDS: Final = 345_600.0


class QueueRetention:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._retention = {
            str(queue.ref).rsplit("/", 1)[-1]: float(
                queue.properties.get("MessageRetentionPeriod", DEFAULT_RETENTION_SECONDS)
            )
            for queue in services.stack.of_type("AWS::SQS::Queue")
        }
        self._first_seen: dict[str, dict[str, float]] = {name: {} for name in self._retention}

    def pump(self) -> int:
        """Delete what outlived its queue's retention. Returns 0: it is not work that keeps the cloud
        busy (a deletion wakes nothing)."""
        from moto.sqs.models import sqs_backends  # noqa: PLC0415

        now = self._services.clock.now()
        stack = self._services.stack
        queues = sqs_backends[stack.account_id][stack.region].queues
        for name, retention in self._retention.items():
            queue = queues.get(name)
            if queue is None:
                continue
            seen, messages = self._first_seen[name], queue._messages  # moto's own list
            with queue._messages_lock:
                held = queue.pending_messages
                kept = [
                    message
                    for message in messages
                    if now - seen.setdefault(message.id, now) < retention or message in held
                ]
                if len(kept) < len(messages):
                    messages[:] = kept
            if len(seen) > len(kept):  # deleted here or by a consumer: forget them
                current = {message.id for message in kept}
                for gone in [message_id for message_id in seen if message_id not in current]:
                    del seen[gone]
        return 0

    def next_due(self) -> None:
        return None
