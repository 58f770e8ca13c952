"""Listing indexes of S3 manifests and DynamoDB sidecars (kinds/s3.py ``indexed_listing``).

The index beside each resource's documents is a cache checked against the listing: with it a
listing reads one document per folder; without it (older catalogs), with a stale entry (a
document rewritten or edited by hand), after deletes and under concurrent writers, the listing is
exactly what reading every document gives.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from conftest import DR, PRIMARY

from awsdr.catalog import point_index_key
from awsdr.kinds import get_kind
from awsdr.kinds.base import DELETED
from awsdr.kinds.dynamodb import sidecar_key
from awsdr.kinds.s3 import get_doc, index_entries, put_doc, update_point_index
from awsdr.windows import TAG_LEGAL_HOLD, point_tags

CATALOG = "awsdr-catalog"
W0 = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
CAP = datetime(2026, 11, 24, 0, 3, tzinfo=UTC)
WINDOWS = [W0 + timedelta(hours=h) for h in range(4)]


class GetCounter:
    """Counts GetObject calls on the catalog bucket (every client of the context)."""

    def __init__(self, ctx) -> None:
        self.keys: list[str] = []
        ctx.client("s3", DR).meta.events.register("before-call.s3.GetObject", self._seen)

    def _seen(self, params, **_) -> None:
        self.keys.append(params.get("url_path", ""))

    def reset(self) -> int:
        n, self.keys = len(self.keys), []
        return n


def _catalog(ctx):
    ctx.client("s3", DR).create_bucket(Bucket=CATALOG, CreateBucketConfiguration={"LocationConstraint": DR})
    return ctx.client("s3", DR)


def _s3_kind(ctx):
    kind = get_kind("s3")
    kind.catalog_bucket, kind.catalog_region = CATALOG, DR
    return kind


def _s3_points(ctx, kind, bucket="orders-data"):
    s3 = ctx.client("s3", PRIMARY)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": PRIMARY})
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "dr-plan", "Value": "gold"}]})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    [res] = [r for r in kind.discover(ctx, PRIMARY, {"dr-plan": "gold"}) if r.id == bucket]
    out = []
    for w in WINDOWS:
        tags = point_tags(plan="gold", window=w, source=bucket, captured_at=CAP, kind="s3")
        out.append(kind.capture(ctx, res, "gold", w, tags))
    return res, out


def _view(points):
    """What a listing says of each point (the index's own flag left out)."""
    return sorted(
        (
            p.point_id,
            p.source_id,
            p.plan,
            p.window,
            p.status,
            tuple(sorted(p.tags.items())),
            json.dumps(
                {k: v for k, v in p.details.items() if k != "tags_on_object"}, sort_keys=True, default=str
            ),
        )
        for p in points
    )


def test_s3_listing_reads_one_index_and_matches_reading_every_manifest(ctx):
    catalog = _catalog(ctx)
    kind = _s3_kind(ctx)
    _, captured = _s3_points(ctx, kind)
    index_key = point_index_key(captured[0].point_id)
    assert index_key == "points/s3/gold/orders-data/index.json"
    assert set(index_entries(get_doc(catalog, CATALOG, index_key)[0])) == {p.point_id for p in captured}

    gets = GetCounter(ctx)
    indexed = kind.list_points(ctx, PRIMARY, "gold")
    assert gets.reset() == 1  # the index, not the four manifests
    assert len(indexed) == 4

    catalog.delete_object(Bucket=CATALOG, Key=index_key)  # a catalog written before the index
    unindexed = kind.list_points(ctx, PRIMARY, "gold")
    assert gets.reset() == 4  # one ranged GET per manifest, as before
    assert _view(unindexed) == _view(indexed)
    assert _view(kind.list_points(ctx, PRIMARY, None)) == _view(indexed)


def test_s3_rewritten_manifest_is_read_again_and_a_retried_capture_heals_the_index(ctx):
    catalog = _catalog(ctx)
    kind = _s3_kind(ctx)
    res, captured = _s3_points(ctx, kind)
    first = captured[0]
    # a rewrite the index does not know of (another tool, a hand edit): its ETag changes
    body = json.loads(catalog.get_object(Bucket=CATALOG, Key=first.point_id)["Body"].read())
    objects = body.pop("objects")
    body["tags"] = {**body["tags"], TAG_LEGAL_HOLD: "case-7"}
    body["objects"] = objects
    assert put_doc(catalog, CATALOG, first.point_id, body)
    listed = {p.point_id: p for p in kind.list_points(ctx, PRIMARY, "gold")}
    assert listed[first.point_id].tags[TAG_LEGAL_HOLD] == "case-7"
    assert all(TAG_LEGAL_HOLD not in p.tags for k, p in listed.items() if k != first.point_id)

    # the index lost (e.g. a run killed between the manifest and its index): a retry restores it
    catalog.delete_object(Bucket=CATALOG, Key=point_index_key(first.point_id))
    tags = point_tags(plan="gold", window=WINDOWS[1], source=res.id, captured_at=CAP, kind="s3")
    kind.capture(ctx, res, "gold", WINDOWS[1], tags)
    entries = index_entries(get_doc(catalog, CATALOG, point_index_key(first.point_id))[0])
    assert set(entries) == {captured[1].point_id}
    gets = GetCounter(ctx)
    again = {p.point_id: p for p in kind.list_points(ctx, PRIMARY, "gold")}
    assert gets.reset() == 1 + 3  # the index, and the three manifests it does not name
    assert again[first.point_id].tags[TAG_LEGAL_HOLD] == "case-7"
    assert _view(again.values()) == _view(listed.values())


def test_s3_set_tags_and_delete_keep_the_index_true(ctx):
    catalog = _catalog(ctx)
    kind = _s3_kind(ctx)
    _, captured = _s3_points(ctx, kind)
    held, doomed = captured[0], captured[1]
    kind.set_tags(ctx, held, {TAG_LEGAL_HOLD: "case-9"})
    gets = GetCounter(ctx)
    listed = {p.point_id: p for p in kind.list_points(ctx, PRIMARY, "gold")}
    assert gets.reset() == 1  # set_tags rewrote the manifest and its index entry
    assert listed[held.point_id].tags[TAG_LEGAL_HOLD] == "case-9"

    assert kind.delete(ctx, PRIMARY, [doomed]) == {doomed.point_id: DELETED}
    entries = index_entries(get_doc(catalog, CATALOG, point_index_key(doomed.point_id))[0])
    assert doomed.point_id not in entries
    assert held.point_id in entries
    # deleted by hand (the index still names it): the listing decides, the entry is ignored
    catalog.delete_object(Bucket=CATALOG, Key=captured[2].point_id)
    remaining = {p.point_id for p in kind.list_points(ctx, PRIMARY, "gold")}
    assert remaining == {held.point_id, captured[3].point_id}


def test_concurrent_index_updates_lose_nothing(ctx):
    """Writers of one folder (If-Match, re-read on conflict): every update reported done is there.

    An update may give up under contention (best effort: listings then read that document); none
    that reported success may be lost to another writer's read-modify-write.
    """
    catalog = _catalog(ctx)
    index_key = "points/s3/gold/orders-data/index.json"

    def key(i: int) -> str:
        return f"points/s3/gold/orders-data/{i:02d}.json"

    def add(i: int) -> bool:
        return update_point_index(catalog, CATALOG, index_key, put={key(i): {"etag": str(i), "header": {}}})

    with ThreadPoolExecutor(max_workers=6) as pool:
        done = [key(i) for i, ok in zip(range(12), pool.map(add, range(12)), strict=True) if ok]
    assert done
    entries = index_entries(get_doc(catalog, CATALOG, index_key)[0])
    assert sorted(entries) == sorted(done)
    assert update_point_index(catalog, CATALOG, index_key, drop={done[0]})
    assert sorted(index_entries(get_doc(catalog, CATALOG, index_key)[0])) == sorted(done[1:])


@pytest.fixture
def ddb_kind(ctx):
    _catalog(ctx)
    kind = get_kind("dynamodb")
    kind.catalog_bucket, kind.catalog_region = CATALOG, DR
    ddb = ctx.client("dynamodb", PRIMARY)
    ddb.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=[{"Key": "dr-plan", "Value": "gold"}],
    )
    ddb.put_item(TableName="orders", Item={"pk": {"S": "k"}})
    return kind


