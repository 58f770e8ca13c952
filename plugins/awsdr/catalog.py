"""The catalog bucket (first DR region): window manifests, results and audit records.

Key layout (stable; the README documents it):

- ``manifests/<plan>/<window stamp>.json``        what a backup window protected and what failed
- ``points/s3/<plan>/<bucket>/<window stamp>.json`` S3 object-version manifests (the S3 recovery points)
- ``audit/<yyyy>/<mm>/<dd>/<run id>/<seq>.json``   deletions and failover steps, one record per event
- ``results/...``, ``posture/...``                 verification results and posture documents
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from awsdr.aws.context import error_code
from awsdr.windows import window_stamp

if TYPE_CHECKING:
    from datetime import datetime

    from awsdr.aws.context import AwsContext

log = logging.getLogger(__name__)


def manifest_key(plan: str, window: datetime) -> str:
    return f"manifests/{plan}/{window_stamp(window)}.json"


class Catalog:
    """JSON documents in the catalog bucket.

    :param ctx: AWS clients.
    :param bucket: the policy's ``catalog_bucket``.
    :param region: the first DR region (where the bucket lives).
    """

    def __init__(self, ctx: AwsContext, bucket: str, region: str) -> None:
        self.ctx = ctx
        self.bucket = bucket
        self.region = region

    @property
    def s3(self) -> Any:
        return self.ctx.client("s3", self.region)

    def ensure(self) -> None:
        """Create the bucket if it is missing: versioned, encrypted, no public access."""
        try:
            self.s3.head_bucket(Bucket=self.bucket)
            return
        except ClientError as err:
            if error_code(err) not in ("404", "NoSuchBucket", "NotFound"):
                raise
        log.info("Creating catalog bucket %s in %s", self.bucket, self.region)
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self.s3.create_bucket(**kwargs)
        except ClientError as err:
            if error_code(err) not in ("BucketAlreadyOwnedByYou",):
                raise
        self.s3.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})
        self.s3.put_public_access_block(
            Bucket=self.bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )

    def put_json(self, key: str, doc: Any) -> None:
        body = json.dumps(doc, indent=1, sort_keys=True, default=str).encode()
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json")

    def get_json(self, key: str) -> Any | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as err:
            if error_code(err) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
        return json.loads(body)

    def list_keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return keys
