"""KMS pre-flight: is the DR key there, enabled and usable for the copies we are about to make?"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from awsdr.aws.context import error_code

if TYPE_CHECKING:
    from awsdr.aws.context import AwsContext


def check_key(ctx: AwsContext, region: str, key_id: str) -> list[str]:
    """Problems with ``key_id`` in ``region`` (empty: usable for encrypting copies).

    Checks that the key (alias, id or ARN) resolves, is enabled, is a symmetric encryption key
    and is customer managed: copies encrypted with an AWS-managed key could never be shared with
    the vault account or another account later.
    """
    kms = ctx.client("kms", region)
    try:
        meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    except ClientError as err:
        code = error_code(err)
        if code == "NotFoundException":
            return [
                f"KMS key {key_id} does not exist in {region}: create it or fix kms_keys.{region} in the policy"
            ]
        if code in ("AccessDeniedException", "AccessDenied"):
            return [f"KMS key {key_id} in {region}: access denied to kms:DescribeKey for this role"]
        return [f"KMS key {key_id} in {region}: {code}: {err}"]
    problems = []
    if meta.get("KeyState") != "Enabled":
        problems.append(f"KMS key {key_id} in {region} is {meta.get('KeyState')}, not Enabled")
    if meta.get("KeyUsage", "ENCRYPT_DECRYPT") != "ENCRYPT_DECRYPT":
        problems.append(f"KMS key {key_id} in {region} is for {meta.get('KeyUsage')}, not ENCRYPT_DECRYPT")
    if meta.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
        problems.append(
            f"KMS key {key_id} in {region} is {meta.get('KeySpec')}: EBS/RDS copies need a symmetric key"
        )
    if meta.get("KeyManager") == "AWS":
        problems.append(
            f"KMS key {key_id} in {region} is AWS managed: copies encrypted with it cannot be shared across "
            "accounts; use a customer managed key"
        )
    return problems


def key_arn(ctx: AwsContext, region: str, key_id: str) -> str:
    """The full ARN of a key given as alias, id or ARN."""
    return str(ctx.client("kms", region).describe_key(KeyId=key_id)["KeyMetadata"]["Arn"])
