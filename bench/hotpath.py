"""9. The hot path: the validator's CPU as a multiple of what no validator can skip, in one run.

The floor of the work on an event is parsing it (orjson) and validating it (the registry's compiled
``is_valid``). Everything else (time checks, canonical bytes, batching, signing, the answer) is
measured against that floor, in the same run with interleaved repeats, so that load elsewhere on
the machine falls on both sides alike (on a very busy machine the ratios still drift by some 10%,
upward: the floor is mostly native code). Validator CPU is ``Ingestor.ingest`` plus the answer's bytes, as in
section 2; the Lambda handler with Powertools (resolver, logger, metrics) is shown beside it.

The measurements run in a fresh interpreter, as a Lambda container runs the validator: not in the
benchmark's own, whose heap the local-cloud sections before this one have grown to some 400 MB,
which slows the Python code more than the native floor (2.6 x against 2.3 x alone, in one sitting).

The three ratios are printed as one line each and written to bench/results/hotpath.json.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, Final
from unittest import mock

from bench import harness, report, segment
from bench.events import PAGE_VIEW, EventFactory
from bench.harness import Rig
from bench.paths import ROOT, pythonpath
from bench.report import Check
from bench.timing import TOGETHER_REPEATS, measure_together
from signal_platform import codec, signing
from signal_platform.schema_registry import SchemaRegistry
from signal_platform.timeutil import format_rfc3339
from validator import api
from validator.ingest import IngestRequest

RESULTS: Final = ROOT / "bench" / "results" / "hotpath.json"
BATCH: Final = 100
TARGET_BATCH: Final = 2.0  # x (parse + is_valid) per event, at 100 events/request
TARGET_SINGLE: Final = 8.0  # x (parse + is_valid) per request, at 1 event/request
TARGET_SEGMENT: Final = 1.10  # x the native route's CPU per event, same facts


@dataclass(frozen=True, slots=True)
class Ratio:
    name: str
    measured: float
    target: float
    detail: str

    @property
    def line(self) -> str:
        return f"{self.name}: {self.measured:.2f} x {self.detail}  target <= {self.target:g}"


def _floor(rig: Rig, request: IngestRequest) -> Callable[[], object]:
    """Parse the request's body and run ``is_valid`` on each of its events: the floor."""
    data = (request.body or "").encode()
    registry = rig.registry

    def parse_and_validate() -> object:
        return [registry.is_valid(event) for event in codec.loads(data)["events"]]

    return parse_and_validate


def _contract_floor(rig: Rig, request: IngestRequest) -> Callable[[], object]:
    """The floor plus what the bus contract asks of every accepted event, however it is coded: its
    canonical bytes with ``derived_at`` formatted, and the HMAC-SHA256 over every batch of them."""
    data = (request.body or "").encode()
    registry, received_at = rig.registry, request.received_at
    per_entry = harness.settings().max_signals_per_entry

    def parse_validate_encode_sign() -> object:
        bodies = [
            codec.canonical({**event, "derived_at": format_rfc3339(received_at)})
            for event in codec.loads(data)["events"]
            if registry.is_valid(event)
        ]
        return [
            signing.sign(harness.SIGNING_KEY, b",".join(bodies[start : start + per_entry]))
            for start in range(0, len(bodies), per_entry)
        ]

    return parse_validate_encode_sign


def _api_event(request: IngestRequest, path: str) -> dict[str, Any]:
    """The API Gateway HTTP API (payload 2.0) event of ``request``, as Lambda receives it."""
    return {
        "version": "2.0",
        "routeKey": f"POST {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": dict(request.headers),
        "requestContext": {
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10"},
            "requestId": request.request_id,
            "routeKey": f"POST {path}",
            "stage": "$default",
        },
        "body": request.body,
        "isBase64Encoded": False,
    }


@dataclass(frozen=True, slots=True)
class _Context:
    function_name: str = "validator"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-west-2:123456789012:function:validator"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@contextlib.contextmanager
def _lambda_handler(rig: Rig, request: IngestRequest) -> Iterator[Callable[[], object]]:
    """The deployed entry point on ``request``, wired to the rig's ingestor; its EMF lines go to
    /dev/null. Tracing is off, as anywhere outside Lambda (on Lambda, X-Ray adds its own cost)."""
    # Imported here: only this measurement needs Powertools.
    from signal_platform.observability import metrics
    from validator import dependencies, handler

    if metrics.namespace is None:  # the environment of Lambda sets it; without one, flushing raises
        metrics.namespace = "Bench"
    event, context = _api_event(request, api.EVENTS_PATH), _Context()

    def invoke() -> object:
        response = handler.lambda_handler(event, context)
        if response["statusCode"] != 200:
            raise RuntimeError(f"the handler refused the bench request: {response}")
        return response

    with (
        Path(os.devnull).open("w") as sink,
        contextlib.redirect_stdout(sink),
        mock.patch.object(dependencies, "ingestor", lambda: rig.ingestor),
    ):
        yield invoke


