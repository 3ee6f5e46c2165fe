"""Every operator tool answers --help with its usage and refuses an unknown option, before it
touches AWS or the template (a typo never runs a command)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

TOOLS_DIR = Path(__file__).resolve().parents[2] / "tools"
# Every module of tools/ that is run as a command (it has a main; the rest are their libraries), but
# dev_paths, which the Makefile runs as a script to set up a virtualenv and takes no arguments.
TOOLS = sorted(
    path.stem
    for path in TOOLS_DIR.glob("*.py")
    if "\ndef main(" in path.read_text() and path.stem != "dev_paths"
)


def _exit_code(tool: str, *argv: str) -> int | str | None:
    """What ``python -m tools.<tool> <argv>`` exits with, where argparse stops it."""
    main = importlib.import_module(f"tools.{tool}").main
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    return exited.value.code


@pytest.mark.parametrize("tool", TOOLS)
def test_help_prints_usage_and_exits_zero(tool: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(tool, "--help") == 0
    assert capsys.readouterr().out.startswith(f"usage: python -m tools.{tool}")


@pytest.mark.parametrize("tool", TOOLS)
def test_unknown_option_refused_with_usage(tool: str, capsys: pytest.CaptureFixture[str]) -> None:
    # (tools with subcommands name the missing command first)
    assert _exit_code(tool, "--no-such-option") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: python -m tools.{tool}")
    assert f"python -m tools.{tool}: error:" in err
