"""Windows, tags and names: the identity of a recovery point.

A *window* is the instant a run protects: the cron tick of a scheduled or backfilled run, the
``run_after`` of a manual run. It is always UTC with whole seconds, written ``2026-11-24T10:00:00Z``.
Everything that identifies work (tags, names, catalog keys) derives from the window, never from
the clock. No AWS and no Airflow imports here.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

TAG_MANAGED = "awsdr:managed"
TAG_PLAN = "awsdr:plan"
TAG_WINDOW = "awsdr:window"
TAG_SOURCE = "awsdr:source"
TAG_CAPTURED_AT = "awsdr:captured-at"
TAG_COPY_OF = "awsdr:copy-of"
TAG_LEGAL_HOLD = "awsdr:legal-hold"
TAG_KIND = "awsdr:kind"
TAG_LATE = "awsdr:late"
TAG_VERIFIED_AT = "awsdr:verified-at"
TAG_VERIFY_RUN = "awsdr:verify-run"
TAG_DRILL = "awsdr:drill"

#: Tags on a resource that mark it as something this product made (restores, drills): never
#: protected as a source, whatever other tags it carries.
PRODUCT_MADE_TAGS = (TAG_MANAGED, TAG_VERIFY_RUN, TAG_DRILL)

_WINDOW_FMT = "%Y-%m-%dT%H:%M:%SZ"


def to_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime; naive values are refused, not guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: a window must carry a timezone")
    return datetime.fromtimestamp(value.timestamp(), tz=UTC).replace(microsecond=0)


def format_window(window: datetime) -> str:
    """``2026-11-24T10:00:00Z`` for any aware datetime (microseconds dropped)."""
    return to_utc(window).strftime(_WINDOW_FMT)


def parse_window(text: str) -> datetime:
    """Inverse of :func:`format_window`; also accepts ``+00:00`` offsets and other zones."""
    raw = text.strip()
    if raw.endswith("Z"):
        raw = raw[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as err:
        raise ValueError(f"not an ISO-8601 window: {text!r}") from err
    return to_utc(value)


def window_stamp(window: datetime) -> str:
    """Compact, name-safe form of a window: ``20261124t1000z`` (seconds kept only if non-zero)."""
    w = to_utc(window)
    stamp = w.strftime("%Y%m%dt%H%M")
    if w.second:
        stamp += w.strftime("%S")
    return stamp + "z"


def parse_window_stamp(stamp: str) -> datetime:
    """Inverse of :func:`window_stamp`: ``20261124t1000z`` (or ``...t100005z``) -> UTC datetime."""
    raw = stamp.strip().lower()
    if not raw.endswith("z"):
        raise ValueError(f"not a window stamp: {stamp!r}")
    fmt = "%Y%m%dt%H%M%S" if len(raw) == len("20261124t100005z") else "%Y%m%dt%H%M"
    try:
        return datetime.strptime(raw[:-1], fmt).replace(tzinfo=UTC)
    except ValueError as err:
        raise ValueError(f"not a window stamp: {stamp!r}") from err


def is_late(window: datetime, captured_at: datetime, tolerance: timedelta) -> bool:
    """A capture is late when it happened more than ``tolerance`` after its window."""
    return to_utc(captured_at) - to_utc(window) > tolerance


def point_tags(
    *,
    plan: str,
    window: datetime,
    source: str,
    captured_at: datetime,
    kind: str,
    late: bool = False,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The tag set PRODUCT.md puts on every recovery point this product creates."""
    tags = {
        TAG_MANAGED: "true",
        TAG_PLAN: plan,
        TAG_WINDOW: format_window(window),
        TAG_SOURCE: source,
        TAG_CAPTURED_AT: format_window(captured_at),
        TAG_KIND: kind,
    }
    if late:
        tags[TAG_LATE] = "true"
    if extra:
        tags.update(extra)
    return tags


def is_product_made(tags: dict[str, str]) -> bool:
    return any(t in tags for t in PRODUCT_MADE_TAGS)


# --- names -------------------------------------------------------------------------------------


