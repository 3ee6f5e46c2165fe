"""4. Cold start: import time of the handler in fresh interpreters, against ``import boto3``.

Each variant runs in a new ``python -c`` process, in interleaved rounds (so drifting machine load
hits every variant alike); the interpreter's own start-up (``python -c pass``) is subtracted.
The environment is Lambda's: tracing on (``LAMBDA_TASK_ROOT`` set, so Powertools patches the
X-Ray SDK in at import), credentials in the environment, no bytecode written (the read-only
/var/task). There is no X-Ray daemon here; importing does not need one.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Final

from bench import report
from bench.paths import LAMBDA_PATHS, pythonpath
from bench.report import Check

ROUNDS: Final = 7
TARGET_RATIO: Final = 1.5
_CLIENT = "from signal_platform import aws_clients\naws_clients.client('events')"


@dataclass(frozen=True, slots=True)
class Variant:
    label: str
    code: str
    environment: dict[str, str] = field(default_factory=dict)


INTERPRETER: Final = Variant("python -c pass", "pass")
BOTO3: Final = Variant("import boto3 (baseline)", "import boto3")
HANDLER: Final = Variant("import validator.handler", "import validator.handler")
HANDLER_AND_CLIENT: Final = Variant(
    "import validator.handler + events client", f"import validator.handler\n{_CLIENT}"
)
VARIANTS: Final = (
    INTERPRETER,
    BOTO3,
    HANDLER,
    HANDLER_AND_CLIENT,
    Variant("events client alone (boto3 + client)", _CLIENT),
    Variant(
        "import validator.handler, tracing disabled",
        "import validator.handler",
        {"POWERTOOLS_TRACE_DISABLED": "1"},
    ),
)


def _environment(extra: dict[str, str]) -> dict[str, str]:
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "POWERTOOLS_", "LAMBDA_", "PYTHON"))
    }
    return {
        **inherited,
        "PYTHONPATH": pythonpath(),
        "PYTHONDONTWRITEBYTECODE": "1",
        "LAMBDA_TASK_ROOT": str(LAMBDA_PATHS[1]),
        "AWS_LAMBDA_FUNCTION_NAME": "validator",
        "AWS_REGION": "us-west-2",
        "AWS_DEFAULT_REGION": "us-west-2",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "POWERTOOLS_SERVICE_NAME": "validator",
        "POWERTOOLS_METRICS_NAMESPACE": "CustomerSignals",
        **extra,
    }


def _python(variant: Variant, *flags: str) -> subprocess.CompletedProcess[str]:
    """One fresh interpreter running the variant; a failing import stops the benchmark."""
    completed = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, *flags, "-c", variant.code],
        env=_environment(variant.environment),
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{variant.label} failed:\n{completed.stderr}")
    return completed


def _wall_ns(variant: Variant) -> int:
    start = time.perf_counter_ns()
    _python(variant)
    return time.perf_counter_ns() - start


def _samples() -> dict[str, list[int]]:
    """Wall times per variant over interleaved rounds; round 0 only warms the file cache."""
    samples: dict[str, list[int]] = {variant.label: [] for variant in VARIANTS}
    for round_number in range(ROUNDS + 1):
        for variant in VARIANTS:
            elapsed = _wall_ns(variant)
            if round_number:
                samples[variant.label].append(elapsed)
    return samples


def _self_time_by_package(variant: Variant, count: int = 10) -> list[tuple[str, int]]:
    """Import self-time summed per top-level package (``-X importtime``), in microseconds, largest first."""
    totals: dict[str, int] = {}
    for line in _python(variant, "-X", "importtime").stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if not line.startswith("import time:") or len(fields) != 3 or not fields[0].strip().isdigit():
            continue
        package = fields[2].strip().split(".")[0]
        totals[package] = totals.get(package, 0) + int(fields[0])
    return sorted(totals.items(), key=lambda item: -item[1])[:count]


def _net_times(samples: dict[str, list[int]]) -> dict[str, tuple[float, float]]:
    """(median, best) of each variant less the interpreter's own start-up."""
    start_up = samples[INTERPRETER.label]
    return {
        label: (statistics.median(times) - statistics.median(start_up), min(times) - min(start_up))
        for label, times in samples.items()
        if label != INTERPRETER.label
    }


def _print_breakdown() -> None:
    report.title("4b. Where validator.handler's import time goes (-X importtime self time, one run)")
    packages = _self_time_by_package(HANDLER)
    report.table(("top-level package", "self ms"), [(name, report.ms(us * 1000)) for name, us in packages])


def run() -> list[Check]:
    report.title(f"4. Cold import in fresh interpreters (median and best of {ROUNDS}, start-up subtracted)")
    samples = _samples()
    net = _net_times(samples)
    baseline = net[BOTO3.label][0]
    report.table(
        ("import", "median ms", "best ms", "vs import boto3 (median)"),
        [
            (label, report.ms(median), report.ms(best), report.ratio(median, baseline))
            for label, (median, best) in net.items()
        ],
    )
    start_up = statistics.median(samples[INTERPRETER.label])
    report.note(f"interpreter start-up (subtracted): {report.ms(start_up)} ms median")
    report.note(
        "tracing on as in Lambda (LAMBDA_TASK_ROOT set): Powertools' Tracer patches botocore for X-Ray"
        " at import"
    )
    _print_breakdown()
    handler, with_client = net[HANDLER.label][0], net[HANDLER_AND_CLIENT.label][0]
    return [
        Check(
            f"import validator.handler <= {TARGET_RATIO} x import boto3",
            f"{handler / baseline:.2f}x ({report.ms(handler)} vs {report.ms(baseline)} ms)",
            handler <= TARGET_RATIO * baseline,
        ),
        Check(
            "import validator.handler + events client, vs import boto3",
            f"{with_client / baseline:.2f}x ({report.ms(with_client)} ms)",
            None,
        ),
    ]
