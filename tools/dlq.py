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
lake -> the S3 writer's handler in-process (--lake-bucket, --lake-ledger-table or
$LAKE_BUCKET_NAME, $LAKE_LEDGER_TABLE_NAME), enrichment and
stream (rule-target events) -> PutEvents onto the bus of their RULE_ARN (or --bus). --target
overrides the choice for other consumers. Exit status: 0 when nothing failed and nothing is poison.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any, Final

from dlq_hydrate import keys
from signal_platform import aws_clients, codec
from signal_platform.errors import SignalPlatformError
from signal_platform.timeutil import format_rfc3339, utc_now
from tools.dlq_progress import Pacer, ProgressBar
from tools.dlq_store import ChangedMeanwhileError, ReplayStore, StoredObject
from tools.dlq_targets import BusTarget, HttpTarget, LakeTarget, Target

TARGET_BY_CONSUMER: Final = {"partner": "http", "lake": "lake", "enrichment": "bus", "stream": "bus"}
# Up to two weeks of hours are listed hour by hour (exact prefixes); longer windows day by day.
MAX_HOUR_PREFIXES: Final = 14 * 24
MAX_DAY_PREFIXES: Final = 400
OUTCOMES: Final = ("replayed", "failed", "already_done", "poison", "changed", "would_replay")


# --- selecting keys ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """Hours ``since <= hour < until`` (either open); the key's date/hour parts are what is compared."""

    since: datetime | None = None
    until: datetime | None = None

    def holds(self, hour: datetime) -> bool:
        return (self.since is None or hour >= self.since) and (self.until is None or hour < self.until)


def parse_moment(text: str, *, end: bool = False) -> datetime:
    """``2026-11-26``, ``2026-11-26T10``, ``2026-11-26T10:15`` or full RFC 3339 (UTC unless stated).

    A start is floored to its hour; an end (``end=True``) covers the whole day or hour it names.
    """
    value = text.strip()
    granularity = timedelta(days=1) if len(value) == 10 else timedelta(hours=1)
    if len(value) == 13:  # 2026-11-26T10
        value += ":00"
    moment = datetime.fromisoformat(value)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    moment = moment.replace(minute=0, second=0, microsecond=0)
    return moment + granularity if end else moment


def listing_prefixes(
    prefix: str, consumer: str, window: Window, partition_key: str | None, *, now: datetime
) -> list[str]:
    """The fewest exact S3 prefixes that cover ``window`` (filtering finishes the job)."""
    if window.since is None and window.until is None:
        return [f"{prefix}/{consumer}/"]
    since = window.since or datetime(2000, 1, 1, tzinfo=UTC)
    last = (window.until or now + timedelta(hours=1)) - timedelta(microseconds=1)
    if since > last:
        return []
    span_hours = (last - since) // timedelta(hours=1) + 1
    if span_hours <= MAX_HOUR_PREFIXES:
        return [keys.hour_prefix(prefix, consumer, hour, partition_key) for hour in keys.hours(since, last)]
    if (last - since).days + 1 <= MAX_DAY_PREFIXES:
        return [keys.day_prefix(prefix, consumer, day) for day in keys.days(since, last)]
    return [f"{prefix}/{consumer}/"]


def select_keys(
    store: ReplayStore,
    prefix: str,
    consumers: Sequence[str],
    window: Window,
    partition_key: str | None,
    *,
    now: datetime,
) -> Iterator[str]:
    """The record keys under ``prefix`` of ``consumers`` inside ``window``, in key order."""
    segment = keys.partition_segment(partition_key) if partition_key is not None else None
    for consumer in consumers:
        for listing in listing_prefixes(prefix, consumer, window, partition_key, now=now):
            for key in store.list_keys(listing):
                parsed = keys.parse_record_key(prefix, key)
                if parsed is None or not window.holds(parsed.hour):
                    continue
                if segment is not None and parsed.partition_segment != segment:
                    continue
                yield key


