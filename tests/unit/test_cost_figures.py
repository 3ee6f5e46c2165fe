"""README.md and docs/cost.md quote the figures that follow from the measured calls and the prices."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.cost import BEGIN, DOCS, END, figures_block, load_results
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
