"""What the failover engine's modules share: step outcomes, catalog keys, retryable errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from awsdr.aws.context import error_code
from awsdr.kinds.base import MISSING
from awsdr.windows import format_window

if TYPE_CHECKING:
    from awsdr.policy import Policy

# Step outcomes.
DONE = "done"
ALREADY = "already"
SKIPPED = "skipped"
STEP_FAILED = "failed"
UNKNOWN = "unknown"
#: Not done yet: AWS is working; the phase defers and looks again on its next round.
WAITING = "waiting"

#: AWS error codes a retry can fix; every other error of a step is definitive.
RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "PriorRequestNotComplete",
        "RequestTimeout",
    }
)
#: DB instance states a promotion or restore never comes back from.
DEAD_DB_STATES = frozenset(
    {"failed", "incompatible-restore", "incompatible-parameters", "storage-full", "deleting", MISSING}
)


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _iso(value: datetime | None) -> str | None:
    return format_window(value) if value is not None else None


def is_retryable(err: BaseException) -> bool:
    if isinstance(err, TimeoutError | BotoCoreError):
        return True
    return isinstance(err, ClientError) and error_code(err) in RETRYABLE_CODES


def primary_kms_key(policy: Policy, dr_region: str) -> str | None:
    """The key failback copies are encrypted with in the primary: the policy's, else the DR alias."""
    fo = policy.failover
    if fo is not None and fo.primary_kms_key:
        return fo.primary_kms_key
    key = policy.kms_keys.get(dr_region, "")
    return key if key.startswith("alias/") else None
