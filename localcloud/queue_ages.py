"""When each message of a Region's queues was first seen, on the cloud's clock.

SQS counts a message's age from when it was sent; moto's timestamps are on the wall clock, so the
local cloud counts from the step a message is first seen in (the step that sent it). One record for
the Region, read by the retention emulator (``sqs_retention``) and the alarm sampler
(``cloudwatch``): a queue's messages are walked again only when they changed, which the count and
the last message tell (moto appends a sent message to the queue's list and removes a deleted one),
so a queue nothing happens to costs two lookups a step, however many messages it holds. Its oldest
message is worked out at the walk too, for both readers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from localcloud.provision import Resource
from localcloud.services import Services


def queue_name(queue: Resource) -> str:
    """The name of a template's ``AWS::SQS::Queue`` (its Ref is the queue's URL, which ends in it)."""
    return str(queue.attributes.get("QueueName") or str(queue.ref).rsplit("/", 1)[-1])


class QueueAges:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._first_seen: dict[str, dict[str, float]] = {}
        # Per queue, its message count and last message id at the last walk.
        self._walked: dict[str, tuple[int, str | None]] = {}
        self._oldest: dict[str, float | None] = {}

    def queue(self, name: str) -> Any:
        """moto's queue of that name (its own object: reading it changes nothing), or None."""
        from moto.sqs.models import sqs_backends  # noqa: PLC0415

        stack = self._services.stack
        return sqs_backends[stack.account_id][stack.region].queues.get(name)

    def first_seen(self, name: str) -> Mapping[str, float]:
        """The queue's messages (by id) and when each was first seen, as of the clock's now (a message
        not seen before, now); empty for a queue that does not exist."""
        now = self._services.clock.now()
        seen = self._first_seen.setdefault(name, {})
        queue = self.queue(name)
        messages = queue._messages if queue is not None else []  # moto's own list
        fingerprint = (len(messages), messages[-1].id if messages else None)
        if self._walked.get(name) == fingerprint:
            return seen
        self._walked[name] = fingerprint
        current = {message.id for message in list(messages)}
        for gone in [message_id for message_id in seen if message_id not in current]:
            del seen[gone]
        for message_id in current:
            seen.setdefault(message_id, now)
        self._oldest[name] = min(seen.values()) if seen else None
        return seen

    def oldest(self, name: str) -> float | None:
        """When the queue's oldest message was first seen (``first_seen``); None when it is empty."""
        self.first_seen(name)
        return self._oldest.get(name)
