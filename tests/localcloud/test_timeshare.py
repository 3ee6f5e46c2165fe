"""Where the wall time goes: each moment charged to exactly one share, AWS calls from any client."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from localcloud import timeshare
from localcloud.timeshare import AWS, EMULATORS, HANDLERS, OTHER, TimeShares


class Ticks:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_nested_time_is_charged_to_the_innermost_share_and_calls_to_aws() -> None:
    ticks = Ticks()
    shares = TimeShares(ticks)
    ticks.now += 1  # driver
    with shares.within(EMULATORS):
        ticks.now += 2
        with shares.within(HANDLERS):
            ticks.now += 3
            shares.call_started()
            ticks.now += 4
            shares.call_finished()
            ticks.now += 5
        ticks.now += 6
    ticks.now += 7

    assert shares.seconds() == {HANDLERS: 8.0, AWS: 4.0, EMULATORS: 8.0, OTHER: 8.0}


def test_overlapping_calls_from_other_threads_count_once() -> None:
    ticks = Ticks()
    shares = TimeShares(ticks)
    with shares.within(HANDLERS):
        shares.call_started()
        ticks.now += 1
        shares.call_started()  # a second call in flight (a thread pool of the function)
        ticks.now += 2
        shares.call_finished()
        ticks.now += 3
        shares.call_finished()
        ticks.now += 4

    assert shares.seconds()[AWS] == 6.0
    assert shares.seconds()[HANDLERS] == 4.0


def test_a_window_is_described_in_percent() -> None:
    before = {HANDLERS: 1.0, AWS: 1.0, EMULATORS: 0.0, OTHER: 0.0}
    after = {HANDLERS: 2.0, AWS: 6.0, EMULATORS: 3.0, OTHER: 1.0}

    assert timeshare.describe(timeshare.between(before, after)) == (
        "handlers 10% · moto/botocore 50% · emulators 30% · other 10%"
    )


@mock_aws
def test_every_botocore_call_is_charged_to_aws_even_when_it_fails() -> None:
    ticks = Ticks()
    shares = TimeShares(ticks)
    client = boto3.client("sqs", region_name="us-east-1")

    def slow_call(*_: object, **__: object) -> None:
        ticks.now += 5

    client.meta.events.register("before-send", slow_call)
    with timeshare.timing_aws_calls(shares), shares.within(HANDLERS):
        client.create_queue(QueueName="timed")
        with pytest.raises(client.exceptions.QueueDoesNotExist):
            client.get_queue_url(QueueName="missing")
        ticks.now += 1

    assert shares.seconds()[AWS] == 10.0
    assert shares.seconds()[HANDLERS] == 1.0
