"""Printing: aligned tables, ratios against baselines, and the final target summary.

Everything printed through ``title``, ``table`` and ``note`` is also kept as Markdown, which
``write_markdown`` saves (``make bench`` writes bench/results/bench.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_MARKDOWN: list[str] = []


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the summary; ``ok`` is informational (timings are never asserted), None: no target."""

    target: str
    measured: str
    ok: bool | None


def us(ns: float) -> str:
    return f"{ns / 1000:,.2f}"


def ms(ns: float) -> str:
    return f"{ns / 1_000_000:,.1f}"


def ratio(measured: float, baseline: float) -> str:
    """``measured / baseline``, with the speed-up or slow-down spelled out."""
    if measured <= 0 or baseline <= 0:
        return "n/a"
    if measured == baseline:
        return "baseline"
    value = measured / baseline
    if value < 1:
        return f"{value:.3f}x ({baseline / measured:,.1f}x faster)"
    return f"{value:.2f}x slower"


def title(text: str) -> None:
    print()
    print(text)
    print("=" * len(text))
    _MARKDOWN.extend(["", f"## {text}", ""])


# A cell that reads as a number: a figure, a ratio, a price, a count ("-" and "n/a" fit any column).
_NUMBER = re.compile(r"[-+~<=>\s]*\$?\d|-$|n/a$")


def _numeric_columns(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[bool]:
    """Per column after the first: whether every cell of it is a number (then it is right-aligned)."""
    return [all(_NUMBER.match(str(row[index])) for row in rows) for index in range(1, len(headers))]


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Text columns left-aligned, columns of numbers right-aligned, one header rule."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    numeric = [False, *_numeric_columns(headers, rows)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            str(cell).rjust(width) if right else str(cell).ljust(width)
            for cell, width, right in zip(cells, widths, numeric, strict=True)
        ]
        return " | ".join(parts).rstrip()

    print(line(headers))
    print("-+-".join("-" * width for width in widths))
    for row in rows:
        print(line(row))
    _MARKDOWN.extend(["", markdown_table(headers, rows), ""])


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub Markdown table, aligned as ``table`` aligns."""
    lines = ["| " + " | ".join(str(cell) for cell in headers) + " |"]
    alignments = (":---", *("---:" if right else ":---" for right in _numeric_columns(headers, rows)))
    lines.append("|" + "|".join(alignments) + "|")
    lines += ["| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def note(text: str) -> None:
    print(f"  note: {text}")
    _MARKDOWN.append(f"- {text}")


def write_markdown(path: Path, heading: str) -> None:
    """What was printed so far, as Markdown under ``heading``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "\n".join(_MARKDOWN).strip()
    path.write_text(re.sub(r"\n{3,}", "\n\n", f"# {heading}\n\n{body}\n"))


def summary(checks: Sequence[Check]) -> None:
    title("Summary (ok? is informational: timings are never asserted)")
    table(("target", "measured", "ok?"), [(c.target, c.measured, _verdict(c.ok)) for c in checks])


def _verdict(ok: bool | None) -> str:
    if ok is None:
        return "-"
    return "yes" if ok else "NO"