def _dated_keys(store: ReplayStore, prefix: str, window: Window) -> Iterator[str]:
    """Keys of the manifest and unparsed areas, filtered on their ``yyyy/mm/dd`` parts."""
    for key in store.list_keys(prefix):
        parts = key[len(prefix) :].split("/")
        try:
            day = datetime(int(parts[-4]), int(parts[-3]), int(parts[-2]), tzinfo=UTC)
        except (ValueError, IndexError):
            yield key
            continue
        if (window.since is None or day + timedelta(days=1) > window.since) and (
            window.until is None or day < window.until
        ):
            yield key


# --- replaying -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Summary:
    selected: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    failures: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    poison: list[str] = field(default_factory=list)
    interrupted: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.counts["failed"] and not self.counts["poison"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "selected": self.selected,
            **self.counts,
            "interrupted": self.interrupted,
            "seconds": round(self.seconds, 3),
            "failures": [{"key": key, "reason": reason} for key, reason in self.failures],
            "warnings": [{"key": key, "reason": reason} for key, reason in self.warnings],
            "poison_keys": self.poison,
        }


@dataclass(slots=True)
class Replayer:
    store: ReplayStore
    target: Target
    max_replays: int = 3
    dry_run: bool = False
    # Keys whose replayed/ copy existed when the run started (listed once, not a HEAD per object).
    done_before: frozenset[str] = frozenset()
    now: Callable[[], datetime] = utc_now

    def replay_one(self, key: str) -> tuple[str, str]:
        """Replay one object; returns (outcome, detail)."""
        if key in self.done_before:
            # An earlier run sent it and stopped between the copy and the delete: finish the move.
            if not self.dry_run:
                self.store.delete(key)
            return "already_done", "replayed before"
        stored = self.store.get(key)
        if stored is None:
            return "already_done", "moved meanwhile"
        skip = self._skip(stored)
        if skip is not None:
            return skip
        state = stored.body["replay"]
        state.update(
            count=int(state.get("count", 0)) + 1,
            last_attempt_at=format_rfc3339(self.now()),
            target=self.target.name,
        )
        self.store.replace(stored)  # the attempt is counted before it is made
        try:
            self.target.send(stored.body)
        except SignalPlatformError as error:
            state["last_error"] = str(error)
            with contextlib.suppress(SignalPlatformError):  # counted already; the text is a courtesy
                self.store.replace(stored)
            return "failed", str(error)
        state.pop("last_error", None)
        state["replayed_at"] = format_rfc3339(self.now())
        try:
            self.store.move_done(stored)
        except SignalPlatformError as error:
            # Sent, but not (fully) marked: a copy in replayed/ makes the next run finish the move.
            return "replayed", f"sent, but the move to replayed/ did not finish: {error}"
        return "replayed", ""

    def _skip(self, stored: StoredObject) -> tuple[str, str] | None:
        """Why ``stored`` is not sent this time (None: it is)."""
        state = stored.body.setdefault("replay", {})
        count = int(state.get("count", 0))
        if count >= self.max_replays:
            return "poison", f"replayed {count} times already"
        if self.dry_run:
            return "would_replay", ""
        return None


class _StopFlag:
    """Set by SIGINT: the object in flight is finished, then the run stops and reports."""

    def __init__(self) -> None:
        self.stop = False

    def __call__(self, _signum: int, _frame: FrameType | None) -> None:
        if self.stop:
            raise KeyboardInterrupt
        self.stop = True


