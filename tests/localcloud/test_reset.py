"""``LocalCloud.reset``: a fresh stack's stores, whatever the run before left in them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from localcloud.cloud import LocalCloud
from tests.localcloud.conftest import arn, running

RESOURCES = {
    "Lake": {"Type": "AWS::S3::Bucket", "Properties": {"VersioningConfiguration": {"Status": "Enabled"}}},
    "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "lc-test-ingress"}},
    "Archive": {"Type": "AWS::Events::Archive", "Properties": {"SourceArn": arn("Bus")}},
}
PAGE = 1000  # versions and delete markers in one ListObjectVersions answer


def _put_events(cloud: LocalCloud, count: int) -> None:
    entry = {"Source": "signals.ingest", "DetailType": "t", "Detail": json.dumps({"n": 1})}
    bus = cloud.stack.get("Bus").ref
    cloud.services.client("events").put_events(Entries=[{**entry, "EventBusName": bus}] * count)


def _archived(cloud: LocalCloud) -> int:
    archive = cloud.services.client("events").describe_archive(ArchiveName=cloud.stack.get("Archive").ref)
    count: int = archive["EventCount"]
    return count


def _versions(s3: Any, bucket: str) -> int:
    answer = s3.list_object_versions(Bucket=bucket)
    return len(answer.get("Versions", [])) + len(answer.get("DeleteMarkers", []))


def test_a_warm_reset_deletes_every_version_of_a_bucket_past_one_listing_page(tmp_path: Path) -> None:
    with running(tmp_path, RESOURCES, handlers={}) as cloud:
        # GIVEN a versioned bucket with more versions and delete markers than one listing page holds
        # (the lake after an archive replay of a long run)
        s3, bucket = cloud.services.client("s3"), cloud.stack.get("Lake").ref
        for number in range(PAGE):
            key = f"events/event_type={'track' if number % 2 else 'page'}/{number:04d}.json.gz"
            s3.put_object(Bucket=bucket, Key=key, Body=b"{}")
            if number % 10 == 0:
                s3.delete_object(Bucket=bucket, Key=key)

        # WHEN the cloud is reset warm
        cloud.reset(warm=True)

        # THEN no version of any object is left (none would reappear in the next run's lake)
        assert _versions(s3, bucket) == 0


def test_a_warm_reset_empties_the_archives_and_they_archive_what_comes_next(tmp_path: Path) -> None:
    with running(tmp_path, RESOURCES, handlers={}) as cloud:
        # GIVEN an archive that took a run's events
        _put_events(cloud, 3)
        assert _archived(cloud) == 3

        # WHEN the cloud is reset warm
        cloud.reset(warm=True)

        # THEN it holds nothing of the run before (a replay would bring that back), and still
        # archives the bus's events
        assert _archived(cloud) == 0
        _put_events(cloud, 1)
        assert _archived(cloud) == 1
