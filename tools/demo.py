"""`make demo`: the whole pipeline from template.yaml on this machine, and the proof that nothing is lost.

Starts the local cloud (moto in-process + the project's emulators, provisioned from template.yaml and
the samconfig.toml config-env), sends a realistic mix of events (several registered sources, every
event type, ~10% invalid, some requests resent) through the validator as HTTP API requests, waits
until the pipeline is quiet, then balances the books: every accepted event must be in the lake (or
in a DLQ), every rejected one must carry its reason. Exits 1 when anything is lost or unexplained.

    python -m tools.demo [--events 10000] [--per-request 100] [--fault target:S3WriterFunction,times=3]
                         [--chaos SEED] [--recover] [--profile] [--config-env default]

``--recover`` then does what the runbook says once the faults are fixed (``localcloud.recovery``):
moves the last-resort DLQ back, replays the DLQ store with ``tools.dlq``, and balances the books
again, now without DLQs: every accepted event must be in the lake and at the partner.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from localcloud.accounting import Ledger
    from localcloud.cloud import LocalCloud

ROOT = Path(__file__).resolve().parents[1]


def _isolate_from_real_aws() -> None:
    """The demo must never reach an account: fake credentials before boto3 is imported."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "localcloud",
            "AWS_SECRET_ACCESS_KEY": "localcloud",
            "AWS_SESSION_TOKEN": "localcloud",
            "SAM_CLI_TELEMETRY": "0",
        }
    )
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.demo", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="events to send (default 10,000)")
    parser.add_argument("--per-request", type=int, default=100, help="events per HTTP request (default 100)")
    parser.add_argument(
        "--invalid-share", type=float, default=0.1, help="share of invalid events (default 0.1)"
    )
    parser.add_argument("--resend-share", type=float, default=0.05, help="share of requests sent twice")
    parser.add_argument("--seed", type=int, default=7, help="seed of the traffic and of the cloud's jitter")
    parser.add_argument(
        "--fault", action="append", default=[], help="a fault, e.g. target:S3WriterFunction,times=3"
    )
    parser.add_argument(
        "--chaos",
        type=int,
        help="run the property test's schedule of this seed instead: its faults and its 20-50 events",
    )
    parser.add_argument(
        "--recover",
        action="store_true",
        help="afterwards clear the faults, replay the DLQ store as the runbook says, and check again",
    )
    parser.add_argument(
        "--config-env", default="default", help="samconfig.toml config-env (default: default)"
    )
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    parser.add_argument(
        "--shards", type=int, default=4, help="shards of on-demand streams locally (default 4)"
    )
    parser.add_argument(
        "--timeout", type=float, default=90.0, help="real seconds to wait for the pipeline to settle"
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the run and print where the time went"
    )
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    from localcloud import chaos, faults, scenario  # noqa: PLC0415 - after the AWS isolation
    from localcloud.cloud import CloudOptions, LocalCloud  # noqa: PLC0415
    from localcloud.progress import Progress  # noqa: PLC0415

    started = time.perf_counter()
    options = CloudOptions(
        template=args.template,
        config_env=args.config_env,
        seed=args.seed,
        shards=args.shards,
        faults=[faults.parse(spec) for spec in args.fault],
    )
    plan = scenario.Scenario(
        events=args.events,
        per_request=args.per_request,
        invalid_share=args.invalid_share,
        resend_share=args.resend_share,
        seed=args.seed,
        settle_timeout=args.timeout,
    )
    print("starting the local cloud from", args.template.name, "...", flush=True)
    with LocalCloud(options) as cloud:
        for line in cloud.summary():
            print("  " + line)
        print(f"  ready in {time.perf_counter() - started:.1f} s", flush=True)
        requests = None
        if args.chaos is not None:
            schedule = chaos.random_schedule(args.chaos, cloud, base=plan)
            cloud.faults.add(*schedule.faults)
            plan, requests = schedule.scenario, schedule.requests
            print("  chaos:", schedule.describe())
        for fault in cloud.faults.active:
            print("  fault:", fault)
        progress = Progress(plan.events, "sending")
        outcome = scenario.run(cloud, plan, requests=requests, on_request=progress.update)
        progress.close()
        skipped = getattr(cloud.clock, "skipped", 0.0)
        state = "quiet" if outcome.settled else "NOT quiet"
        print(
            f"pipeline {state} {outcome.settle_seconds:.1f} s after the last request "
            f"(the cloud clock skipped {skipped:,.0f} s of waiting: retries, batching windows)"
        )
        if cloud.faults.fired:
            print(
                "faults fired:", ", ".join(f"{name} x{count}" for name, count in cloud.faults.fired.items())
            )
        report = outcome.report
        print("\naccounting")
        print(report.render())
        print(f"\ntotal {time.perf_counter() - started:.1f} s")
        if not outcome.settled or not report.ok:
            lake, census = report.lake, report.census
            first_lost = f"; first lost: {list(lake.lost[:5])}" if lake and lake.lost else ""
            print(
                f"FAILED: lost {report.lost}, unexpected {report.unexpected}, dropped {len(census.dropped)}, "
                f"unreadable DLQ messages {sum(census.dlq_unreadable.values())}, settled {outcome.settled}"
                f"{first_lost}",
                file=sys.stderr,
            )
            return 1
        print("OK: every accepted event is in the lake or a DLQ, every rejected one has its reason; lost = 0")
        return _recover(cloud, report.ledger) if args.recover else 0


def _recover(cloud: LocalCloud, ledger: Ledger) -> int:
    from localcloud.recovery import recover, undelivered  # noqa: PLC0415

    print(
        "\nrecovery: faults cleared, DLQs moved back, the DLQ store replayed with tools.dlq ...", flush=True
    )
    recovery = recover(cloud)
    print(recovery.output.rstrip())
    print(recovery.describe())
    report = cloud.report(ledger)
    print("\naccounting after the recovery")
    print(report.render())
    problems = undelivered(report) + ([] if recovery.ok else [recovery.describe()])
    if problems:
        print("FAILED after the recovery: " + "; ".join(problems), file=sys.stderr)
        return 1
    print("OK: after the replay every accepted event is in the lake and at the partner; no DLQ holds any")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    _isolate_from_real_aws()
    if not args.profile:
        return run(args)
    from localcloud.profiling import StackSampler, summary  # noqa: PLC0415

    profiler = cProfile.Profile()
    started = time.perf_counter()
    with StackSampler() as sampler:
        status = profiler.runcall(run, args)
    wall = time.perf_counter() - started
    print()
    print(summary(pstats.Stats(profiler), sampler, wall))
    return int(status)


if __name__ == "__main__":
    raise SystemExit(main())