def run_replay(
    replayer: Replayer,
    selected: Sequence[str],
    *,
    pacer: Pacer,
    progress: ProgressBar,
    workers: int = 1,
    limit: int | None = None,
    stop: _StopFlag | None = None,
) -> Summary:
    """Replay ``selected`` in key order, ``workers`` at a time; stops early on ``limit`` or SIGINT."""
    summary = Summary(selected=len(selected))
    started = time.monotonic()

    def attempt(key: str) -> tuple[str, str]:
        try:
            return replayer.replay_one(key)
        except ChangedMeanwhileError as error:
            return "changed", str(error)
        except SignalPlatformError as error:
            return "failed", str(error)

    def record(key: str, outcome: str, detail: str) -> None:
        summary.counts[outcome] += 1
        if outcome == "failed":
            summary.failures.append((key, detail))
        elif outcome == "poison":
            summary.poison.append(key)
        elif outcome == "replayed" and detail:
            summary.warnings.append((key, detail))
        progress.update(sum(summary.counts.values()), summary.counts)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="replay") as pool:
        pending: dict[Future[tuple[str, str]], str] = {}
        for submitted, key in enumerate(selected):
            if (limit is not None and submitted >= limit) or (stop is not None and stop.stop):
                summary.interrupted = True
                break
            if len(pending) >= workers:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    record(pending.pop(future), *future.result())
            pacer.wait()
            pending[pool.submit(attempt, key)] = key
        for future in as_completed(pending):
            record(pending[future], *future.result())
    progress.close()
    summary.failures.sort()
    summary.poison.sort()
    summary.seconds = time.monotonic() - started
    return summary


# --- the command line ----------------------------------------------------------------------------


def _api_key(args: argparse.Namespace) -> str | None:
    if args.api_key_env:
        value = os.environ.get(args.api_key_env)
        if not value:
            raise SystemExit(f"error: environment variable {args.api_key_env} is empty")
        return value
    if args.api_key_secret:
        secret = aws_clients.client("secretsmanager").get_secret_value(SecretId=args.api_key_secret)
        text = str(secret.get("SecretString", ""))
        try:
            parsed = codec.loads(text)
        except codec.JSONDecodeError:
            return text
        if isinstance(parsed, dict):
            for name in ("api_key", "apiKey", "x-api-key"):
                if isinstance(parsed.get(name), str):
                    return str(parsed[name])
        return text
    return None


def build_target(args: argparse.Namespace, consumer: str) -> Target:
    kind = args.target if args.target != "auto" else TARGET_BY_CONSUMER.get(consumer)
    if kind == "http":
        if not args.partner_url:
            raise SystemExit("error: the partner target needs --partner-url")
        return HttpTarget(args.partner_url, _api_key(args), timeout=args.timeout)
    if kind == "lake":
        if args.lake_bucket or args.lake_ledger_table:
            if args.lake_bucket:
                os.environ["LAKE_BUCKET_NAME"] = args.lake_bucket
            if args.lake_ledger_table:
                os.environ["LAKE_LEDGER_TABLE_NAME"] = args.lake_ledger_table
            from s3_writer import dependencies  # noqa: PLC0415 - only the lake needs it

            dependencies.reset()
        if not os.environ.get("LAKE_BUCKET_NAME"):
            raise SystemExit("error: the lake target needs --lake-bucket or LAKE_BUCKET_NAME")
        if not os.environ.get("LAKE_LEDGER_TABLE_NAME"):
            raise SystemExit("error: the lake target needs --lake-ledger-table or LAKE_LEDGER_TABLE_NAME")
        return LakeTarget()
    if kind == "bus":
        return BusTarget(bus=args.bus, region=args.region)
    raise SystemExit(f"error: no default target for consumer {consumer!r}: pass --target http|lake|bus")


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
    replay.add_argument("--target", choices=("auto", "http", "lake", "bus"), default="auto")
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


def _consumers(store: ReplayStore, prefix: str, args: argparse.Namespace) -> list[str]:
    return list(args.consumer) if args.consumer else sorted(store.list_children(f"{prefix}/"))


