"""``python -m bench``: every benchmark in turn, then the summary of targets."""

from __future__ import annotations

import sys

from bench.paths import LAMBDA_PATHS


def _use_lambda_layout() -> None:
    """Make the function folder and the layer importable, as /var/task and /opt/python are on Lambda
    (they are not a pip package). Bytecode is not written: the benchmark leaves the tree untouched."""
    sys.dont_write_bytecode = True
    missing = [str(path) for path in LAMBDA_PATHS if str(path) not in sys.path]
    sys.path[:0] = missing


def main() -> None:
    _use_lambda_layout()
    from bench import batching, cold_import, lake_writes, pipeline, report, validation

    checks = [*validation.run(), *pipeline.run(), *batching.run(), *cold_import.run(), *lake_writes.run()]
    report.summary(checks)


if __name__ == "__main__":
    main()
