"""The shared tracer, as Lambda imports it: X-Ray traces the functions' AWS calls and patches nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_PATCHED = """
import json
import aws_xray_sdk.core.patcher as patcher
import botocore.client
import signal_platform.observability
print(json.dumps({
    "patched": sorted(patcher._PATCHED_MODULES),
    "botocore_traced": getattr(botocore.client.BaseClient._make_api_call, "__wrapped__", None) is not None,
}))
"""


def test_tracing_in_lambda_patches_botocore_alone() -> None:
    # GIVEN a fresh interpreter with Lambda's environment (tracing on: Powertools patches at import)
    environment = {key: value for key, value in os.environ.items() if not key.startswith("POWERTOOLS_TRACE")}
    environment |= {
        "LAMBDA_TASK_ROOT": str(ROOT),
        "AWS_REGION": "us-west-2",
        "PYTHONPATH": str(ROOT / "layers" / "shared" / "python"),
    }
    # WHEN the shared observability module is imported
    completed = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", _PATCHED], env=environment, capture_output=True, text=True, check=True
    )
    # THEN X-Ray traces the AWS SDK's calls, and patched no other library (sqlite3, requests, ...)
    outcome = json.loads(completed.stdout.splitlines()[-1])
    assert outcome == {"patched": ["botocore"], "botocore_traced": True}