def _list(store: ReplayStore, args: argparse.Namespace, window: Window) -> int:
    if args.area in {"dlq", "replayed"}:
        prefix = args.dlq_prefix if args.area == "dlq" else keys.replayed_key(args.dlq_prefix)
        consumers = _consumers(store, prefix, args)
        found = select_keys(store, prefix, consumers, window, args.partition_key, now=utc_now())
    else:
        base = args.unrecoverable_prefix if args.area == "unrecoverable" else args.unparsed_prefix
        if args.area == "unrecoverable" and args.consumer:
            found = (
                key for consumer in args.consumer for key in _dated_keys(store, f"{base}/{consumer}/", window)
            )
        else:
            found = _dated_keys(store, f"{base}/", window)
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


def _print_summary(consumer: str, target: Target, summary: Summary, *, as_json: bool) -> None:
    if as_json:
        print(codec.dumps({"consumer": consumer, "target": target.name, **summary.as_dict()}).decode())
        return
    counts = summary.counts
    rate = (counts["replayed"] / summary.seconds) if summary.seconds else 0.0
    print(f"consumer {consumer!r} -> {target.name}: {summary.selected} object(s) selected")
    print(f"  replayed            {counts['replayed']}")
    print(f"  failed              {counts['failed']}")
    print(f"  already done        {counts['already_done']}")
    print(f"  skipped (loop guard, poison) {counts['poison']}")
    if counts["changed"]:
        print(f"  changed meanwhile   {counts['changed']} (another replay holds them)")
    if counts["would_replay"]:
        print(f"  would replay (dry run) {counts['would_replay']}")
    if summary.interrupted:
        print("  stopped before the end: run the same command again to continue")
    print(f"  {summary.seconds:.1f} s, {rate:.1f} records/s")
    for key, reason in summary.failures:
        print(f"failed: {key}: {reason}")
    for key, reason in summary.warnings:
        print(f"warning: {key}: {reason}")
    for key in summary.poison:
        print(f"poison: {key} (inspect with `show`; raise --max-replays only after fixing the cause)")


def _replay(store: ReplayStore, args: argparse.Namespace, window: Window) -> int:
    if not args.consumer or len(args.consumer) != 1:
        raise SystemExit("error: replay needs exactly one --consumer")
    if args.max_replays < 1 or args.workers < 1 or (args.rate is not None and args.rate <= 0):
        raise SystemExit("error: --max-replays, --workers and --rate must be positive")
    consumer = args.consumer[0]
    target = build_target(args, consumer)
    now = utc_now()
    selected = list(select_keys(store, args.dlq_prefix, [consumer], window, args.partition_key, now=now))
    done_prefix = keys.replayed_key(args.dlq_prefix)
    done_before = frozenset(
        key[len(keys.REPLAYED_PREFIX) + 1 :]
        for key in select_keys(store, done_prefix, [consumer], window, args.partition_key, now=now)
    )
    replayer = Replayer(
        store, target, max_replays=args.max_replays, dry_run=args.dry_run, done_before=done_before
    )
    # The lake target runs the S3 writer's handler in-process, whose Powertools state is per process.
    workers = 1 if target.name == "lake" else args.workers
    show_progress = sys.stderr.isatty() if args.progress is None else args.progress
    stop = _StopFlag()
    previous = signal.signal(signal.SIGINT, stop)
    try:
        summary = run_replay(
            replayer,
            selected,
            pacer=Pacer(args.rate),
            progress=ProgressBar(len(selected), enabled=show_progress),
            workers=workers,
            limit=args.limit,
            stop=stop,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    _print_summary(consumer, target, summary, as_json=args.json)
    return 0 if summary.ok else 1


def quiet_powertools() -> None:
    """For the command line: the lake target runs the S3 writer's handler in-process; keep its logs
    to warnings and let it flush no metrics (set before the layer's observability module loads)."""
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "dlq-replay")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "CustomerSignals")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "1")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")


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
        return _replay(store, args, window)
    except SignalPlatformError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    quiet_powertools()
    raise SystemExit(main())
