"""S3 buckets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.provision.stack import Resource

if TYPE_CHECKING:
    from localcloud.provision.engine import Provisioner


def bucket(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    s3 = p.client("s3")
    name = props.get("BucketName") or p.names.name(logical_id, max_length=63, lowercase=True)
    request: dict[str, Any] = {"Bucket": name}
    if p.region != "us-east-1":
        request["CreateBucketConfiguration"] = {"LocationConstraint": p.region}
    s3.create_bucket(**request)
    if (props.get("VersioningConfiguration") or {}).get("Status") == "Enabled":
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    attributes = {
        "Arn": f"arn:aws:s3:::{name}",
        "DomainName": f"{name}.s3.amazonaws.com",
        "RegionalDomainName": f"{name}.s3.{p.region}.amazonaws.com",
    }
    return Resource(logical_id, "AWS::S3::Bucket", props, name, attributes)
