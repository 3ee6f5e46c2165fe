"""Browse the DLQ store and replay what it holds to the consumer it failed for.

    python -m tools.dlq list   [--consumer lake] [--since 2026-11-26T10] [--until 2026-11-26]
                               [--partition-key K] [--area dlq|replayed|unrecoverable|unparsed]
    python -m tools.dlq show   <key>
    python -m tools.dlq replay --consumer partner --partner-url https://partner.example/v1/events
                               --api-key-secret signals/partner-api-key [--since ...] [--until ...]
                               [--partition-key K] [--dry-run] [--rate 50] [--max-replays 3] [--limit N]

The bucket defaults to $DLQ_STORE_BUCKET_NAME and the prefixes to $DLQ_PREFIX (dlq),
$UNRECOVERABLE_PREFIX (unrecoverable) and $UNPARSED_PREFIX (unparsed), as the hydrate function
uses them. Region and credentials come from the usual AWS environment (AWS_PROFILE, AWS_REGION,
AWS_ENDPOINT_URL for the local cloud).

Replay, per object, in key order (--workers at a time, default 8): skip it when ``replayed/<key>``
already exists (an earlier run replayed it and stopped before the delete: the delete is finished
now; the replayed/ keys are listed once per run, not looked up per object); skip it as poison when its
``replay.count`` has reached --max-replays; otherwise count the attempt IN the object first (so a
crash counts too), send it, and on success MOVE it to ``replayed/<key>`` (copy, then delete). A
failed object stays where it is with its count and last error. Nothing is deleted without a copy,
and a rerun continues where a stopped one ended: the moved objects are the checkpoint.
Consumers and targets: partner -> HTTP POST (--partner-url, --api-key-env / --api-key-secret),
lake -> the S3 writer's write path in-process (--lake-bucket and --lake-ledger-table, or
$LAKE_BUCKET_NAME and $LAKE_LEDGER_TABLE_NAME), enrichment and
stream (rule-target events) -> PutEvents onto the bus of their RULE_ARN (or --bus), buffer (the
front-door buffer's records) -> PutRecord back onto the stream they came from (or --stream). --target
overrides the choice for other consumers. Exit status: 0 when nothing failed and nothing is poison.

This module only turns the command line into settings (``dlq_replay.engine.ReplaySettings``) and prints;
the engine is the ``dlq_replay`` package.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
from collections.abc import Iterator, Mapping

from dlq_hydrate import keys
from dlq_replay.engine import ReplaySettings, StopFlag, StoreSettings, replay_consumer, summary_lines
from dlq_replay.selection import Window, dated_keys, parse_moment, select_keys
from dlq_replay.store import ReplayStore
from dlq_replay.targets import (
    TARGET_BY_CONSUMER,
    BusTargetSettings,
    HttpTargetSettings,
    LakeTargetSettings,
    StreamTargetSettings,
    TargetSettings,
    api_key_from_secret,
)
from s3_writer.settings import S3WriterSettings
from signal_platform import codec
from signal_platform.errors import ConfigurationError, SignalPlatformError
from signal_platform.timeutil import utc_now
from tools.dlq_progress import ProgressBar

# --- the command line ----------------------------------------------------------------------------


def _api_key(args: argparse.Namespace, environ: Mapping[str, str]) -> str | None:
    if args.api_key_env:
        value = environ.get(args.api_key_env)
        if not value:
            raise SystemExit(f"error: environment variable {args.api_key_env} is empty")
        return value
    if args.api_key_secret:
        return api_key_from_secret(args.api_key_secret)
    return None


def target_settings(
    args: argparse.Namespace, consumer: str, environ: Mapping[str, str] = os.environ
) -> TargetSettings:
    """The target options (or the consumer's default kind) as settings; reads, never sets, ``environ``."""
    kind = args.target if args.target != "auto" else TARGET_BY_CONSUMER.get(consumer)
    if kind == "http":
        if not args.partner_url:
            raise SystemExit("error: the partner target needs --partner-url")
        return HttpTargetSettings(args.partner_url, _api_key(args, environ), timeout=args.timeout)
    if kind == "lake":
        lake_environment = {
            **environ,
            **({"LAKE_BUCKET_NAME": args.lake_bucket} if args.lake_bucket else {}),
            **({"LAKE_LEDGER_TABLE_NAME": args.lake_ledger_table} if args.lake_ledger_table else {}),
        }
        if not lake_environment.get("LAKE_BUCKET_NAME"):
            raise SystemExit("error: the lake target needs --lake-bucket or LAKE_BUCKET_NAME")
        if not lake_environment.get("LAKE_LEDGER_TABLE_NAME"):
            raise SystemExit("error: the lake target needs --lake-ledger-table or LAKE_LEDGER_TABLE_NAME")
        try:  # the S3 writer's own settings (LAKE_PREFIX, BAD_PREFIX, GZIP_LEVEL... as it reads them)
            return LakeTargetSettings(S3WriterSettings.from_env(lake_environment))
        except ConfigurationError as exc:
            raise SystemExit(f"error: {exc}") from exc
    if kind == "bus":
        return BusTargetSettings(bus=args.bus, region=args.region)
    if kind == "stream":
        return StreamTargetSettings(stream=args.stream)
    raise SystemExit(
        f"error: no default target for consumer {consumer!r}: pass --target http|lake|bus|stream"
    )


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--consumer", action="append", help="consumer name (repeatable; default: all)")
    parser.add_argument("--since", help="from this date/hour (UTC), e.g. 2026-11-26 or 2026-11-26T10")
    parser.add_argument("--until", help="up to and including this date/hour (UTC)")
    parser.add_argument("--partition-key", help="only records of this partition key")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.dlq", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--bucket", default=os.environ.get("DLQ_STORE_BUCKET_NAME", ""))
    parser.add_argument("--dlq-prefix", default=os.environ.get("DLQ_PREFIX", "dlq"))
    parser.add_argument(
        "--unrecoverable-prefix", default=os.environ.get("UNRECOVERABLE_PREFIX", "unrecoverable")
    )
    parser.add_argument("--unparsed-prefix", default=os.environ.get("UNPARSED_PREFIX", "unparsed"))
    commands = parser.add_subparsers(dest="command", required=True)

    listing = commands.add_parser("list", help="list stored objects (one key per line)")
    _common(listing)
    listing.add_argument("--area", choices=("dlq", "replayed", "unrecoverable", "unparsed"), default="dlq")

    show = commands.add_parser("show", help="print one stored object")
    show.add_argument("key")

    replay = commands.add_parser("replay", help="send stored records back to their consumer")
    _common(replay)
    replay.add_argument("--target", choices=("auto", "http", "lake", "bus", "stream"), default="auto")
    replay.add_argument("--partner-url", help="partner endpoint for the http target")
    keys_source = replay.add_mutually_exclusive_group()
    keys_source.add_argument("--api-key-env", help="environment variable holding the partner's x-api-key")
    keys_source.add_argument("--api-key-secret", help="Secrets Manager secret id holding the x-api-key")
    replay.add_argument("--timeout", type=float, default=10.0, help="HTTP timeout in seconds")
    replay.add_argument("--lake-bucket", help="lake bucket for the lake target (default $LAKE_BUCKET_NAME)")
    replay.add_argument(
        "--lake-ledger-table",
        help="the lake ledger table for the lake target (default $LAKE_LEDGER_TABLE_NAME)",
    )
    replay.add_argument("--stream", help="stream name for the stream target (default: the record's own)")
    replay.add_argument("--bus", help="bus name for the bus target (default: from the RULE_ARN attribute)")
    replay.add_argument("--region", help="Region of the bus (default: from the RULE_ARN attribute)")
    replay.add_argument(
        "--dry-run", action="store_true", help="report what would be replayed, change nothing"
    )
    replay.add_argument("--rate", type=float, default=None, help="at most this many records per second")
    replay.add_argument("--max-replays", type=int, default=3, help="loop guard: attempts per object")
    replay.add_argument("--limit", type=int, default=None, help="stop after this many objects")
    replay.add_argument("--workers", type=int, default=8, help="objects in flight at once (lake: always 1)")
    replay.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    replay.add_argument("--json", action="store_true", help="print the summary as JSON")
    return parser


