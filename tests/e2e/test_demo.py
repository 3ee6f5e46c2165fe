"""`python -m tools.demo`, the main job, as a user runs it: its own process, its own local cloud."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _demo(*arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "tools.demo", *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_chaos_run_is_recovered_by_the_runbook_replay_with_nothing_lost() -> None:
    # seed 41: a 25-hour outage of the stream rule's target sends every enriched batch to its DLQ
    run = _demo("--chaos", "41", "--recover")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    before, _, after = run.stdout.partition("accounting after the recovery")
    assert re.search(r"LOST \(lake\) +0  = accepted 27 - lake 0 - DLQ 27\b", before)
    assert "consumer 'stream' -> bus: 2 object(s) selected" in before
    shares = re.search(
        r"time shares +handlers (\d+)% · moto/botocore (\d+)% · emulators (\d+)% · other (\d+)%", before
    )
    assert shares is not None, before[-2000:]
    assert 98 <= sum(int(share) for share in shares.groups()) <= 102
    assert int(shares[1]) > 0 and int(shares[2]) > 0  # the handlers ran, and called AWS
    assert re.search(r"LOST \(lake\) +0  = accepted 27 - lake 27 - DLQ 0\b", after)
    assert re.search(r"LOST \(partner\) +0  = accepted 27 - partner 27 - DLQ 0\b", after)
    assert "OK: after the replay every accepted event is in the lake and at the partner" in after
