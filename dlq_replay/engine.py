"""Replaying stored objects: one object at a time (``Replayer``), a selection of them (``run_replay``),
and one consumer end to end from its settings (``replay_consumer``).

Per object, in key order: skip it when ``replayed/<key>`` already exists (an earlier run replayed it and
stopped before the delete: the delete is finished now; the replayed/ keys are listed once per run, not
looked up per object); keep a buffer record the batcher set aside (not a signal batch: replayed
unchanged it would only be set aside again, as a new object); skip it as poison when its
``replay.count`` has reached ``max_replays``; otherwise count the attempt IN the object first (so a
crash counts too), send it, and on success MOVE it to ``replayed/<key>`` (copy, then delete). A failed
object stays where it is with its count and last error. Nothing is deleted without a copy, and a rerun
continues where a stopped one ended.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass, field
from datetime import datetime
from types import FrameType
from typing import Any, Final, Protocol

from batcher.set_aside import CONDITION as SET_ASIDE_CONDITION
from dlq_hydrate import keys
from dlq_replay.pacing import Pacer
from dlq_replay.selection import Window, select_keys
from dlq_replay.store import ChangedMeanwhileError, ReplayStore, StoredObject
from dlq_replay.targets import Target, TargetSettings, build_target
from signal_platform.errors import SignalPlatformError
from signal_platform.timeutil import format_rfc3339, utc_now

OUTCOMES: Final = ("replayed", "failed", "already_done", "poison", "changed", "would_replay", "kept")
KEPT_SET_ASIDE: Final = (
    "a buffer record the batcher set aside: it is not a signal batch, so replayed unchanged it would be"
    " set aside again; kept as the evidence (docs/runbook.md#bufferdlq)"
)
# What a target raises for a stored object of an odd shape (edited by hand, or not the hydrate's: bad
# base64, a missing or mistyped field): a failure of that object, counted like any other, not the end
# of the run (which would stop at the same object on every rerun).
ODD_OBJECT_ERRORS: Final = (KeyError, TypeError, ValueError, AttributeError)


class Progress(Protocol):
    """Where a replay reports how far it is (the command line's progress bar; nothing by default)."""

    def update(self, done: int, counts: Mapping[str, int]) -> None: ...

    def close(self) -> None: ...


class SilentProgress:
    def update(self, done: int, counts: Mapping[str, int]) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass(slots=True)
class Summary:
    selected: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    failures: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    poison: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
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
            "kept_keys": self.kept,
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
        except (SignalPlatformError, *ODD_OBJECT_ERRORS) as error:
            reason = str(error) if isinstance(error, SignalPlatformError) else self._odd(error)
            state["last_error"] = reason
            with contextlib.suppress(SignalPlatformError):  # counted already; the text is a courtesy
                self.store.replace(stored)
            return "failed", reason
        state.pop("last_error", None)
        state["replayed_at"] = format_rfc3339(self.now())
        try:
            self.store.move_done(stored)
        except SignalPlatformError as error:
            # Sent, but not (fully) marked: a copy in replayed/ makes the next run finish the move.
            return "replayed", f"sent, but the move to replayed/ did not finish: {error}"
        return "replayed", ""

    def _odd(self, error: Exception) -> str:
        name = type(error).__name__
        return f"the object is not one the {self.target.name} target can send: {name}: {error}"

    def _skip(self, stored: StoredObject) -> tuple[str, str] | None:
        """Why ``stored`` is not sent this time (None: it is)."""
        if _set_aside_by_the_batcher(stored.body):
            return "kept", KEPT_SET_ASIDE
        state = stored.body.setdefault("replay", {})
        try:
            count = int(state.get("count", 0))
        except (AttributeError, TypeError, ValueError):
            return "failed", f"its replay state is not an object with a count: {state!r:.200}"
        if count >= self.max_replays:
            return "poison", f"replayed {count} times already"
        if self.dry_run:
            return "would_replay", ""
        return None


def _set_aside_by_the_batcher(body: Mapping[str, Any]) -> bool:
    """Whether the DLQ message kept in ``body`` is the batcher's for a record it set aside."""
    dlq = body.get("dlq")
    message = dlq.get("message") if isinstance(dlq, dict) else None
    context = message.get("requestContext") if isinstance(message, dict) else None
    return isinstance(context, dict) and context.get("condition") == SET_ASIDE_CONDITION


class StopFlag:
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
    progress: Progress,
    workers: int = 1,
    limit: int | None = None,
    stop: StopFlag | None = None,
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
        elif outcome == "kept":
            summary.kept.append(key)
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
    summary.kept.sort()
    summary.seconds = time.monotonic() - started
    return summary


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """Where the DLQ store is: its bucket and the hydrate function's prefixes."""

    bucket: str
    dlq_prefix: str = "dlq"
    unrecoverable_prefix: str = "unrecoverable"
    unparsed_prefix: str = "unparsed"


@dataclass(frozen=True, slots=True)
class ReplaySettings:
    """One replay of one consumer's stored objects to one target."""

    store: StoreSettings
    consumer: str
    target: TargetSettings
    window: Window = field(default_factory=Window)
    partition_key: str | None = None
    dry_run: bool = False
    rate: float | None = None  # records per second; None: no limit
    max_replays: int = 3  # loop guard: attempts per object
    limit: int | None = None  # stop after this many objects
    workers: int = 8

    def __post_init__(self) -> None:
        if self.max_replays < 1 or self.workers < 1 or (self.rate is not None and self.rate <= 0):
            raise ValueError("max_replays, workers and rate must be positive")


def replay_consumer(
    settings: ReplaySettings,
    *,
    progress: Callable[[int], Progress] = lambda _total: SilentProgress(),
    stop: StopFlag | None = None,
    now: Callable[[], datetime] = utc_now,
) -> tuple[Target, Summary]:
    """Replay the consumer's objects in ``settings.window`` to its target; the target and what happened.
    ``progress`` makes the reporter for a replay of that many objects."""
    store = ReplayStore(settings.store.bucket)
    target = build_target(settings.target)
    prefix, consumer, window, partition_key = (
        settings.store.dlq_prefix,
        settings.consumer,
        settings.window,
        settings.partition_key,
    )
    moment = now()
    selected = list(select_keys(store, prefix, [consumer], window, partition_key, now=moment))
    done_before = frozenset(
        key[len(keys.REPLAYED_PREFIX) + 1 :]
        for key in select_keys(
            store, keys.replayed_key(prefix), [consumer], window, partition_key, now=moment
        )
    )
    replayer = Replayer(
        store,
        target,
        max_replays=settings.max_replays,
        dry_run=settings.dry_run,
        done_before=done_before,
        now=now,
    )
    # The lake target is one S3 writer, as one Lambda container: one batch at a time.
    workers = 1 if target.name == "lake" else settings.workers
    summary = run_replay(
        replayer,
        selected,
        pacer=Pacer(settings.rate),
        progress=progress(len(selected)),
        workers=workers,
        limit=settings.limit,
        stop=stop,
    )
    return target, summary


def summary_lines(consumer: str, target: Target, summary: Summary) -> list[str]:
    """What an operator reads after a replay: counts, rate, then every failure, warning and poison key."""
    counts = summary.counts
    rate = (counts["replayed"] / summary.seconds) if summary.seconds else 0.0
    lines = [
        f"consumer {consumer!r} -> {target.name}: {summary.selected} object(s) selected",
        f"  replayed            {counts['replayed']}",
        f"  failed              {counts['failed']}",
        f"  already done        {counts['already_done']}",
        f"  skipped (loop guard, poison) {counts['poison']}",
    ]
    if counts["changed"]:
        lines.append(f"  changed meanwhile   {counts['changed']} (another replay holds them)")
    if counts["kept"]:
        lines.append(f"  kept (set aside by the batcher) {counts['kept']}")
    if counts["would_replay"]:
        lines.append(f"  would replay (dry run) {counts['would_replay']}")
    if summary.interrupted:
        lines.append("  stopped before the end: run the same command again to continue")
    lines.append(f"  {summary.seconds:.1f} s, {rate:.1f} records/s")
    lines.extend(f"failed: {key}: {reason}" for key, reason in summary.failures)
    lines.extend(f"warning: {key}: {reason}" for key, reason in summary.warnings)
    lines.extend(
        f"poison: {key} (inspect with `show`; raise --max-replays only after fixing the cause)"
        for key in summary.poison
    )
    lines.extend(f"kept: {key}: {KEPT_SET_ASIDE}" for key in summary.kept)
    return lines
