"""SQS message retention, which moto does not apply: a message older than its queue's
``MessageRetentionPeriod`` is deleted, on the cloud's clock.

A message's age counts from the step it was first seen in (``queue_ages``: the step it was sent in). Only
messages no consumer holds are deleted: the template's consumed queues keep theirs 14 days, longer
than any run. What it changes in practice: the heartbeat queue keeps a heartbeat 60 s and nothing
consumes it. Without retention it held one more message every cloud minute, and moto's SendMessage
reads every message of the queue, so a day-long outage in a run cost time quadratic in its length.
"""

from __future__ import annotations

from typing import Final

from localcloud.queue_ages import QueueAges, queue_name
from localcloud.services import Services

# What SQS keeps a message when the queue does not say (4 days).
DEFAULT_RETENTION_SECONDS: Final = 345_600.0


class QueueRetention:
    def __init__(self, services: Services, ages: QueueAges) -> None:
        self._ages = ages
        self._retention = {
            queue_name(queue): float(
                queue.properties.get("MessageRetentionPeriod", DEFAULT_RETENTION_SECONDS)
            )
            for queue in services.stack.of_type("AWS::SQS::Queue")
        }
        self._clock = services.clock

    def pump(self) -> int:
        """Delete what outlived its queue's retention. Returns 0: it is not work that keeps the cloud
        busy (a deletion wakes nothing)."""
        now = self._clock.now()
        for name, retention in self._retention.items():
            oldest = self._ages.oldest(name)
            if oldest is None or now - oldest < retention:  # nothing old enough: no walk
                continue
            queue, seen = self._ages.queue(name), self._ages.first_seen(name)
            messages = queue._messages  # moto's own list
            with queue._messages_lock:
                held = queue.pending_messages
                expired = {
                    message.id
                    for message in messages
                    if now - seen.get(message.id, now) >= retention and message not in held
                }
                if expired:
                    messages[:] = [message for message in messages if message.id not in expired]
        return 0

    def next_due(self) -> None:
        return None
