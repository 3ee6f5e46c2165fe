"""Put the Lambda-style source folders on the virtualenv's path (a .pth file), like an editable install.

The folders are read from pytest's ``pythonpath`` in pyproject.toml, the one list that mirrors
Lambda (each function folder = /var/task, the layer's python folder = /opt/python), so tests,
tools and `make demo` all import the same way. Run by the Makefile after each venv install.
"""

from __future__ import annotations

import site
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    folders = [(ROOT / entry).resolve() for entry in config["tool"]["pytest"]["ini_options"]["pythonpath"]]
    target = Path(site.getsitepackages()[0]) / "customer-signal-platform-dev.pth"
    target.write_text("".join(f"{folder}\n" for folder in folders))
    print(f"{len(folders)} source folders on the path of {sys.prefix}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
