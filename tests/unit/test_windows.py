"""Windows, tags and names: identity of a recovery point (no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from awsdr.windows import (
    AMI_NAME,
    DYNAMODB_NAME,
    RDS_INSTANCE,
    RDS_SNAPSHOT,
    TAG_VALUE,
    format_window,
    is_late,
    is_product_made,
    make_name,
    parse_window,
    point_name,
    point_tags,
    window_stamp,
)

W = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def test_window_format_is_product_contract():
    assert format_window(W) == "2026-11-24T10:00:00Z"
    kst = timezone(timedelta(hours=9))
    assert format_window(datetime(2026, 11, 24, 19, 0, tzinfo=kst)) == "2026-11-24T10:00:00Z"
    assert parse_window("2026-11-24T10:00:00Z") == W
    assert parse_window("2026-11-24T19:00:00+09:00") == W


def test_naive_window_is_refused():
    with pytest.raises(ValueError, match="naive"):
        format_window(datetime(2026, 11, 24, 10))
    with pytest.raises(ValueError, match="ISO-8601"):
        parse_window("yesterday")


def test_stamp_and_lateness():
    assert window_stamp(W) == "20261124t1000z"
    assert window_stamp(W.replace(second=7)) == "20261124t100007z"
    assert not is_late(W, W + timedelta(minutes=15), timedelta(minutes=15))
    assert is_late(W, W + timedelta(minutes=16), timedelta(minutes=15))


def test_point_tags_carry_product_contract():
    tags = point_tags(
        plan="gold", window=W, source="vol-1", captured_at=W + timedelta(hours=3), kind="ebs", late=True
    )
    assert tags["awsdr:managed"] == "true"
    assert tags["awsdr:plan"] == "gold"
    assert tags["awsdr:window"] == "2026-11-24T10:00:00Z"
    assert tags["awsdr:source"] == "vol-1"
    assert tags["awsdr:captured-at"] == "2026-11-24T13:00:00Z"
    assert tags["awsdr:late"] == "true"
    assert "awsdr:late" not in point_tags(plan="g", window=W, source="s", captured_at=W, kind="ebs")


def test_product_made_resources_are_recognised():
    assert is_product_made({"awsdr:verify-run": "x"})
    assert is_product_made({"awsdr:managed": "true"})
    assert not is_product_made({"dr-plan": "gold"})


def test_names_are_deterministic_and_valid():
    a = point_name(RDS_SNAPSHOT, "gold", "Orders_DB", W)
    assert a == point_name(RDS_SNAPSHOT, "gold", "Orders_DB", W)
    assert a == "awsdr-gold-orders-db-20261124t1000z"
    assert RDS_SNAPSHOT.is_valid(a)
    assert point_name(RDS_SNAPSHOT, "gold", "db", W) != point_name(
        RDS_SNAPSHOT, "gold", "db", W + timedelta(hours=1)
    )


def test_long_names_keep_window_and_do_not_collide():
    long_a = "x" * 300 + "a"
    long_b = "x" * 300 + "b"
    na = point_name(RDS_INSTANCE, "gold", long_a, W)
    nb = point_name(RDS_INSTANCE, "gold", long_b, W)
    assert len(na) <= 63
    assert RDS_INSTANCE.is_valid(na)
    assert na != nb
    assert na.endswith(window_stamp(W))


_source = st.text(alphabet=st.characters(codec="ascii"), min_size=0, max_size=400)
_plan = st.from_regex(r"[a-z][a-z0-9_]{0,39}", fullmatch=True)
_window = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


@settings(max_examples=300, deadline=None)
@given(plan=_plan, source=_source, window=_window)
def test_every_generated_name_respects_service_limits(plan, source, window):
    for rule in (RDS_SNAPSHOT, RDS_INSTANCE, AMI_NAME, DYNAMODB_NAME, TAG_VALUE):
        name = point_name(rule, plan, source, window)
        assert rule.is_valid(name), (rule.max_len, name)
        assert name == point_name(rule, plan, source, window)


@settings(max_examples=200, deadline=None)
@given(a=_source, b=_source, window=_window)
def test_distinct_sources_get_distinct_names_when_truncated(a, b, window):
    na = make_name(RDS_INSTANCE, "awsdr", "gold", a, window_stamp(window))
    nb = make_name(RDS_INSTANCE, "awsdr", "gold", b, window_stamp(window))
    if a.lower() != b.lower() and len(na) == 63 and len(nb) == 63:
        assert na != nb
