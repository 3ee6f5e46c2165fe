"""The validator's typed settings, read from the environment once per container."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from signal_platform import settings as env

ENTRY_SOURCE = "signals.ingest"


@dataclass(frozen=True, slots=True)
class ValidatorSettings:
    region: str
    ingress_bus_name: str
    global_endpoint_id: str | None
    sources_table_name: str
    signing_key_secret_arn: str | None
    signing_key_parameter_name: str | None
    max_signals_per_entry: int
    max_event_bytes: int
    max_events_per_request: int
    max_body_bytes: int
    max_future_skew: timedelta
    max_event_age: timedelta
    # StoreRawIp: keep the client's full IP address in signed batches (default: its network only).
    store_raw_ip: bool = False
    # Front-door buffer (docs/adr/0009): the stream's name, empty when the mode is off.
    buffer_stream_name: str | None = None
    buffer_below_signals: int = 25
    # SignalBatchGrouping (docs/adr/0010): one event type per signal batch, or a request's types in one.
    group_by_type: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ValidatorSettings:
        return cls(
            region=env.required(environ, "AWS_REGION"),
            ingress_bus_name=env.required(environ, "INGRESS_BUS_NAME"),
            global_endpoint_id=env.optional(environ, "GLOBAL_ENDPOINT_ID"),
            sources_table_name=env.required(environ, "SOURCES_TABLE_NAME"),
            signing_key_secret_arn=env.optional(environ, "SIGNING_KEY_SECRET_ARN"),
            signing_key_parameter_name=env.optional(environ, "SIGNING_KEY_PARAMETER_NAME"),
            max_signals_per_entry=env.integer(environ, "MAX_SIGNALS_PER_ENTRY", 50, minimum=1, maximum=500),
            max_event_bytes=env.integer(
                environ, "MAX_EVENT_BYTES", 32 * 1024, minimum=256, maximum=1024 * 1024
            ),
            max_events_per_request=env.integer(
                environ, "MAX_EVENTS_PER_REQUEST", 500, minimum=1, maximum=500
            ),
            max_body_bytes=env.integer(
                environ, "MAX_BODY_BYTES", 1024 * 1024, minimum=1024, maximum=6 * 1024 * 1024
            ),
            max_future_skew=timedelta(seconds=env.integer(environ, "MAX_FUTURE_SKEW_SECONDS", 3600)),
            max_event_age=timedelta(
                seconds=env.integer(environ, "MAX_EVENT_AGE_SECONDS", 7 * 24 * 3600, minimum=60)
            ),
            store_raw_ip=env.flag(environ, "STORE_RAW_IP", default=False),
            buffer_stream_name=env.optional(environ, "BUFFER_STREAM_NAME"),
            buffer_below_signals=env.integer(environ, "BUFFER_BELOW_SIGNALS", 25, minimum=1, maximum=500),
            group_by_type=env.groups_by_type(environ),
        )