class NameRule:
    """A service's naming limits: length, allowed characters, first character, case."""

    def __init__(
        self,
        *,
        max_len: int,
        min_len: int = 1,
        allowed: str = r"a-zA-Z0-9-",
        lowercase: bool = False,
        first_letter: bool = False,
        no_double_hyphen: bool = False,
    ) -> None:
        self.max_len = max_len
        self.min_len = min_len
        self.allowed = allowed
        self.lowercase = lowercase
        self.first_letter = first_letter
        self.no_double_hyphen = no_double_hyphen
        self._bad = re.compile(f"[^{allowed}]")
        self._full = re.compile(f"^[{allowed}]+$")

    def is_valid(self, name: str) -> bool:
        if not (self.min_len <= len(name) <= self.max_len) or not self._full.match(name):
            return False
        if self.lowercase and name != name.lower():
            return False
        if self.first_letter and not name[0].isalpha():
            return False
        return not (self.no_double_hyphen and ("--" in name or name.endswith("-")))


#: RDS DB snapshot / cluster snapshot identifiers: 1-255, letters/digits/hyphens, first a letter,
#: no two consecutive hyphens, no trailing hyphen; AWS stores them lowercase.
RDS_SNAPSHOT = NameRule(
    max_len=255, allowed="a-z0-9-", lowercase=True, first_letter=True, no_double_hyphen=True
)
#: RDS DB instance / cluster identifiers (used for restores): 1-63.
RDS_INSTANCE = NameRule(
    max_len=63, allowed="a-z0-9-", lowercase=True, first_letter=True, no_double_hyphen=True
)
#: EC2 AMI names: 3-128 of letters, digits, ( ) [ ] space . / - ' @ _
AMI_NAME = NameRule(max_len=128, min_len=3, allowed=r"a-zA-Z0-9()\[\] ./'@_-")
#: DynamoDB backup and table names: 3-255 of [a-zA-Z0-9_.-].
DYNAMODB_NAME = NameRule(max_len=255, min_len=3, allowed=r"a-zA-Z0-9_.-")
#: S3 object keys (the path segment we build): keep it conservative.
S3_KEY_SEGMENT = NameRule(max_len=512, allowed=r"a-zA-Z0-9_.=-")
#: Lambda function names: 1-64 letters, digits, hyphens and underscores (restore names).
LAMBDA_NAME = NameRule(max_len=64, allowed="a-zA-Z0-9_-")
#: EBS snapshot Name tag: 255 chars, anything printable; we keep the RDS-like alphabet.
TAG_VALUE = NameRule(max_len=255, allowed=r"a-zA-Z0-9_.:/=+@ -")


def make_name(rule: NameRule, *parts: str) -> str:
    """Deterministic, valid name from ``parts`` under ``rule``.

    Parts are joined with ``-``, characters the service refuses become ``-``, and a name longer
    than the limit keeps its head and tail (the window stamp is usually last) with an 8-hex
    digest of the full untruncated name in between, so two long names never collide by truncation.
    """
    full = "-".join(p for p in parts if p)
    name = full.lower() if rule.lowercase else full
    name = rule._bad.sub("-", name)
    if rule.no_double_hyphen:
        name = re.sub("-{2,}", "-", name).strip("-")
    if rule.first_letter and (not name or not name[0].isalpha()):
        name = "p" + ("-" if name else "") + name
    if len(name) > rule.max_len:
        digest = hashlib.sha256(full.encode()).hexdigest()[:8]
        tail_len = min(len(parts[-1]) if parts else 0, rule.max_len // 3)
        tail = name[len(name) - tail_len :] if tail_len else ""
        head_len = rule.max_len - len(tail) - len(digest) - 2
        head = name[:head_len]
        name = f"{head}-{digest}-{tail}" if tail else f"{head}-{digest}"
        if rule.no_double_hyphen:
            name = re.sub("-{2,}", "-", name).strip("-")
    while len(name) < rule.min_len:
        name += "0"
    return name


def point_name(rule: NameRule, plan: str, source: str, window: datetime) -> str:
    """The recovery point's name: ``awsdr-<plan>-<source>-<window stamp>``."""
    return make_name(rule, "awsdr", plan, source, window_stamp(window))
