"""Where a run's time goes: the project's handlers, the local cloud's emulators, moto, the AWS SDK.

Two instruments, used together by ``python -m tools.demo --profile``:

- ``cProfile`` (deterministic, per function): the inclusive time of the main phases (function
  invocations, start-up, census, AWS API calls);
- ``StackSampler`` (every few milliseconds, the main thread's stack): each sample is charged to the
  innermost frame that belongs to a known owner (moto, the SDK, the project's code, the handler
  libraries, the emulators, the template translation), standard-library frames being charged to their
  caller, and split by whether it happened inside a function invocation. This answers "how much is
  the project's code, how much the emulator, how much moto", which per-function totals cannot.
"""

from __future__ import annotations

import pstats
import sys
import threading
from collections import Counter
from types import FrameType
from typing import Final

OWNERS: Final = (
    ("moto", ("/moto/", "/werkzeug/", "/xmltodict", "/responses/", "/jinja2/")),
    ("AWS SDK (botocore, boto3, awscrt)", ("/botocore/", "/boto3/", "/awscrt/", "/urllib3/")),
    ("project code (functions/, layers/)", ("/functions/", "/layers/shared/")),
    (
        "handler libraries (Powertools, ua-parser, orjson, jsonschema-rs)",
        ("aws_lambda_powertools", "ua_parser"),
    ),
    ("local cloud emulators (localcloud/)", ("/localcloud/",)),
    ("template load and SAM translation", ("/samtranslator/", "/cfnlint/")),
)
_IN_FUNCTION: Final = "/localcloud/runtime.py"


def _owner(filename: str) -> str | None:
    return next((label for label, needles in OWNERS if any(needle in filename for needle in needles)), None)


class StackSampler:
    """Samples one thread's stack every ``interval`` seconds while running (a daemon thread)."""

    def __init__(self, thread: threading.Thread | None = None, interval: float = 0.005) -> None:
        self._ident = (thread or threading.current_thread()).ident or 0
        self._interval = interval
        self._stop = threading.Event()
        self.samples: Counter[tuple[bool, str]] = Counter()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def __enter__(self) -> StackSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            frame = sys._current_frames().get(self._ident)
            if frame is not None:
                self.samples[self._classify(frame)] += 1

    @staticmethod
    def _classify(frame: FrameType) -> tuple[bool, str]:
        owner: str | None = None
        inside = False
        current: FrameType | None = frame
        while current is not None:
            filename = current.f_code.co_filename
            if owner is None:
                owner = _owner(filename)
            if filename.endswith(_IN_FUNCTION) and current.f_code.co_name == "invoke":
                inside = True
                break
            current = current.f_back
        return inside, owner or "other (start-up imports, stdlib, the demo driver)"

    def table(self) -> str:
        total = sum(self.samples.values()) or 1
        inside = sum(count for (within, _), count in self.samples.items() if within)
        share = 100 * inside / total
        lines = [f"  sampled wall time ({total:,} samples): {share:.1f}% inside function invocations"]
        for (within, owner), count in sorted(self.samples.items(), key=lambda item: -item[1]):
            where = "inside functions " if within else "outside functions"
            lines.append(f"    {where}  {owner:<66} {100 * count / total:5.1f}%")
        return "\n".join(lines)


def _inclusive(stats: pstats.Stats, file_part: str, function: str) -> float:
    return sum(
        cumtime
        for (filename, _line, name), (_cc, _nc, _tt, cumtime, _callers) in stats.stats.items()  # type: ignore[attr-defined]
        if file_part in filename and name == function
    )


def summary(stats: pstats.Stats, sampler: StackSampler, wall: float) -> str:
    phases = (
        ("function invocations (handlers + the AWS calls they make)", "localcloud/runtime.py", "invoke"),
        ("start-up (template, translation, provisioning, imports)", "localcloud/cloud.py", "_start"),
        ("census (lake, DLQs and stream read back)", "localcloud/cloud.py", "census"),
        ("every AWS API call (SDK + moto), whoever made it", "botocore/client.py", "_api_call"),
    )
    lines = [f"profile of {wall:.1f} s (profiling slows the run; compare shares, not seconds)", "  cProfile:"]
    for label, file_part, function in phases:
        seconds = _inclusive(stats, file_part, function)
        lines.append(f"    {label:<60} {seconds:7.1f} s  {100 * seconds / wall:5.1f}%")
    lines.append(sampler.table())
    return "\n".join(lines)
