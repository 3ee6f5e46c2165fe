"""``python -m bench``: every benchmark in turn, then the summary of targets.

Also written: bench/results/bench.md (every table, as Markdown) and bench/results/calls.json (the
AWS calls per 1,000 signals that ``make cost`` and ``make quota`` price and plan with)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bench.paths import LAMBDA_PATHS, ROOT


def _use_lambda_layout() -> None:
    """Make the function folder and the layer importable, as /var/task and /opt/python are on Lambda
    (they are not a pip package). Bytecode is not written: the benchmark leaves the tree untouched."""
    sys.dont_write_bytecode = True
    missing = [str(path) for path in LAMBDA_PATHS if str(path) not in sys.path]
    sys.path[:0] = missing


def parse_arguments(prog: str, doc: str | None, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """A benchmark's command line: no options, but ``--help`` (which prints ``doc``'s first line and
    runs nothing) and an error for anything else, before minutes of measurement start."""
    parser = argparse.ArgumentParser(prog=prog, description=(doc or "").strip().splitlines()[0])
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    parse_arguments("python -m bench", __doc__, argv)
    _use_lambda_layout()
    from bench import (
        batching,
        calls,
        cold_import,
        hotpath,
        lake_writes,
        pipeline,
        report,
        segment,
        validation,
    )

    checks = [
        *validation.run(),
        *pipeline.run(),
        *batching.run(),
        *cold_import.run(),
        *calls.run(),
        *lake_writes.run(),
        *segment.run(),
        *hotpath.run(),
    ]
    report.summary(checks)
    report.write_markdown(ROOT / "bench" / "results" / "bench.md", "Benchmarks (`make bench`)")


if __name__ == "__main__":
    main()
