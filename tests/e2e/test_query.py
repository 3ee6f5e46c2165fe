"""`make query` end to end, as a user runs it (its own process, its own local cloud): demo traffic
through the pipeline, then the lake's Athena SQL run with DuckDB over its objects, checked against
the accounting (a small traffic volume)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_make_query_answers_match_the_accounting() -> None:
    # GIVEN a lake filled with 200 demo events WHEN `make query` runs its queries over it
    run = subprocess.run(
        [sys.executable, "-m", "tools.query", "--events", "200", "--per-request", "50"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # THEN it exits 0: each accepted event once in the view, no copy in the table, counts per type match
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    accepted = re.search(r"(\d+) accepted events", run.stdout)
    assert accepted is not None and int(accepted.group(1)) > 150
    assert f"{{'rows': {accepted.group(1)}, 'distinct_events': {accepted.group(1)}}}" in run.stdout
    assert "-- athena/queries/events_per_type.sql" in run.stdout
    assert f"OK: the view holds each of the {accepted.group(1)} accepted events once" in run.stdout
