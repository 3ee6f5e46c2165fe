"""On-demand resharding, as Kinesis does it: a shard split mid-run (a ``Reshard`` fault).

What the Kinesis guide documents ("Complete the resharding action"): after ``SplitShard`` the parent
shard is closed and takes no new records, the records it held stay in it, readable until the
retention period ends, and new records go to the two child shards, whose hash key ranges split the
parent's. moto's ``split_shard`` instead
moves the parent's records into the children (and its key lookup still finds the closed parent), so
the split is done here on moto's stream model: two children are added, the parent is closed with its
records kept, and key lookups see open shards only.

Only the open shard that received the most records is split (the busy one, as on-demand scaling
would); child shards number their records from 1, where AWS gives them larger sequence numbers than
the parent's (nothing here compares sequence numbers across shards).
"""

from __future__ import annotations

import logging
import types
from typing import Any

log = logging.getLogger("localcloud")


def split_busiest_shard(account_id: str, region: str, stream_name: str) -> tuple[str, str, str] | None:
    """Split the busiest open shard of the stream; (parent, child, child) or None without a stream."""
    from moto.kinesis.models import Shard, kinesis_backends  # noqa: PLC0415

    stream: Any = kinesis_backends[account_id][region].streams.get(stream_name)
    if stream is None:
        return None
    open_shards = [shard for shard in stream.shards.values() if shard.is_open]
    parent = max(open_shards, key=lambda shard: (len(shard.records), shard.shard_id))
    middle = (parent.starting_hash + parent.ending_hash + 1) // 2
    last = max(shard._shard_id for shard in stream.shards.values())
    low = Shard(last + 1, parent.starting_hash, middle - 1, parent=parent.shard_id)
    high = Shard(last + 2, middle, parent.ending_hash, parent=parent.shard_id)
    stream.shards[low.shard_id], stream.shards[high.shard_id] = low, high
    children = (low.shard_id, high.shard_id)
    parent.is_open = False
    stream.get_shard_for_key = types.MethodType(_open_shard_for_key, stream)
    log.info("stream %s: shard %s split into %s and %s", stream_name, parent.shard_id, *children)
    return parent.shard_id, *children


def _open_shard_for_key(stream: Any, partition_key: str, explicit_hash_key: str | None) -> Any:
    """moto's key lookup over open shards only (a closed parent takes no new records)."""
    from moto.utilities.utils import md5_hash  # noqa: PLC0415

    if explicit_hash_key:
        key = int(explicit_hash_key)
    else:
        key = int(md5_hash(partition_key.encode()).hexdigest(), 16)
    for shard in stream.shards.values():
        if shard.is_open and shard.starting_hash <= key <= shard.ending_hash:
            return shard
    return None
