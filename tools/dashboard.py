"""`make dashboard`: the template's flow dashboard (``FlowDashboard``) drawn from a short local run.

Starts the two-Region local cloud, sends demo traffic (every event type, ~10 % invalid) to the
primary's API for a while of cloud time, with a few faults on the way so the lines move (the ingress
bus throttling the validator, the lake writer failing, the partner down, the secondary Region down
while lake objects wait for replication, the enrichment failing while the DLQ hydrate is paused so
dead letters wait in their queue), lets the pipeline drain, then draws every widget of the
primary's dashboard, as the template resolves it there, from the primary's local CloudWatch: the same
metrics, statistics and periods, one panel per widget, in the dashboard's order.

    python -m tools.dashboard [--minutes 40] [--per-request 10] [--out docs/dashboard.png]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.cloudwatch import CloudWatch

ROOT: Final = Path(__file__).resolve().parents[1]
OUT: Final = ROOT / "docs" / "dashboard.png"
STEP: Final = 10.0  # cloud seconds between pumps: every heartbeat and queue sample on time
COLUMNS: Final = 3
MINUTE: Final = 60.0


@dataclass(frozen=True, slots=True)
class Metric:
    namespace: str
    name: str
    dimensions: dict[str, str]
    stat: str
    right_axis: bool = False

    @property
    def label(self) -> str:
        """The metric name, with the dimension value that tells it from its neighbours."""
        queue = self.dimensions.get("QueueName")
        distinct = _short(queue) if queue else self.dimensions.get("RuleId", "")
        return f"{self.name} {distinct}".strip()


@dataclass(frozen=True, slots=True)
class Widget:
    title: str
    period: float
    metrics: tuple[Metric, ...] = field(default_factory=tuple)


def widgets(body: Mapping[str, Any]) -> list[Widget]:
    """The metric widgets of a dashboard body, in order. A metric row is
    ``[namespace, name, dimension name, value, ..., {options}]``; other forms (the ``...`` shorthand,
    expressions) are refused, so nothing on the dashboard goes unchecked or undrawn."""
    found = []
    for widget in body["widgets"]:
        if widget.get("type") != "metric":
            continue
        properties = widget["properties"]
        default_stat = str(properties.get("stat", "Average"))
        metrics = []
        for row in properties["metrics"]:
            options = row[-1] if row and isinstance(row[-1], dict) else {}
            values = row[:-1] if options else row
            readable = len(values) >= 2 and len(values) % 2 == 0 and values[0] not in ("...", ".")
            if not readable or not all(isinstance(value, str) for value in values):
                raise ValueError(f"metric row not readable here: {row!r}")
            dimensions = dict(zip(values[2::2], values[3::2], strict=True))
            metrics.append(
                Metric(
                    values[0],
                    values[1],
                    dimensions,
                    str(options.get("stat", default_stat)),
                    options.get("yAxis") == "right",
                )
            )
        found.append(Widget(str(properties["title"]), float(properties.get("period", 300)), tuple(metrics)))
    return found


def dashboard_body(cloud: LocalCloud) -> dict[str, Any]:
    """The primary's dashboard body as its stack resolved it (real names of its resources)."""
    (dashboard,) = cloud.primary.stack.of_type("AWS::CloudWatch::Dashboard")
    return dict(json.loads(str(dashboard.properties["DashboardBody"])))


# ---------------------------------------------------------------------------- the run
def run(cloud: LocalCloud, minutes: float, per_request: int, seed: int = 7) -> tuple[float, float]:
    """Demo traffic to the primary's API with faults on the way; (start, end) on the cloud's clock."""
    from localcloud.faults import RegionOutage, SdkFault, TargetFault  # noqa: PLC0415
    from localcloud.traffic import TrafficGenerator  # noqa: PLC0415
    from signal_platform import codec  # noqa: PLC0415
    from signal_platform.schema_registry import SchemaRegistry  # noqa: PLC0415

    primary = cloud.primary
    secondary = next(region for region in cloud.regions.values() if region is not primary)
    keys = {source: cloud.register_source(source) for source in ("web", "mobile")}
    traffic = TrafficGenerator(SchemaRegistry(), seed=seed)
    clock = cloud.clock
    if cloud.joined is not None:  # heartbeats until the endpoint routes to the primary
        endpoint = cloud.joined.endpoint
        _step(cloud, 30 * MINUTE, until=lambda: endpoint.region() == primary.name)
    start = clock.now()
    at = start - cloud.faults.started_at  # fault windows count from the faults' start

    def window(first: float, last: float) -> tuple[float, float]:
        return at + first * minutes * MINUTE, at + last * minutes * MINUTE

    cloud.faults.add(
        SdkFault("events", "put_events", window=window(0.15, 0.25), function="ValidatorFunction"),
        TargetFault("S3WriterFunction", window=window(0.3, 0.4)),
        RegionOutage(secondary.name, window(0.55, 0.85)),
        TargetFault("EnrichmentFunction", window=window(0.6, 0.7)),
    )
    # the DLQ hydrate's mappings disabled meanwhile: the dead letters wait in their queue, then drain
    hydrate_paused = (start + 0.6 * minutes * MINUTE, start + 0.8 * minutes * MINUTE)
    partner_down = (start + 0.45 * minutes * MINUTE, start + 0.55 * minutes * MINUTE)
    if cloud.partner is not None:
        cloud.partner.failing = lambda body: partner_down[0] <= clock.now() < partner_down[1]  # noqa: ARG005
    end = start + minutes * MINUTE
    number = 0
    while clock.now() < end:
        paused = hydrate_paused[0] <= clock.now() < hydrate_paused[1]
        for mapping in primary.sqs_mappings:
            mapping.spec = replace(mapping.spec, enabled=not paused)
        source = ("web", "mobile")[number % 2]
        now = datetime.now(UTC)
        events = [item.event for item in traffic.mix(source, now, per_request)]
        headers = {"content-type": "application/json", "x-api-key": keys[source]}
        primary.api.request("POST", "/v1/events", codec.dumps({"events": events}), headers)
        number += 1
        _step(cloud, 2 * STEP)
    _step(cloud, 10 * MINUTE)  # the tail: retries, batching windows, replication catching up
    primary.cloudwatch.evaluate()
    return start, clock.now()