def _ddb_points(ctx, kind):
    [res] = [r for r in kind.discover(ctx, PRIMARY, {"dr-plan": "gold"}) if r.id == "orders"]
    out = []
    for w in WINDOWS:
        tags = point_tags(plan="gold", window=w, source="orders", captured_at=CAP, kind="dynamodb")
        out.append(kind.capture(ctx, res, "gold", w, tags))
    return out


def test_dynamodb_sidecars_come_from_the_index_and_hand_edits_are_seen(ctx, ddb_kind):
    catalog = ctx.client("s3", DR)
    captured = _ddb_points(ctx, ddb_kind)
    key = sidecar_key("gold", "orders", WINDOWS[0])
    assert point_index_key(key) == "points/dynamodb/gold/orders/index.json"
    gets = GetCounter(ctx)
    indexed = ddb_kind.list_points(ctx, PRIMARY, "gold")
    assert gets.reset() == 1
    assert len(indexed) == 4

    # the documented legal hold: add the key to the sidecar's tags by hand
    doc, _ = get_doc(catalog, CATALOG, key)
    doc["tags"][TAG_LEGAL_HOLD] = "case-1"
    assert put_doc(catalog, CATALOG, key, doc)
    gets.reset()
    listed = {p.point_id: p for p in ddb_kind.list_points(ctx, PRIMARY, "gold")}
    assert gets.reset() == 2  # the index and the edited sidecar
    assert listed[captured[0].point_id].tags[TAG_LEGAL_HOLD] == "case-1"

    catalog.delete_object(Bucket=CATALOG, Key=point_index_key(key))
    unindexed = ddb_kind.list_points(ctx, PRIMARY, "gold")
    assert gets.reset() == 4
    assert _view(unindexed) == _view(listed.values())


def test_dynamodb_set_tags_and_delete_update_the_index(ctx, ddb_kind):
    catalog = ctx.client("s3", DR)
    captured = _ddb_points(ctx, ddb_kind)
    ddb_kind.set_tags(ctx, captured[0], {TAG_LEGAL_HOLD: "case-2"})
    assert ddb_kind.delete(ctx, PRIMARY, [captured[1]]) == {captured[1].point_id: DELETED}
    gets = GetCounter(ctx)
    listed = {p.point_id: p for p in ddb_kind.list_points(ctx, PRIMARY, "gold")}
    assert gets.reset() == 1
    assert set(listed) == {captured[0].point_id, captured[2].point_id, captured[3].point_id}
    assert listed[captured[0].point_id].tags[TAG_LEGAL_HOLD] == "case-2"
    entries = index_entries(get_doc(catalog, CATALOG, point_index_key(sidecar_key("gold", "orders", W0)))[0])
    assert sidecar_key("gold", "orders", WINDOWS[1]) not in entries
