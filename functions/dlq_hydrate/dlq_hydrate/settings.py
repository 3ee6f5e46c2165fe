"""The hydrate function's typed settings, read from the environment once per container."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from signal_platform import codec
from signal_platform import settings as env
from signal_platform.errors import ConfigurationError

# GetRecords returns at most 10,000 records per call (and at most 10 MiB).
MAX_GET_RECORDS_LIMIT: Final = 10_000
# Concurrent PutObject calls per message; the shared S3 client keeps a pool of 10 connections.
DEFAULT_WRITE_CONCURRENCY: Final = 10
MAX_WRITE_CONCURRENCY: Final = 10
# Prefix the replay tool moves done objects under; no store area may live below it.
REPLAYED_PREFIX: Final = "replayed"
_PREFIX: Final = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
CONSUMER_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


def _prefix(environ: Mapping[str, str], name: str, default: str) -> str:
    value = (env.optional(environ, name) or default).strip("/")
    if not _PREFIX.fullmatch(value) or ".." in value:
        raise ConfigurationError(
            f"environment variable {name} must be an S3 key prefix like 'dlq', got {value!r}"
        )
    return value


def _nested(one: str, other: str) -> bool:
    return f"{one}/".startswith(f"{other}/") or f"{other}/".startswith(f"{one}/")


def _consumers(environ: Mapping[str, str]) -> dict[str, str]:
    raw = env.optional(environ, "CONSUMER_BY_QUEUE")
    if raw is None:
        return {}
    try:
        value = codec.loads(raw)
    except codec.JSONDecodeError as exc:
        raise ConfigurationError(f"environment variable CONSUMER_BY_QUEUE is not JSON: {exc}") from exc
    if not isinstance(value, dict) or not all(
        isinstance(queue, str) and isinstance(consumer, str) for queue, consumer in value.items()
    ):
        raise ConfigurationError("environment variable CONSUMER_BY_QUEUE must be a JSON object of strings")
    for queue, consumer in value.items():
        if not CONSUMER_NAME.fullmatch(consumer):
            raise ConfigurationError(
                f"CONSUMER_BY_QUEUE[{queue!r}] = {consumer!r} must match {CONSUMER_NAME.pattern}"
            )
    return dict(value)


@dataclass(frozen=True, slots=True)
class HydrateSettings:
    store_bucket_name: str
    dlq_prefix: str = "dlq"
    unrecoverable_prefix: str = "unrecoverable"
    unparsed_prefix: str = "unparsed"
    consumer_by_queue: Mapping[str, str] = field(default_factory=dict)
    get_records_limit: int = MAX_GET_RECORDS_LIMIT
    write_concurrency: int = DEFAULT_WRITE_CONCURRENCY

    def consumer_for(self, queue_name: str) -> str:
        """The consumer a DLQ queue belongs to; an unmapped queue stands for itself."""
        return self.consumer_by_queue.get(queue_name, queue_name)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> HydrateSettings:
        prefixes = {
            "DLQ_PREFIX": _prefix(environ, "DLQ_PREFIX", "dlq"),
            "UNRECOVERABLE_PREFIX": _prefix(environ, "UNRECOVERABLE_PREFIX", "unrecoverable"),
            "UNPARSED_PREFIX": _prefix(environ, "UNPARSED_PREFIX", "unparsed"),
        }
        names = [*prefixes, "the replay tool's prefix"]
        values = [*prefixes.values(), REPLAYED_PREFIX]
        for index, one in enumerate(values):
            for other_index in range(index + 1, len(values)):
                if _nested(one, values[other_index]):
                    raise ConfigurationError(
                        f"{names[index]} {one!r} and {names[other_index]} {values[other_index]!r} "
                        "must not contain one another"
                    )
        return cls(
            store_bucket_name=env.required(environ, "DLQ_STORE_BUCKET_NAME"),
            dlq_prefix=prefixes["DLQ_PREFIX"],
            unrecoverable_prefix=prefixes["UNRECOVERABLE_PREFIX"],
            unparsed_prefix=prefixes["UNPARSED_PREFIX"],
            consumer_by_queue=_consumers(environ),
            get_records_limit=env.integer(
                environ, "GET_RECORDS_LIMIT", MAX_GET_RECORDS_LIMIT, minimum=1, maximum=MAX_GET_RECORDS_LIMIT
            ),
            write_concurrency=env.integer(
                environ,
                "WRITE_CONCURRENCY",
                DEFAULT_WRITE_CONCURRENCY,
                minimum=1,
                maximum=MAX_WRITE_CONCURRENCY,
            ),
        )
