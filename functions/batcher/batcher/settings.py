"""The batcher's typed settings, read from the environment once per container."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from signal_platform import settings as env

# The validator's entry source: the batcher's entries are the validator's contract.
ENTRY_SOURCE: Final = "signals.ingest"


@dataclass(frozen=True, slots=True)
class BatcherSettings:
    ingress_bus_name: str
    # BufferDlq: where a record that is not a signal batch is set aside (docs/adr/0009).
    buffer_dlq_url: str
    # Where the cuts of segments that were not delivered are kept, for their retries (batcher.cuts).
    segment_cuts_table_name: str
    global_endpoint_id: str | None
    signing_key_secret_arn: str | None
    signing_key_parameter_name: str | None
    max_signals_per_entry: int
    segment_signals: int
    # SignalBatchGrouping (docs/adr/0010): one event type per signal batch, or a source's types in one.
    group_by_type: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> BatcherSettings:
        return cls(
            ingress_bus_name=env.required(environ, "INGRESS_BUS_NAME"),
            buffer_dlq_url=env.required(environ, "BUFFER_DLQ_URL"),
            segment_cuts_table_name=env.required(environ, "SEGMENT_CUTS_TABLE_NAME"),
            global_endpoint_id=env.optional(environ, "GLOBAL_ENDPOINT_ID"),
            signing_key_secret_arn=env.optional(environ, "SIGNING_KEY_SECRET_ARN"),
            signing_key_parameter_name=env.optional(environ, "SIGNING_KEY_PARAMETER_NAME"),
            max_signals_per_entry=env.integer(environ, "MAX_SIGNALS_PER_ENTRY", 50, minimum=1, maximum=500),
            segment_signals=env.integer(environ, "SEGMENT_SIGNALS", 2000, minimum=1, maximum=10_000),
            group_by_type=env.groups_by_type(environ),
        )
