"""The bench's tables: numbers right-aligned, text left-aligned, in the console and in Markdown."""

from __future__ import annotations

import pytest

from bench import report

HEADERS = ("alternative", "USD per million", "effect on guarantees")
ROWS = [
    ("N = 1", "7.903", "per-signal rule filtering"),
    ("Firehose", "-2.132", "at-least-once into the lake"),
    ("buffer", "n/a", "answered once buffered"),
]


def test_console_table_right_aligns_numbers_and_left_aligns_text(capsys: pytest.CaptureFixture[str]) -> None:
    # WHEN a table of a text column, a number column and a text column is printed
    report.table(HEADERS, ROWS)

    # THEN the figures end at one column and the guarantees start at one column
    lines = capsys.readouterr().out.splitlines()
    body = lines[2:]
    figure_ends = {line.index(figure) + len(figure) for line, (_, figure, _) in zip(body, ROWS, strict=True)}
    text_starts = {line.index(text) for line, (_, _, text) in zip(body, ROWS, strict=True)}
    assert len(figure_ends) == 1
    assert len(text_starts) == 1
    assert lines[0].index("effect on guarantees") == text_starts.pop()


def test_markdown_table_aligns_as_the_console_does() -> None:
    # WHEN the same rows are written as Markdown
    table = report.markdown_table(HEADERS, ROWS)

    # THEN the number column is right-aligned and the text columns left-aligned
    assert table.splitlines()[1] == "|:---|---:|:---|"


def test_a_column_with_one_word_among_numbers_is_text() -> None:
    rows = [("a", "1.0"), ("b", "none")]

    assert report.markdown_table(("name", "value"), rows).splitlines()[1] == "|:---|:---|"


@pytest.mark.parametrize("argv", [["--help"], ["--bogus"]])
def test_bench_command_line_help_or_a_typo_runs_no_benchmark(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN `python -m bench`, whose benchmarks would start by laying out the Lambda paths
    from bench import __main__ as bench_main

    def started() -> None:
        raise AssertionError("a benchmark started")

    monkeypatch.setattr(bench_main, "_use_lambda_layout", started)

    # WHEN it is given --help, or an option it does not know
    with pytest.raises(SystemExit) as exited:
        bench_main.main(argv)

    # THEN it prints its usage and exits (0 for help, 2 for a typo) before any measurement
    assert exited.value.code == (0 if argv == ["--help"] else 2)
    captured = capsys.readouterr()
    assert "usage: python -m bench" in captured.out + captured.err
