"""The model's headline figures where the docs quote them in prose: ``$9.36<!--figure:usd_1-->``.

Each ``make bench`` moves the figures by a few cents. A figure followed by a marker is rewritten by
``make cost`` (``python -m bench.cost --write-docs``), and tests/unit/test_cost_figures.py fails when
one no longer follows from calls.json and prices.toml. The marker is an HTML comment: rendered
Markdown shows the figure alone (not in code: a marker there would show). Line items quoted to
explain a total (a service's share, a quota's rate) are not marked: they are the committed run's,
kept by hand.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from bench.cost import (
    CALL_LATENCIES,
    HEADLINE,
    ROOT,
    active_active_usd,
    default_usages,
    front_door_usd,
    grouping_usd,
    load_balancer_change,
    template_usage,
    with_latency,
)
from bench.cost_model import PriceTable, per_million_signals

DOCUMENTS: Final = (
    ROOT / "README.md",
    ROOT / "docs" / "cost.md",
    ROOT / "docs" / "adr" / "0007-application-load-balancer-front-door.md",
    ROOT / "docs" / "adr" / "0009-front-door-buffer.md",
    ROOT / "docs" / "adr" / "0010-signal-batches-per-request.md",
)
# A figure as prose writes it (a sign, a dollar sign, digits with thousands commas, decimals), then
# its marker.
MARKED: Final = re.compile(r"(?P<figure>[-+]?\$?\d[\d,]*(?:\.\d+)?)<!--figure:(?P<name>[a-z0-9_]+)-->")


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def figures(results: Mapping[str, Any], prices: PriceTable) -> dict[str, str]:
    """Every figure a marker may name, as prose writes it: USD per million signals at 2 B signals a
    day in two Regions (``bench.cost.HEADLINE``), the template's defaults unless the name says:

    - ``usd_<k>``: k events per request (1, 10, 100);
    - ``buffer_1``, ``alb_buffer_1``: one event per request behind the front-door buffer, and behind
      the load balancer as well; ``alb_buffer_1_<ms>ms`` with each AWS call taking that long
      (``CALL_LATENCIES``), like ``usd_100_<ms>ms``;
    - ``active_active_<k>``: ``ProcessingMode=active-active`` and its change ``active_active_<k>_change``;
    - ``alb_saving_1``: what the load balancer saves against the HTTP API (a positive figure);
    - ``per_type_100``: signal batches per event type; ``n1_100``: one signal per bus entry;
      ``one_type_100``: one source and one type.
    """
    shapes, usages = results["shapes"], default_usages(results)
    base = {k: per_million_signals(usage, prices, HEADLINE) for k, usage in usages.items()}
    found = {f"usd_{k}": _usd(usd) for k, usd in base.items()}
    buffered, balanced = front_door_usd(results, prices)[1]
    found |= {"buffer_1": _usd(buffered), "alb_buffer_1": _usd(balanced)}
    for seconds in CALL_LATENCIES:
        slower = with_latency(results, seconds)
        name = f"{seconds * 1000:g}ms"
        found[f"alb_buffer_1_{name}"] = _usd(front_door_usd(slower, prices)[1][1])
        found[f"usd_100_{name}"] = _usd(per_million_signals(default_usages(slower)[100], prices, HEADLINE))
    for k in (1, 100):
        both = active_active_usd(usages[k], prices)
        found[f"active_active_{k}"] = _usd(both)
        found[f"active_active_{k}_change"] = f"+{_usd(both - base[k])}"
    found["alb_saving_1"] = _usd(-load_balancer_change(usages[1], prices))
    found["one_type_100"] = _usd(per_million_signals(template_usage(shapes["one-100"]), prices, HEADLINE))
    found["n1_100"] = _usd(per_million_signals(template_usage(shapes["realistic-100-n1"]), prices, HEADLINE))
    if (per_type := grouping_usd(results, prices)) is not None:
        found["per_type_100"] = _usd(per_type)
    return found


def rewrite(text: str, known: Mapping[str, str]) -> str:
    """``text`` with every marked figure set to the one its marker names; a name ``known`` lacks
    raises ``KeyError`` (a typo would otherwise leave the figure as it was, silently)."""

    def figure(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in known:
            raise KeyError(f"no figure named {name!r}: one of {', '.join(sorted(known))}")
        return f"{known[name]}<!--figure:{name}-->"

    return MARKED.sub(figure, text)


def drifted(text: str, known: Mapping[str, str]) -> list[str]:
    """The marked figures of ``text`` that differ from ``known``: "name: quoted, expected"."""
    return [
        f"{match['name']}: {match['figure']}, expected {known.get(match['name'], 'no such figure')}"
        for match in MARKED.finditer(text)
        if known.get(match["name"]) != match["figure"]
    ]
