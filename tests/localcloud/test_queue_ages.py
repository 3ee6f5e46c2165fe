"""The Region's record of when each queue message was first seen, and the retention that reads it."""

from __future__ import annotations

from pathlib import Path

from localcloud.cloud import LocalCloud
from tests.localcloud.conftest import queue, running

RESOURCES = {"Brief": queue(MessageRetentionPeriod=60), "Kept": queue()}


def _send(cloud: LocalCloud, logical_id: str, body: str) -> str:
    sqs = cloud.services.client("sqs")
    message_id: str = sqs.send_message(QueueUrl=cloud.stack.get(logical_id).ref, MessageBody=body)[
        "MessageId"
    ]
    return message_id


def _name(cloud: LocalCloud, logical_id: str) -> str:
    return str(cloud.stack.get(logical_id).ref).rsplit("/", 1)[-1]


def test_a_message_is_aged_from_when_it_was_first_seen_and_forgotten_once_gone(tmp_path: Path) -> None:
    with running(tmp_path, RESOURCES, handlers={}) as cloud:
        ages, brief, kept = cloud.primary.queue_ages, _name(cloud, "Brief"), _name(cloud, "Kept")
        # GIVEN a message in each queue, and the cloud's step after the sends (the cloud's clock runs
        # with the wall clock between waits)
        before = cloud.clock.now()
        first = {"Brief": _send(cloud, "Brief", "a"), "Kept": _send(cloud, "Kept", "b")}
        cloud.pump()
        seen = dict(ages.first_seen(kept))
        assert list(seen) == [first["Kept"]]
        assert before <= seen[first["Kept"]] <= cloud.clock.now()

        # WHEN another is sent after the queue was read
        second = _send(cloud, "Kept", "c")
        # THEN it is seen too, and the first keeps its time
        seen = dict(ages.first_seen(kept))
        assert set(seen) == {first["Kept"], second}
        assert seen[second] >= seen[first["Kept"]]

        # WHEN more than the brief queue's 60 s retention passes
        cloud.wait(61.0)
        cloud.pump()
        # THEN retention deleted its message, and the record no longer holds it; the other queue's
        # messages keep their first-seen times (their age grows)
        assert ages.first_seen(brief) == {}
        assert ages.first_seen(kept) == seen
        assert ages.oldest(brief) is None
        assert ages.oldest(kept) == min(seen.values())
        assert cloud.clock.now() - seen[second] > 60.0

        # WHEN a consumer deletes one
        sqs = cloud.services.client("sqs")
        url = cloud.stack.get("Kept").ref
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]:
            if message["MessageId"] == second:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        # THEN it is forgotten too
        assert ages.first_seen(kept) == {first["Kept"]: seen[first["Kept"]]}