def _step(cloud: LocalCloud, seconds: float, until: Callable[[], bool] | None = None) -> None:
    """Let ``seconds`` pass in steps (every heartbeat and queue sample on time), or until ``until``."""
    end = cloud.clock.now() + seconds
    while cloud.clock.now() < end:
        cloud.pump()
        if until is not None and until():
            return
        cloud.wait(STEP)
    cloud.pump()


# ---------------------------------------------------------------------------- the drawing
def draw(cloudwatch: CloudWatch, panels: Sequence[Widget], start: float, end: float, path: Path) -> list[str]:
    """Every widget as one panel of a PNG at ``path``; the titles drawn, in order."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    from localcloud.cloudwatch import metric_key  # noqa: PLC0415

    rows = math.ceil(len(panels) / COLUMNS)
    figure, axes = plt.subplots(rows, COLUMNS, figsize=(15, 2.5 * rows), squeeze=False)
    span = (end - start) / MINUTE
    drawn = []
    for panel, axis in zip(panels, axes.flat, strict=False):
        right = None
        for index, metric in enumerate(panel.metrics):
            points = cloudwatch.datapoints(
                metric_key(metric.namespace, metric.name, metric.dimensions),
                metric.stat,
                panel.period,
                start,
                end,
            )
            xs = [(moment - start) / MINUTE for moment, _ in points]
            ys = [math.nan if value is None else value for _, value in points]
            target = axis
            if metric.right_axis:
                right = right or axis.twinx()
                target = right
            target.plot(xs, ys, color=f"C{index}", linewidth=1.2, label=f"{metric.label} ({metric.stat})")
        handles = [line for ax in (axis, right) if ax is not None for line in ax.get_lines()]
        axis.legend(handles=handles, fontsize=6, loc="upper left", frameon=False)
        axis.set_title(panel.title, fontsize=9)
        axis.set_xlim(0, span)
        axis.tick_params(labelsize=7)
        axis.grid(alpha=0.3)
        drawn.append(panel.title)
    for axis in list(axes.flat)[len(panels) :]:
        axis.set_visible(False)
    for axis in axes.flat:
        if axis.get_visible() and not axis.get_xlabel():
            axis.set_xlabel("minutes into the run", fontsize=7)
    figure.suptitle("FlowDashboard of the primary Region, drawn from a local two-Region run", fontsize=11)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=60, metadata={"Software": None})
    plt.close(figure)
    return drawn


def render(path: Path, minutes: float, per_request: int) -> list[str]:
    """A two-Region local cloud, the run, the drawing: the titles drawn."""
    from localcloud.cloud import CloudOptions, LocalCloud  # noqa: PLC0415

    with LocalCloud(CloudOptions(template=ROOT / "template.yaml", regions=("primary", "secondary"))) as cloud:
        start, end = run(cloud, minutes, per_request)
        return draw(cloud.primary.cloudwatch, widgets(dashboard_body(cloud)), start, end, path)


def _short(name: str) -> str:
    """A queue or rule name without the stack's prefix and random suffix (legend space is short)."""
    parts = [part for part in name.replace("_", "-").split("-") if part]
    meaningful = [part for part in parts if not (len(part) >= 10 and part.isalnum() and part.upper() == part)]
    return "-".join(meaningful[-2:]) if meaningful else name


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.dashboard", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--minutes", type=float, default=40.0, help="cloud minutes of traffic (default 40)")
    parser.add_argument("--per-request", type=int, default=10, help="events per request, one every 20 s")
    parser.add_argument("--out", type=Path, default=OUT, help="where to draw the PNG")
    args = parser.parse_args(argv)
    titles = render(args.out, args.minutes, args.per_request)
    size = args.out.stat().st_size
    print(f"{args.out.name}: {len(titles)} panels, {size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
