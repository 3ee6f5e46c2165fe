"""8. The Segment-compatible routes against the native one: validator CPU per event, same run.

The same facts sent both ways, 100 events per request: a "Product Added" track call (mapped to
add_to_cart) against a native add_to_cart event, and a page call against a native page_view. Each
side is ``Ingestor.ingest`` / ``ingest_segment`` plus its HTTP answer bytes, as in section 2.
"""

from __future__ import annotations

import base64
import random
import time
import uuid
from collections.abc import Callable
from typing import Any, Final

from bench import harness, report
from bench.events import _PAGE_TITLE, _PAGE_URL, _REFERRER, PAGE_VIEW, EventFactory, EventKind
from bench.harness import SOURCE, WRITE_KEY, Rig
from bench.report import Check
from bench.timing import TOGETHER_REPEATS, measure_together
from signal_platform import codec
from signal_platform.schema_registry import SchemaRegistry
from signal_platform.timeutil import format_rfc3339, utc_now
from validator import api
from validator.body import parse_segment_document
from validator.ingest import IngestRequest

EVENTS: Final = 100
TARGET_RATIO: Final = 1.10
ADD_TO_CART: Final = EventKind(
    "add_to_cart",
    "1-0-0",
    {
        "cart_id": "cart_8f3b2a71c9",
        "product_id": "prod_10442",
        "sku": "TR2-BLU-42",
        "product_name": "Trail Runner 2",
        "category": "Footwear/Running",
        "variant": "Blue / EU 42",
        "quantity": 1,
        "unit_price": 129.95,
        "currency": "EUR",
    },
)
PRODUCT_ADDED: Final = {
    "cart_id": "cart_8f3b2a71c9",
    "product_id": "prod_10442",
    "sku": "TR2-BLU-42",
    "name": "Trail Runner 2",
    "category": "Footwear/Running",
    "variant": "Blue / EU 42",
    "quantity": 1,
    "price": 129.95,
    "currency": "EUR",
}


def _segment_context(native: dict[str, Any]) -> dict[str, Any]:
    """The native event's context as analytics.js writes it."""
    context = native["context"]
    return {
        "ip": context["ip"],
        "userAgent": context["user_agent"],
        "locale": context["locale"],
        "page": {**context["page"], "search": "?utm_source=newsletter"},
        "library": {"name": "analytics.js", "version": "next-1.70.0"},
        "campaign": context["campaign"],
        "sessionId": context["session_id"],
    }


def _calls(natives: list[dict[str, Any]], call: Callable[[dict[str, Any]], dict[str, Any]]) -> list[Any]:
    rng = random.Random(20261206)
    return [
        {
            "messageId": f"ajs-next-{uuid.UUID(int=rng.getrandbits(128), version=4)}",
            "userId": native["context"]["user_id"],
            "anonymousId": native["context"]["anonymous_id"],
            "timestamp": native["occurred_at"],
            "context": _segment_context(native),
            **call(native),
        }
        for native in natives
    ]


def _product_added(_native: dict[str, Any]) -> dict[str, Any]:
    return {"type": "track", "event": "Product Added", "properties": PRODUCT_ADDED}


def _page(_native: dict[str, Any]) -> dict[str, Any]:
    properties = {"url": _PAGE_URL, "title": _PAGE_TITLE, "referrer": _REFERRER, "path": "/products/x"}
    return {"type": "page", "name": "Trail Running Shoe 42", "properties": properties}


def _segment_request(calls: list[Any]) -> IngestRequest:
    moment = utc_now()
    credentials = base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    return IngestRequest(
        body=codec.dumps({"batch": calls, "sentAt": format_rfc3339(moment)}).decode(),
        is_base64=False,
        headers={"content-type": "application/json", "authorization": f"Basic {credentials}"},
        request_id="c6af9ac6-7b61-11e6-9a41-93e812345678",
        received_at=moment,
        deadline=time.monotonic() + 3600,
    )