def _single(rig: Rig, factory: EventFactory) -> tuple[Ratio, float]:
    """The 1-event ratio, and the Lambda handler's CPU per request as a multiple of the same floor."""
    request = rig.request(factory.events([PAGE_VIEW], 1))
    with _lambda_handler(rig, request) as invoke:
        timings = measure_together(
            {"floor": _floor(rig, request), "validator": lambda: rig.handle(request), "handler": invoke}
        )
    floor, validator, handler = (timings[name].best_ns for name in ("floor", "validator", "handler"))
    ratio = Ratio(
        "validator cpu/request at 1 event/request",
        validator / floor,
        TARGET_SINGLE,
        f"(parse + is_valid) ({report.us(validator)} vs {report.us(floor)} us)",
    )
    return ratio, handler / floor


def _batch(rig: Rig, factory: EventFactory) -> tuple[Ratio, float]:
    """The 100-event ratio, and the contract floor's (``_contract_floor``) as a multiple of the floor."""
    request = rig.request(factory.events([PAGE_VIEW], BATCH))
    timings = measure_together(
        {
            "floor": _floor(rig, request),
            "contract": _contract_floor(rig, request),
            "validator": lambda: rig.handle(request),
        }
    )
    floor, contract, validator = (
        timings[name].per(BATCH).best_ns for name in ("floor", "contract", "validator")
    )
    ratio = Ratio(
        f"validator cpu/event at {BATCH} events/request",
        validator / floor,
        TARGET_BATCH,
        f"(parse + is_valid) ({report.us(validator)} vs {report.us(floor)} us/event)",
    )
    return ratio, contract / floor


def _segment(rig: Rig, factory: EventFactory) -> Ratio:
    """The worse of the two Segment pairs of section 8 (a mapped track call, a page call)."""
    worst: tuple[float, str] = (0.0, "")
    for name, (native_request, segment_request) in segment.track_and_page(rig, factory).items():
        timings = measure_together(
            {
                "native": partial(rig.handle, native_request),
                "segment": partial(segment.handle_segment, rig, segment_request),
            }
        )
        native, compatible = timings["native"].best_ns, timings["segment"].best_ns
        worst = max(worst, (compatible / native, name))
    return Ratio(
        f"/v1/batch cpu/event at {BATCH} calls/request",
        worst[0],
        TARGET_SEGMENT,
        f"POST /v1/events, same facts (worst: {worst[1]})",
    )


def _measure() -> dict[str, Any]:
    """The three ratios, and the handler's and the contract's multiples of the floor, measured here."""
    rig, factory = harness.rig(SchemaRegistry()), EventFactory()
    batch, contract = _batch(rig, factory)
    single, handler = _single(rig, factory)
    compatible = _segment(rig, factory)
    return {
        "ratios": [asdict(ratio) for ratio in (batch, single, compatible)],
        "handler": handler,
        "contract": contract,
    }


def _measure_in_a_fresh_interpreter() -> dict[str, Any]:
    """``_measure`` in a new interpreter (``python -m bench.hotpath``), its last output line."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.hotpath"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": pythonpath()},
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the hot-path measurement failed:\n{completed.stderr}")
    measured: dict[str, Any] = json.loads(completed.stdout.splitlines()[-1])
    return measured


def run() -> list[Check]:
    report.title("9. The hot path: validator CPU against parse + is_valid of the same events (one run)")
    measured = _measure_in_a_fresh_interpreter()
    ratios = tuple(Ratio(**ratio) for ratio in measured["ratios"])
    handler, contract = measured["handler"], measured["contract"]
    for ratio in ratios:
        print(ratio.line)
    report.table(
        ("ratio", "measured", "target"),
        [(ratio.name, f"{ratio.measured:.2f} x", f"<= {ratio.target:g}") for ratio in ratios],
    )
    report.note(
        f"the Lambda handler (Powertools resolver, logger, metrics) at 1 event/request: {handler:.1f} x"
        " (parse + is_valid); tracing off, as outside Lambda"
    )
    report.note(
        f"at {BATCH} events/request, parse + is_valid + canonical bytes + derived_at + HMAC alone:"
        f" {contract:.2f} x (parse + is_valid): the rest of the ratio is the code around them"
    )
    report.note(
        f"CPU time (process_time), best of {TOGETHER_REPEATS} repeats taken in turn with the floor's,"
        " in a fresh interpreter"
    )
    results = {
        "ratios": {
            ratio.name: {"measured": round(ratio.measured, 3), "target": ratio.target} for ratio in ratios
        },
        "lambda_handler_cpu_per_request_at_1_event_x_floor": round(handler, 3),
        "contract_work_per_event_at_100_events_x_floor": round(contract, 3),
    }
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    return [
        Check(ratio.line.split(":")[0], f"{ratio.measured:.2f} x", ratio.measured <= ratio.target)
        for ratio in ratios
    ]


if __name__ == "__main__":
    print(json.dumps(_measure()))
