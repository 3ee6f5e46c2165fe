"""The S3 writer's collaborators, built once per container on first use (never at import)."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache

from s3_writer.ledger import DynamoDbLedger
from s3_writer.settings import S3WriterSettings
from s3_writer.storage import LakeWriter
from s3_writer.writer import BatchWriter


def build_batch_writer(settings: S3WriterSettings, clock: Callable[[], float] = time.time) -> BatchWriter:
    """``clock`` (epoch seconds) times the ledger's leases and TTLs; an emulator passes its own."""
    return BatchWriter(
        LakeWriter(settings.lake_bucket_name),
        DynamoDbLedger(
            settings.lake_ledger_table_name,
            retention_seconds=settings.ledger_retention_days * 86_400,
            clock=clock,
        ),
        lake_prefix=settings.lake_prefix,
        bad_prefix=settings.bad_prefix,
        gzip_level=settings.gzip_level,
        concurrency=settings.write_concurrency,
        clock=clock,
    )


@cache
def batch_writer() -> BatchWriter:
    return build_batch_writer(S3WriterSettings.from_env())


def reset() -> None:
    """Forget the cached collaborators (tests change the environment between cases)."""
    if batch_writer.cache_info().currsize:
        batch_writer().close()
    batch_writer.cache_clear()
