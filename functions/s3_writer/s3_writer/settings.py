"""The S3 writer's typed settings, read from the environment once per container."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from signal_platform import settings as env
from signal_platform.errors import ConfigurationError

# zlib level 6 (gzip's default) compresses our NDJSON ~9x at ~2x the CPU of level 1; above 6 the CPU
# grows fast for a ratio gain under 3% (measured: docs/lake.md, "Compression").
DEFAULT_GZIP_LEVEL: Final = 6
# Concurrent PutObject calls per invocation: a Pipe batch usually spans a few event types and hours.
DEFAULT_WRITE_CONCURRENCY: Final = 8
# How long the lake ledger remembers a record: longer than any path that can bring a copy back (the
# stream keeps records up to 7 days by default, DLQs 14 days, the secondary's archive 30 days).
DEFAULT_LEDGER_RETENTION_DAYS: Final = 35
_PREFIX: Final = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")


def _prefix(environ: Mapping[str, str], name: str, default: str) -> str:
    value = (env.optional(environ, name) or default).strip("/")
    if not _PREFIX.fullmatch(value) or ".." in value:
        raise ConfigurationError(
            f"environment variable {name} must be an S3 key prefix like 'events', got {value!r}"
        )
    return value


@dataclass(frozen=True, slots=True)
class S3WriterSettings:
    lake_bucket_name: str
    lake_ledger_table_name: str
    ledger_retention_days: int
    lake_prefix: str
    bad_prefix: str
    gzip_level: int
    write_concurrency: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> S3WriterSettings:
        lake_prefix = _prefix(environ, "LAKE_PREFIX", "events")
        bad_prefix = _prefix(environ, "BAD_PREFIX", "bad")
        if f"{lake_prefix}/".startswith(f"{bad_prefix}/") or f"{bad_prefix}/".startswith(f"{lake_prefix}/"):
            raise ConfigurationError(
                f"LAKE_PREFIX {lake_prefix!r} and BAD_PREFIX {bad_prefix!r} must not contain one another"
            )
        return cls(
            lake_bucket_name=env.required(environ, "LAKE_BUCKET_NAME"),
            lake_ledger_table_name=env.required(environ, "LAKE_LEDGER_TABLE_NAME"),
            ledger_retention_days=env.integer(
                environ, "LEDGER_RETENTION_DAYS", DEFAULT_LEDGER_RETENTION_DAYS, minimum=1, maximum=365
            ),
            lake_prefix=lake_prefix,
            bad_prefix=bad_prefix,
            gzip_level=env.integer(environ, "GZIP_LEVEL", DEFAULT_GZIP_LEVEL, minimum=1, maximum=9),
            write_concurrency=env.integer(
                environ, "WRITE_CONCURRENCY", DEFAULT_WRITE_CONCURRENCY, minimum=1, maximum=32
            ),
        )
