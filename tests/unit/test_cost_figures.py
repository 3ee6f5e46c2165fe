"""README.md and docs/cost.md quote the figures that follow from the measured calls and the prices."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench import prose
from bench.cost import BEGIN, DOCS, END, figures_block, front_door_lines, headline_lines, load_results
from bench.cost_model import load_prices

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("document", DOCS, ids=lambda path: path.name)
def test_document_figures_match_calls_json_and_prices(document: Path) -> None:
    # GIVEN the committed measurement and price table
    expected = figures_block(load_results(), load_prices(ROOT / "bench" / "prices.toml"))

    # WHEN the document's generated block is read
    found = re.search(re.escape(BEGIN) + ".*?" + re.escape(END), document.read_text(), re.DOTALL)

    # THEN it is exactly what `make cost` would write (run it after `make bench` or a price change)
    assert found is not None, f"{document.name} has no cost figures block"
    assert found.group(0) == expected, f"{document.name} drifted: run `make cost`"


@pytest.fixture(scope="module")
def known() -> dict[str, str]:
    return prose.figures(load_results(), load_prices(ROOT / "bench" / "prices.toml"))


@pytest.mark.parametrize("document", prose.DOCUMENTS, ids=lambda path: path.name)
def test_figures_quoted_in_prose_match_calls_json_and_prices(document: Path, known: dict[str, str]) -> None:
    # GIVEN a document whose prose quotes the model's headline figures, each followed by its marker
    text = document.read_text()

    # THEN it quotes some, every marker follows a figure, and each figure is the model's
    assert prose.MARKED.search(text), f"{document.name} marks no figure"
    assert text.count("<!--figure:") == len(prose.MARKED.findall(text)), "a marker follows no figure"
    assert prose.drifted(text, known) == [], f"{document.name} drifted: run `make cost`"


def test_rewrite_sets_each_marked_figure_and_keeps_its_marker() -> None:
    text = "it costs $9.33<!--figure:usd_1--> a million, +$1.00<!--figure:change--> more, $5 unmarked"

    rewritten = prose.rewrite(text, {"usd_1": "$9.36", "change": "+$1.95"})

    assert (
        rewritten
        == "it costs $9.36<!--figure:usd_1--> a million, +$1.95<!--figure:change--> more, $5 unmarked"
    )
    assert prose.drifted(text, {"usd_1": "$9.36", "change": "+$1.00"}) == ["usd_1: $9.33, expected $9.36"]


def test_a_marker_naming_no_figure_is_an_error_not_left_as_it_was() -> None:
    with pytest.raises(KeyError, match="no figure named 'usd_2'"):
        prose.rewrite("$1.00<!--figure:usd_2-->", {"usd_1": "$9.36"})


def test_prose_figures_are_the_ones_make_cost_prints(known: dict[str, str]) -> None:
    # GIVEN the lines `make cost` ends with
    results, prices = load_results(), load_prices(ROOT / "bench" / "prices.toml")
    printed = headline_lines(results, prices) + front_door_lines(results, prices)

    # THEN the named figures are the same numbers
    assert printed[0].endswith(f": {known['usd_1']}")
    assert printed[2].endswith(f": {known['usd_100']}")
    assert (
        printed[3]
        == f"cost per million signals, two Regions, 1 events/request: {known['buffer_1']} (front-door buffer)"
    )
    assert printed[4].endswith(f": {known['alb_buffer_1']} (load balancer and front-door buffer)")
