"""After a Region outage past the 24 h EventBridge retries replication: the Region's archive replayed
for the outage with the archive replay command's code (``tools.replay``), as docs/runbook.md has an
operator do; the archive's forward rule carries the replayed batches to the primary's bus.

Used by `make drill` and the two-Region property test, on a local cloud.
"""

from __future__ import annotations

import io
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final

from tools.replay import Replayer, ReplaySettings
from tools.replay_client import ReplayClient
from tools.replay_core import Window
from tools.replay_journal import Journal

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.region import Region

POLL_SECONDS: Final = 10.0  # cloud seconds between two looks at the replay's state
MARGIN: Final = timedelta(minutes=5)  # the window starts a little before the outage


class RecoveryError(RuntimeError):
    """The archive replay did not complete."""


def replay_archive(
    cloud: LocalCloud, region: Region, since: float, until: float, *, not_before: float = 0.0
) -> int:
    """``region``'s archive replayed from ``since`` (less a margin, never before ``not_before`` nor
    before the archive existed) to ``until`` (cloud-clock times); returns the events the archive
    held."""
    archives = region.stack.of_type("AWS::Events::Archive")
    if not archives:
        raise RecoveryError(f"{region.name} has no archive to replay")
    client = ReplayClient(region.services.client("events"))
    archive = client.archive(str(archives[0].ref))
    output = io.StringIO()
    with tempfile.TemporaryDirectory() as folder:
        journal_path = Path(folder) / "replays.json"
        replayer = Replayer(
            client=client,
            journal=Journal(journal_path),
            out=output,
            err=output,
            now=lambda: datetime.fromtimestamp(cloud.clock.now(), UTC),
            sleep=lambda seconds: cloud.advance(seconds, step=POLL_SECONDS),
        )
        window = Window(
            max(
                datetime.fromtimestamp(since, UTC) - MARGIN,
                datetime.fromtimestamp(not_before, UTC),
                archive.created,
            ),
            datetime.fromtimestamp(until, UTC),
        )
        settings = ReplaySettings(
            archive=archive.arn, window=window, journal_path=journal_path, poll_seconds=POLL_SECONDS
        )
        code = replayer.run(settings)
    if code != 0:
        raise RecoveryError(f"the archive replay failed: {output.getvalue()}")
    return archive.event_count
