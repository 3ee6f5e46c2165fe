"""The batcher's typed inputs: one record of the mapping's Kinesis event, and the invocation."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class KinesisRecord:
    """One buffer record as the event source mapping hands it over: where it sits, and its data."""

    stream_arn: str
    shard_id: str
    sequence_number: str
    arrival: float  # approximateArrivalTimestamp, epoch seconds
    data: bytes

    @classmethod
    def of_event(cls, record: Mapping[str, Any]) -> KinesisRecord:
        """A record of ``event["Records"]``; its ``eventID`` is ``<shardId>:<sequenceNumber>``."""
        kinesis = record["kinesis"]
        return cls(
            stream_arn=str(record["eventSourceARN"]),
            shard_id=str(record["eventID"]).rpartition(":")[0],
            sequence_number=str(kinesis["sequenceNumber"]),
            arrival=float(kinesis["approximateArrivalTimestamp"]),
            data=base64.b64decode(kinesis["data"]),
        )


@dataclass(frozen=True, slots=True)
class Invocation:
    """The invocation a record was set aside in, as the mapping's own on-failure record names it."""

    request_id: str
    function_arn: str
    version: str = "$LATEST"
