"""The enrichment function's typed settings, read from the environment once per container."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from signal_platform import idempotency
from signal_platform import settings as env
from signal_platform.errors import ConfigurationError

ENTRY_SOURCE: Final = "signals.enriched"
# The ingress contract's source; only these entries are verified and enriched.
INGRESS_SOURCE: Final = "signals.ingest"

MIN_IDEMPOTENCY_EXPIRY_SECONDS: Final = 24 * 3600
MAX_IDEMPOTENCY_EXPIRY_SECONDS: Final = 14 * 24 * 3600


@dataclass(frozen=True, slots=True)
class EnrichmentSettings:
    """Settings of the enrichment function.

    ``idempotency_expiry_seconds`` (IDEMPOTENCY_EXPIRY_SECONDS, default 172,800 s = 48 h) is how long
    a successfully enriched batch id is remembered: the window in which a repeat of the same batch,
    and so of every ``event_id`` in it, is dropped here instead of being forwarded again. (A failed
    invocation leaves no record: Powertools deletes it, so retries of failures need no window.)

    - EventBridge retries delivery to a rule target for at most MaximumEventAgeInSeconds <= 24 h.
    - The global endpoint retries replication to the other Region for 24 h. A batch can reach the
      processing Region twice: the original, and a copy of a client resend that landed in the other
      Region during a failover and is replicated back up to 24 h later; that copy's delivery can
      then be retried for up to 24 h. 24 h + 24 h = 48 h covers every automatic redelivery path.
      (Lambda's async queue may deliver twice within its own event age, normally seconds, at most
      6 h; such a rare straggler is caught downstream like a replay.)
    - Identical client resends (same events, same batch id) within 48 h are dropped here too.
    - Later repeats are manual or slow: a replay from a DLQ (SQS keeps messages up to 14 days), from
      the secondary's archive (30 days), or a client resend days later (the validator accepts
      events up to 7 days old). They are forwarded again with the same deterministic batch ids and
      event_ids, and are deduplicated downstream: the lake writer's ledger skips an enriched batch
      already in the lake (35 days), drops a repeated event_id within its Pipe batch, and the Athena
      view events_dedup keeps one row per event_id.

    Per-event_id duplicate suppression therefore is: 48 h after the first successful enrichment,
    for a repeat of the same batch, here; 35 days in the lake for a repeat of an enriched batch;
    unlimited in time for queries through the view. A resend with another composition (another batch
    id) is never suppressed here, only in the view.
    Values below 24 h would leave the rule's own retry window uncovered and are refused; above
    14 days (the longest DLQ retention) a record outlives every path that could use it.
    """

    data_platform_bus_name: str
    idempotency_table_name: str
    idempotency_expiry_seconds: int
    quarantine_bucket_name: str
    signing_key_secret_arn: str | None
    signing_key_parameter_name: str | None
    max_signals_per_entry: int
    store_raw_ip: bool
    # SignalBatchGrouping (docs/adr/0010): one event type per enriched batch, or a partition key's types.
    group_by_type: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> EnrichmentSettings:
        secret_arn = env.optional(environ, "SIGNING_KEY_SECRET_ARN")
        parameter_name = env.optional(environ, "SIGNING_KEY_PARAMETER_NAME")
        if bool(secret_arn) == bool(parameter_name):
            raise ConfigurationError(
                "set exactly one of SIGNING_KEY_SECRET_ARN or SIGNING_KEY_PARAMETER_NAME"
            )
        return cls(
            data_platform_bus_name=env.required(environ, "DATA_PLATFORM_BUS_NAME"),
            idempotency_table_name=env.required(environ, "IDEMPOTENCY_TABLE_NAME"),
            idempotency_expiry_seconds=env.integer(
                environ,
                "IDEMPOTENCY_EXPIRY_SECONDS",
                idempotency.DEFAULT_EXPIRY_SECONDS,
                minimum=MIN_IDEMPOTENCY_EXPIRY_SECONDS,
                maximum=MAX_IDEMPOTENCY_EXPIRY_SECONDS,
            ),
            quarantine_bucket_name=env.required(environ, "QUARANTINE_BUCKET_NAME"),
            signing_key_secret_arn=secret_arn,
            signing_key_parameter_name=parameter_name,
            max_signals_per_entry=env.integer(environ, "MAX_SIGNALS_PER_ENTRY", 50, minimum=1, maximum=500),
            store_raw_ip=env.flag(environ, "STORE_RAW_IP", default=False),
            group_by_type=env.groups_by_type(environ),
        )
