"""Creates that are never resent blindly: on a doubtful answer, look for the point first.

AWS can do the work and still answer with an error: a 5xx after the create went through, a
connection reset or a read timeout on the way back. botocore's own retries would then send the
create again, and a create without an idempotency token (EBS ``CreateSnapshot`` and
``CopySnapshot``, DynamoDB ``CreateBackup``; also ``CreateImage`` on an endpoint that does not
enforce unique names) makes a second recovery point for the same window.

So every create of a recovery point goes through :func:`create_or_find`:

1. the create is sent on a client with botocore retries off (:meth:`AwsContext.create_client`),
2. a transient failure (throttling, 5xx, connection error, timeout) is never resent at once: after
   a back-off, ``find`` looks the point up by its deterministic tags or name, and only when it is
   not there is the create sent again,
3. any other error (bad input, resource gone, access denied) is raised at once.

Where the API takes an idempotency token (``CopyImage``, ``ExportTableToPointInTime``,
``ImportTable``, ``CreateVolume``, ``RunInstances``), the caller passes a deterministic one as well:
the look-up covers endpoints that ignore tokens (moto), the token covers a look-up that AWS's
eventual consistency answers too early.

No Airflow imports; the clock and the sleep are injectable for tests.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError

from awsdr.aws.context import error_code

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)

T = TypeVar("T")

#: error codes of a request AWS refused for rate (botocore's own list of throttling codes)
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
#: error codes of a request whose outcome is unknown (it may have been done)
TRANSIENT_CODES = frozenset(
    {
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "Unavailable",
    }
)


def is_transient(err: BaseException) -> bool:
    """True for an error a later attempt may not meet: throttling, 5xx, connection or timeout."""
    if isinstance(err, BotoConnectionError | HTTPClientError):
        return True
    response = getattr(err, "response", None)
    if not isinstance(response, dict):
        return False
    if error_code(err) in THROTTLING_CODES | TRANSIENT_CODES:
        return True
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    return isinstance(status, int) and status in (500, 502, 503, 504)


@dataclass(frozen=True)
class Backoff:
    """Attempts and delays of :func:`create_or_find`.

    The first look-up waits ``base`` seconds: on AWS a point made by a create whose answer was
    lost takes a moment to show in Describe* (eventual consistency). Delays double up to ``cap``,
    with full jitter on the upper half.
    """

    attempts: int = 8
    base: float = 1.0
    cap: float = 20.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        top = min(self.cap, self.base * 2 ** (attempt - 1))
        return top / 2 + rng.uniform(0, top / 2)


#: the back-off every create uses (tests against the emulator shorten it)
DEFAULT_BACKOFF = Backoff()
_rng = random.Random()


def create_or_find(
    create: Callable[[], T],
    find: Callable[[], T | None],
    *,
    what: str,
    backoff: Backoff | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``create()`` once; after a transient failure, ``find()`` before any further attempt.

    :param create: sends the create (on a client without botocore retries) and returns the point.
    :param find: looks the point up by its deterministic tags or name; None when it is not there.
    :param what: names the point in log lines (``snapshot of vol-1 for 2026-11-24T10:00:00Z``).
    :raises: the last transient error after ``backoff.attempts`` tries, or the first other error.
    """
    policy = backoff or DEFAULT_BACKOFF
    last: BaseException | None = None
    for attempt in range(policy.attempts):
        if attempt:
            sleep(policy.delay(attempt, _rng))
            found = find()
            if found is not None:
                log.info(
                    "%s: found after a doubtful answer (%s); not created again",
                    what,
                    error_code(last) if last else "?",
                )
                return found
        try:
            return create()
        except Exception as err:
            if not is_transient(err):
                raise
            last = err
            log.warning(
                "%s: attempt %d/%d answered %s; looking it up before trying again",
                what,
                attempt + 1,
                policy.attempts,
                error_code(err),
            )
    assert last is not None
    found = find()
    if found is not None:
        return found
    raise last