def _window(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Window:
    try:
        return Window(
            since=parse_moment(args.since) if args.since else None,
            until=parse_moment(args.until, end=True) if args.until else None,
        )
    except ValueError as exc:
        parser.error(f"bad --since/--until: {exc}")


def _store_settings(args: argparse.Namespace) -> StoreSettings:
    return StoreSettings(args.bucket, args.dlq_prefix, args.unrecoverable_prefix, args.unparsed_prefix)


def _consumers(store: ReplayStore, prefix: str, args: argparse.Namespace) -> list[str]:
    return list(args.consumer) if args.consumer else sorted(store.list_children(f"{prefix}/"))


def _list(store: ReplayStore, args: argparse.Namespace, window: Window) -> int:
    if args.area in {"dlq", "replayed"}:
        prefix = args.dlq_prefix if args.area == "dlq" else keys.replayed_key(args.dlq_prefix)
        consumers = _consumers(store, prefix, args)
        found: Iterator[str] = select_keys(
            store, prefix, consumers, window, args.partition_key, now=utc_now()
        )
    else:
        base = args.unrecoverable_prefix if args.area == "unrecoverable" else args.unparsed_prefix
        if args.area == "unrecoverable" and args.consumer:
            found = (
                key for consumer in args.consumer for key in dated_keys(store, f"{base}/{consumer}/", window)
            )
        else:
            found = dated_keys(store, f"{base}/", window)
    count = 0
    for key in found:
        print(key)
        count += 1
    print(f"{count} object(s)", file=sys.stderr)
    return 0


def _show(store: ReplayStore, key: str) -> int:
    stored = store.get(key)
    if stored is None:
        print(f"error: no object {key!r}", file=sys.stderr)
        return 1
    print(json.dumps(stored.body, indent=2, ensure_ascii=False))
    return 0


def _replay(args: argparse.Namespace, window: Window) -> int:
    if not args.consumer or len(args.consumer) != 1:
        raise SystemExit("error: replay needs exactly one --consumer")
    if args.max_replays < 1 or args.workers < 1 or (args.limit is not None and args.limit < 1):
        raise SystemExit("error: --max-replays, --workers and --limit must be positive")
    rate = 1.0 if args.rate is None else args.rate
    if not all(math.isfinite(value) and value > 0 for value in (rate, args.timeout)):
        raise SystemExit("error: --rate and --timeout must be positive finite numbers")
    consumer = args.consumer[0]
    settings = ReplaySettings(
        store=_store_settings(args),
        consumer=consumer,
        target=target_settings(args, consumer),
        window=window,
        partition_key=args.partition_key,
        dry_run=args.dry_run,
        rate=args.rate,
        max_replays=args.max_replays,
        limit=args.limit,
        workers=args.workers,
    )
    show_progress = sys.stderr.isatty() if args.progress is None else args.progress
    stop = StopFlag()
    previous = signal.signal(signal.SIGINT, stop)
    try:
        target, summary = replay_consumer(
            settings, progress=lambda total: ProgressBar(total, enabled=show_progress), stop=stop
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    if args.json:
        print(codec.dumps({"consumer": consumer, "target": target.name, **summary.as_dict()}).decode())
    else:
        print("\n".join(summary_lines(consumer, target, summary)))
    return 0 if summary.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.bucket:
        parser.error("no DLQ store bucket: pass --bucket or set DLQ_STORE_BUCKET_NAME")
    store = ReplayStore(args.bucket)
    try:
        if args.command == "show":
            return _show(store, args.key)
        window = _window(parser, args)
        if args.command == "list":
            return _list(store, args, window)
        return _replay(args, window)
    except SignalPlatformError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
