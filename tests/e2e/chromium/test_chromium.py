"""A real headless Chromium against the local API: a page of a registered origin sends a ``fetch``
with the write key header (so Chromium sends a CORS preflight first) and a ``navigator.sendBeacon``
(text/plain, the key in the body), both land in the lake once; a page of another origin is refused.

Runs with `make browser`, which installs Debian's chromium-headless-shell when it is missing (it
is not part of `make test`: that needs nothing beyond Python and PyPI).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localcloud.cloud import LocalCloud
from localcloud.http_api import ApiServer
from tests.e2e.chromium.browser import Site, dump_dom
from tests.e2e.test_browser_requests import _lake_rows
from validator.segment import event_id_of

SOURCE = "web-shop"
PAGE = """<!doctype html><html><head><title>shop</title></head><body><pre id="out">pending</pre>
<script>
const api = "{api}", key = "{key}", now = new Date().toISOString();
const call = (id, extra) => ({{type: "track", event: "Video Played", messageId: id,
  anonymousId: "anon-1", timestamp: now, sentAt: now, properties: {{v: 1}}, ...extra}});
const out = [];
fetch(api + "/v1/batch", {{method: "POST",
  headers: {{"Content-Type": "application/json", "Authorization": "Basic " + btoa(key + ":")}},
  body: JSON.stringify({{batch: [call("{prefix}-fetch")]}})}})
  .then(r => out.push("fetch " + r.status), e => out.push("fetch error " + e))
  .finally(() => {{
    out.push("beacon " + navigator.sendBeacon(api + "/v1/t",
      JSON.stringify(call("{prefix}-beacon", {{writeKey: key}}))));
    document.getElementById("out").textContent = out.join("\\n");
  }});
</script></body></html>"""


@pytest.fixture
def page() -> Iterator[Site]:
    served = Site()
    yield served
    served.close()


@pytest.fixture
def api_url(cloud: LocalCloud) -> Iterator[str]:
    server = ApiServer(cloud.api).start()
    yield server.url
    server.stop()


def test_a_page_of_a_registered_origin_sends_fetch_and_beacon_into_the_lake(
    cloud: LocalCloud, api_url: str, page: Site
) -> None:
    # GIVEN a source that registered the page's origin, and the page
    key = cloud.register_source(SOURCE, origins=frozenset({page.origin}))
    page.html = PAGE.format(api=api_url, key=key, prefix="ok")
    # WHEN Chromium opens it
    dom = dump_dom(page.origin + "/", virtual_time_ms=10_000)
    # THEN the fetch passed its preflight and was accepted, and the beacon was queued
    assert "fetch 200" in dom, dom
    assert "beacon true" in dom, dom
    # AND both calls are in the lake once, with Chromium's user agent parsed
    assert cloud.settle(timeout=120.0)
    rows = {row["event_id"]: row for row in _lake_rows(cloud)}
    assert set(rows) == {event_id_of(SOURCE, "ok-fetch"), event_id_of(SOURCE, "ok-beacon")}
    assert all("Chrome" in row["device"]["browser_family"] for row in rows.values()), rows


def test_a_page_of_another_origin_is_refused(cloud: LocalCloud, api_url: str, page: Site) -> None:
    # GIVEN a source that registered another origin
    key = cloud.register_source(SOURCE, origins=frozenset({"https://shop.example.com"}))
    page.html = PAGE.format(api=api_url, key=key, prefix="no")
    # WHEN Chromium opens the page
    dom = dump_dom(page.origin + "/", virtual_time_ms=10_000)
    # THEN the fetch gets 403 and nothing reaches the lake
    assert "fetch 403" in dom, dom
    assert cloud.settle(timeout=60.0)
    assert _lake_rows(cloud) == []