def handle_segment(rig: Rig, request: IngestRequest) -> bytes:
    """What the handler does on /v1/batch, minus Powertools: ingest, then the answer's bytes."""
    return codec.dumps(api.segment_answer(rig.ingestor.ingest_segment(request, None)).body)


def request_pair(
    rig: Rig, factory: EventFactory, kind: EventKind, call: Callable[[dict[str, Any]], Any]
) -> tuple[IngestRequest, IngestRequest]:
    """The same facts as a native request and as a /v1/batch request; both checked to be accepted."""
    natives = factory.events([kind], EVENTS)
    native_request = rig.request(natives)
    segment_request = _segment_request(_calls(natives, call))
    for answer in (rig.ingestor.ingest(native_request), rig.ingestor.ingest_segment(segment_request, None)):
        if answer.counts.accepted != EVENTS:
            raise RuntimeError(f"expected {EVENTS} accepted events, got {answer.counts.as_dict()}")
    return native_request, segment_request


def track_and_page(rig: Rig, factory: EventFactory) -> dict[str, tuple[IngestRequest, IngestRequest]]:
    """The two pairs this section compares: a mapped track call and a page call."""
    return {
        "Product Added -> add_to_cart": request_pair(rig, factory, ADD_TO_CART, _product_added),
        "page -> page (vs page_view)": request_pair(rig, factory, PAGE_VIEW, _page),
    }


def _pair(
    native_request: IngestRequest, segment_request: IngestRequest, rig: Rig
) -> tuple[float, float, float, int, int]:
    calls = parse_segment_document((segment_request.body or "").encode(), batch=True, max_events=EVENTS).calls
    received_at = format_rfc3339(segment_request.received_at)

    def mapping() -> object:
        return rig.ingestor.segment.map_calls(
            calls, call_type=None, source_id=SOURCE.source_id, received_at=received_at
        )

    timings = measure_together(
        {
            "native": lambda: rig.handle(native_request),
            "segment": lambda: handle_segment(rig, segment_request),
            "mapping": mapping,
        }
    )
    native, segment, mapped = (timings[side].per(EVENTS).best_ns for side in ("native", "segment", "mapping"))
    return native, segment, mapped, len(native_request.body or ""), len(segment_request.body or "")


def run() -> list[Check]:
    report.title(
        f"8. Segment-compatible routes vs POST /v1/events: validator CPU per event ({EVENTS}/request)"
    )
    rig, factory = harness.rig(SchemaRegistry()), EventFactory()
    pairs = {name: _pair(*requests, rig) for name, requests in track_and_page(rig, factory).items()}
    rows = [
        (
            name,
            report.us(native),
            report.us(segment),
            f"{segment / native:.2f}",
            report.us(mapped),
            f"{nb / EVENTS:,.0f} / {sb / EVENTS:,.0f}",
        )
        for name, (native, segment, mapped, nb, sb) in pairs.items()
    ]
    report.table(
        (
            "same facts as",
            "native us/event",
            "/v1/batch us/event",
            "ratio",
            "of which mapping",
            "bytes/event native / segment",
        ),
        rows,
    )
    report.note(
        "each side: ingest (auth, body, judge, batch, sign, fake put_events) + answer bytes;"
        f" CPU time, best of {TOGETHER_REPEATS} repeats taken in turn"
    )
    report.note(
        "the Segment side also maps each call (uuid5 id, type, renames, context split, origin):"
        " 'of which mapping' is SegmentMapper.map_calls alone, in the same run"
    )
    native, segment, _, _, _ = pairs["Product Added -> add_to_cart"]
    return [
        Check(
            f"/v1/batch CPU per event <= {TARGET_RATIO:.2f}x POST /v1/events (mapped track, same run)",
            f"{segment / native:.2f}x ({report.us(segment)} vs {report.us(native)} us)",
            segment <= TARGET_RATIO * native,
        )
    ]
