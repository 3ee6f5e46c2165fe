"""The replay tool's stream target (consumer ``buffer``): a stored record back onto its stream."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from dlq_replay.targets import TARGET_BY_CONSUMER, StreamTarget, StreamTargetSettings, build_target
from signal_platform.errors import ReplayTargetError
from tools.dlq import target_settings

STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/customer-signals-BufferStream-1"


class FakeKinesis:
    def __init__(self) -> None:
        self.puts: list[tuple[str | None, dict[str, Any]]] = []

    def client(self, region: str | None) -> Any:
        outer = self

        class Client:
            def put_record(self, **request: Any) -> dict[str, str]:
                outer.puts.append((region, request))
                return {"SequenceNumber": "1", "ShardId": "shardId-000000000000"}

        return Client()


def stored(**record: Any) -> dict[str, Any]:
    return {"record": {"partitionKey": "b" * 32, "data": {"batch_id": "b" * 32}, **record}, "dlq": {}}


def test_buffer_records_go_back_to_the_stream_they_came_from() -> None:
    kinesis = FakeKinesis()
    StreamTarget(client=kinesis.client).send(stored(streamArn=STREAM_ARN))
    ((region, request),) = kinesis.puts
    assert region == "us-east-1"
    assert request == {
        "StreamARN": STREAM_ARN,
        "Data": b'{"batch_id":"' + b"b" * 32 + b'"}',
        "PartitionKey": "b" * 32,
    }


def test_a_named_stream_wins_and_a_record_without_a_stream_is_refused() -> None:
    kinesis = FakeKinesis()
    StreamTarget(stream="other", client=kinesis.client).send(stored(streamArn=STREAM_ARN))
    assert kinesis.puts[0][1]["StreamName"] == "other"
    with pytest.raises(ReplayTargetError, match="--stream"):
        StreamTarget(client=kinesis.client).send(stored())


def test_the_buffer_consumer_replays_to_the_stream_by_default() -> None:
    assert TARGET_BY_CONSUMER["buffer"] == "stream"
    args = argparse.Namespace(target="auto", stream=None)
    settings = target_settings(args, "buffer", environ={})
    assert settings == StreamTargetSettings()
    assert isinstance(build_target(settings), StreamTarget)
