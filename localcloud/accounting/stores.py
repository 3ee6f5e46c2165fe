"""Reading the stores the census counts: S3 objects, queues (peeked, never consumed), stream records.
Every reader returns ``event_id``s."""

from __future__ import annotations

import gzip
from collections import Counter
from typing import Any

from localcloud.services import Services
from localcloud.signals import decode_text, event_ids
from signal_platform import codec


class StoreReader:
    """Readers of every store, each returning event_id counts."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def objects(self, bucket: str, prefix: str) -> list[tuple[str, bytes]]:
        s3 = self.services.client("s3")
        keys = [
            item["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        ]
        return [(key, s3.get_object(Bucket=bucket, Key=key)["Body"].read()) for key in keys]

    @staticmethod
    def document_ids(key: str, body: bytes) -> list[str]:
        if key.endswith(".gz") or body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        ids: list[str] = []
        for line in body.splitlines():
            if line.strip():
                ids.extend(event_ids(codec.loads(line)))
        return ids

    def peek_queue(self, arn: str) -> list[dict[str, Any]]:
        """Every message of the queue, left in it (received, then made visible again)."""
        sqs = self.services.client("sqs")
        url = self.services.queue_url(arn)
        messages: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60, MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not batch:
                break
            messages.extend(batch)
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            sqs.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(chunk)
                ],
            )
        return messages

    def stream_range(self, info: dict[str, Any]) -> list[str] | None:
        """The signals of the records a Pipe DLQ message points at, read back from the stream."""
        kinesis = self.services.client("kinesis")
        stream_name = str(info["streamArn"]).rsplit("/", 1)[-1]
        start, end = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
        iterator = kinesis.get_shard_iterator(
            StreamName=stream_name,
            ShardId=info["shardId"],
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=info["startSequenceNumber"],
        )["ShardIterator"]
        ids: list[str] = []
        first = True
        while iterator:
            answer = kinesis.get_records(ShardIterator=iterator, Limit=1000)
            records = answer.get("Records", [])
            if not records:
                return None  # the range is no longer (fully) in the stream: unrecoverable
            for record in records:
                sequence = int(record["SequenceNumber"])
                if first and sequence != start:
                    return None
                first = False
                if sequence > end:
                    return ids
                ids.extend(
                    event_ids(
                        decode_text(bytes(record["Data"]).decode(errors="replace"), base64_encoded=False)
                    )
                )
                if sequence == end:
                    return ids
            iterator = answer.get("NextShardIterator")
        return None

    def whole_stream(self, stream_name: str) -> tuple[int, Counter[str]]:
        kinesis = self.services.client("kinesis")
        ids: Counter[str] = Counter()
        records = 0
        for shard in kinesis.list_shards(StreamName=stream_name)["Shards"]:
            iterator = kinesis.get_shard_iterator(
                StreamName=stream_name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while iterator:
                answer = kinesis.get_records(ShardIterator=iterator, Limit=10000)
                batch = answer.get("Records", [])
                if not batch:
                    break
                records += len(batch)
                for record in batch:
                    ids.update(
                        event_ids(
                            decode_text(bytes(record["Data"]).decode(errors="replace"), base64_encoded=False)
                        )
                    )
                iterator = answer.get("NextShardIterator")
        return records, ids
