"""Segment's real browser library in a real page: headless Chromium loads analytics-next's standalone
bundle (npm, pinned in tests/browser/package.json) from a page of a registered origin, pointed at the
local API. It sends mixed calls (track, page, identify, group, alias) as it always does: each call a
``fetch`` with the write key as Basic auth, so Chromium sends a CORS preflight first; and with its
batching delivery, ``/v1/b``. Every call the page made is in the lake exactly once, mapped.

Runs with `make browser` (which runs ``npm ci`` in tests/browser and installs Debian's
chromium-headless-shell when missing); it needs nothing from Segment's servers (the page gives the
library its settings).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from localcloud.cloud import LocalCloud
from localcloud.faults import SdkFault
from localcloud.http_api import ApiServer
from tests.e2e.chromium.browser import Site, dump_dom
from tests.e2e.test_browser_requests import _lake_rows
from validator.segment import event_id_of

BUNDLE: Final = Path(__file__).resolve().parents[2] / "browser/node_modules/@segment/analytics-next/dist/umd"
SOURCE: Final = "web-shop"
# The page: analytics-next with its settings given (no CDN), then mixed calls; it writes every
# call's messageId and whether the library delivered it into the DOM for the test to read.
PAGE: Final = """<!doctype html><html><head><title>shop</title>
<script src="/sdk/index.js"></script></head><body><pre id="out">pending</pre>
<script>
const out = document.getElementById("out");
window.onerror = (message) => {{ out.textContent = "error " + message; }};
const settings = {{"Segment.io": {{apiKey: "{key}", apiHost: "{host}/v1", protocol: "http"{delivery}}}}};
const analytics = AnalyticsNext.AnalyticsBrowser.load(
  {{writeKey: "{key}", cdnSettings: {{integrations: settings}}}},
  {{integrations: settings}});
analytics.then(async ([client]) => {{
  const calls = await Promise.all([
    client.track("Product Added", {{cart_id: "cart-{run}", product_id: "p-42", sku: "TR2-BLU-42",
      name: "Trail Running Shoe", quantity: 1, price: 129.95, currency: "USD"}}),
    client.page("Shop", "Product", {{path: "/products/42"}}),
    client.identify("user-{run}", {{plan: "pro", email: "u@example.com"}}),
    client.track("Video Played", {{video_id: "v-1"}}),
    client.group("org-{run}", {{name: "Example"}}),
    client.alias("user-{run}-new"),
  ]);
  out.textContent = JSON.stringify(calls.map(ctx => ({{
    type: ctx.event.type, messageId: ctx.event.messageId, failed: Boolean(ctx.failedDelivery())}})));
}}).catch(error => {{ out.textContent = "error " + error; }});
</script></body></html>"""
BATCHING: Final = ', deliveryStrategy: {strategy: "batching", config: {size: 3, timeout: 200}}'


@pytest.fixture
def site() -> Iterator[Site]:
    if not (BUNDLE / "index.js").is_file():
        pytest.fail("analytics-next is not installed: run `make browser` (npm ci in tests/browser)")
    served = Site(BUNDLE)
    yield served
    served.close()


@pytest.fixture
def seen(cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every (method, path) the local API is sent; ("RESEND", path) for a request marked as a resend."""
    requests: list[tuple[str, str]] = []
    answer = cloud.api.request

    def recording(method: str, target: str, body: Any = None, headers: Any = None) -> Any:
        lowered = {key.lower() for key in headers or {}}
        requests.append((method, target.split("?", maxsplit=1)[0]))
        if "x-retry-count" in lowered:
            requests.append(("RESEND", target))
        return answer(method, target, body, headers)

    monkeypatch.setattr(cloud.api, "request", recording)
    return requests


@pytest.fixture
def api_host(cloud: LocalCloud, seen: list[tuple[str, str]]) -> Iterator[str]:
    server = ApiServer(cloud.api).start()
    yield server.url.removeprefix("http://")
    server.stop()


def _calls_made(url: str) -> list[dict[str, Any]]:
    """What the page reports after its scripts ran (virtual time lets the deliveries finish)."""
    dom = dump_dom(url, virtual_time_ms=15_000)
    found = re.search(r'<pre id="out">(.*?)</pre>', dom, re.DOTALL)
    assert found is not None and found.group(1).startswith("["), dom[-2000:]
    calls: list[dict[str, Any]] = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    return calls


@pytest.mark.parametrize("delivery", ["per-call", "batching"])
def test_segment_browser_library_calls_reach_the_lake_exactly_once(
    cloud: LocalCloud, api_host: str, site: Site, delivery: str, seen: list[tuple[str, str]]
) -> None:
    # GIVEN a source that registered the shop's origin, and the shop's page with Segment's library
    key = cloud.register_source(SOURCE, origins=frozenset({site.origin}))
    site.html = PAGE.format(
        key=key, host=api_host, run=delivery, delivery=BATCHING if delivery == "batching" else ""
    )
    # WHEN Chromium opens the page and the library sends its calls (preflight, then fetch)
    calls = _calls_made(site.origin + "/")
    # THEN the library delivered every call, after a preflight (it sends the key as Basic auth), to
    # its short paths one call at a time or to /v1/b in batches
    assert ("OPTIONS", "/v1/b" if delivery == "batching" else "/v1/t") in seen, seen
    posted = {path for method, path in seen if method == "POST"}
    assert posted == ({"/v1/b"} if delivery == "batching" else {"/v1/t", "/v1/p", "/v1/i", "/v1/g", "/v1/a"})
    assert [call["type"] for call in calls] == ["track", "page", "identify", "track", "group", "alias"]
    assert not [call for call in calls if call["failed"]], calls
    # AND each is in the lake exactly once, as its registry type, with what the server saw
    assert cloud.settle(timeout=120.0)
    rows = _lake_rows(cloud)
    ids = [row["event_id"] for row in rows]
    expected = {event_id_of(SOURCE, call["messageId"]): call for call in calls}
    assert sorted(ids) == sorted(expected), [row["event_type"] for row in rows]
    by_id = {row["event_id"]: row for row in rows}
    assert sorted(row["event_type"] for row in rows) == sorted(
        ["add_to_cart", "page", "identify", "track", "group", "alias"]
    )
    for event_id, call in expected.items():
        row = by_id[event_id]
        assert row["data"]["origin"]["message_id"] == call["messageId"]
        assert "Chrome" in row["device"]["browser_family"]


def test_segment_browser_library_resends_a_throttled_call_and_it_lands_once(
    cloud: LocalCloud, api_host: str, site: Site, seen: list[tuple[str, str]]
) -> None:
    # GIVEN a bus that throttles the validator's first puts (the API answers 429 + Retry-After)
    cloud.faults.add(SdkFault("events", "put_events", times=16, function="ValidatorFunction"))
    key = cloud.register_source(SOURCE, origins=frozenset({site.origin}))
    site.html = PAGE.format(key=key, host=api_host, run="resend", delivery="")
    # WHEN Chromium opens the page
    calls = _calls_made(site.origin + "/")
    # THEN the library resent the throttled calls, numbering them in X-Retry-Count: the CORS rules
    # allow that header, else the browser blocks every resend (and the library still reports none failed)
    assert any(method == "RESEND" for method, _ in seen), (seen, calls)
    assert not [call for call in calls if call["failed"]], calls
    # AND every call is in the lake exactly once
    assert cloud.settle(timeout=120.0)
    ids = [row["event_id"] for row in _lake_rows(cloud)]
    assert sorted(ids) == sorted(event_id_of(SOURCE, call["messageId"]) for call in calls)
