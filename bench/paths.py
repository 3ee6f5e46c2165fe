"""Where the Lambda code lives: the repo root, the function folder (/var/task) and the layer (/opt/python).

Standard library only: ``bench.__main__`` needs these before anything of the platform is importable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]
LAMBDA_PATHS: Final = (
    ROOT,
    ROOT / "functions" / "validator",
    ROOT / "functions" / "s3_writer",
    ROOT / "layers" / "shared" / "python",
)


def pythonpath() -> str:
    """``PYTHONPATH`` for a fresh interpreter that imports the validator as Lambda lays it out."""
    return os.pathsep.join(str(path) for path in LAMBDA_PATHS)
