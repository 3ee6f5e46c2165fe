"""The emulators' delayed work: taken in (due, arrival) order, a retry behind what is due with it."""

from __future__ import annotations

from dataclasses import dataclass

from localcloud.due_queue import DueQueue


@dataclass
class _Work:
    name: str
    due: float = 0.0


def test_work_is_taken_by_due_time_then_by_arrival() -> None:
    queue: DueQueue[_Work] = DueQueue()
    for name, due in (("late", 5.0), ("first", 1.0), ("second", 1.0), ("middle", 3.0)):
        queue.push(_Work(name), due)
    assert queue.next_due() == 1.0
    assert [work.name for work in queue.take(3.0)] == ["first", "second", "middle"]
    # what is not due yet stays, with its time
    assert len(queue) == 1 and queue.next_due() == 5.0
    assert [work.name for work in queue] == ["late"]


def test_a_retry_goes_behind_work_already_due_at_its_new_time() -> None:
    queue: DueQueue[_Work] = DueQueue()
    retried, waiting = _Work("retried"), _Work("waiting")
    queue.push(retried, 1.0)
    queue.push(waiting, 4.0)
    assert list(queue.take(1.0)) == [retried]
    queue.push(retried, 4.0)  # pushed again: a fresh arrival
    assert retried.due == 4.0
    assert [work.name for work in queue.take(10.0)] == ["waiting", "retried"]


def test_work_pushed_while_taking_is_taken_when_due_by_then() -> None:
    queue: DueQueue[_Work] = DueQueue()
    queue.push(_Work("delivered"), 2.0)
    taken = []
    for work in queue.take(2.0):
        taken.append(work.name)
        if work.name == "delivered":
            queue.push(_Work("duplicate"), 2.0)  # due now: taken in this pass
            queue.push(_Work("retry"), 2.5)  # not yet
    assert taken == ["delivered", "duplicate"]
    assert queue.next_due() == 2.5


def test_cleared_queue_is_empty() -> None:
    queue: DueQueue[_Work] = DueQueue()
    queue.push(_Work("gone"), 1.0)
    queue.clear()
    assert len(queue) == 0 and queue.next_due() is None and list(queue.take(99.0)) == []
