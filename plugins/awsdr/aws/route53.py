"""Route 53 for the traffic step: find zones and records, UPSERT in one batch, wait for INSYNC.

Route 53 is a global service (its API lives in us-east-1). Every write here is idempotent: the
current record sets are read first and only those that differ are sent, so a re-run that finds
the records already pointing at the DR region changes nothing and returns no change id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from awsdr.aws.context import chunks, error_code

if TYPE_CHECKING:
    from awsdr.aws.context import AwsContext

log = logging.getLogger(__name__)

#: Route 53's control plane region.
ROUTE53_REGION = "us-east-1"
#: ChangeResourceRecordSets takes at most 1,000 changes per batch; stay well under it.
CHANGE_BATCH = 500
#: Route 53 considers an endpoint healthy when more than 18% of its checkers report healthy.
HEALTHY_FRACTION = 0.18

HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
UNKNOWN = "unknown"


def fqdn(name: str) -> str:
    """A DNS name as Route 53 returns it: lowercase, octal escapes decoded, trailing dot."""
    text = name.strip().lower().replace("\\052", "*").replace("\\100", "@")
    return text.rstrip(".") + "."


@dataclass(frozen=True)
class RecordSpec:
    """One record set to make true: simple (no ``set_identifier``) or weighted.

    :param value: a single value (an IP address for A/AAAA, a host name for CNAME).
    """

    name: str
    type: str
    ttl: int
    value: str
    set_identifier: str | None = None
    weight: int | None = None

    @property
    def key(self) -> tuple[str, str, str | None]:
        return (fqdn(self.name), self.type, self.set_identifier)

    def to_rrset(self) -> dict[str, Any]:
        rrset: dict[str, Any] = {
            "Name": fqdn(self.name),
            "Type": self.type,
            "TTL": self.ttl,
            "ResourceRecords": [{"Value": self.value}],
        }
        if self.set_identifier is not None:
            rrset["SetIdentifier"] = self.set_identifier
            rrset["Weight"] = 0 if self.weight is None else self.weight
        return rrset

    def matches(self, rrset: dict[str, Any]) -> bool:
        """Whether the live ``rrset`` already says what this spec says."""
        values = [r.get("Value", "").rstrip(".").lower() for r in rrset.get("ResourceRecords", [])]
        same = (
            values == [self.value.rstrip(".").lower()]
            and rrset.get("TTL") == self.ttl
            and rrset.get("SetIdentifier") == self.set_identifier
        )
        if self.set_identifier is not None:
            same = same and rrset.get("Weight") == (0 if self.weight is None else self.weight)
        return same


def _client(ctx: AwsContext) -> Any:
    return ctx.client("route53", ROUTE53_REGION)


def find_zone(ctx: AwsContext, zone: str) -> str | None:
    """The hosted zone id (``/hostedzone/...``) of ``zone``, or None when there is none."""
    wanted = fqdn(zone)
    answer = _client(ctx).list_hosted_zones_by_name(DNSName=wanted, MaxItems="10")
    for hz in answer.get("HostedZones", []):
        if fqdn(hz["Name"]) == wanted:
            return str(hz["Id"])
    return None


def find_records(
    ctx: AwsContext, zone_id: str, names: list[str]
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Live record sets of ``names`` in the zone, keyed by ``(name, type)`` (one listing per name)."""
    r53 = _client(ctx)
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for name in dict.fromkeys(fqdn(n) for n in names):
        kwargs: dict[str, Any] = {"HostedZoneId": zone_id, "StartRecordName": name}
        while True:
            page = r53.list_resource_record_sets(**kwargs)
            done = False
            for rrset in page.get("ResourceRecordSets", []):
                if fqdn(rrset["Name"]) != name:
                    done = True
                    break
                out.setdefault((name, rrset["Type"]), []).append(rrset)
            if done or not page.get("IsTruncated"):
                break
            kwargs = {
                "HostedZoneId": zone_id,
                "StartRecordName": page["NextRecordName"],
                "StartRecordType": page["NextRecordType"],
            }
            if page.get("NextRecordIdentifier"):
                kwargs["StartRecordIdentifier"] = page["NextRecordIdentifier"]
    return out


def changes_needed(
    live: dict[tuple[str, str], list[dict[str, Any]]], wanted: list[RecordSpec]
) -> tuple[list[dict[str, Any]], list[RecordSpec]]:
    """UPSERT changes for the specs that differ from ``live``, and the specs already true (pure)."""
    changes: list[dict[str, Any]] = []
    already: list[RecordSpec] = []
    for spec in wanted:
        sets = live.get((fqdn(spec.name), spec.type), [])
        current = next((s for s in sets if s.get("SetIdentifier") == spec.set_identifier), None)
        if current is not None and spec.matches(current):
            already.append(spec)
        else:
            changes.append({"Action": "UPSERT", "ResourceRecordSet": spec.to_rrset()})
    return changes, already


def upsert_records(
    ctx: AwsContext, zone_id: str, wanted: list[RecordSpec], *, comment: str
) -> tuple[list[str], list[RecordSpec], list[RecordSpec]]:
    """Make ``wanted`` true with as few ChangeResourceRecordSets calls as possible.

    :return: ``(change ids, specs changed, specs that were already true)``.
    """
    live = find_records(ctx, zone_id, [s.name for s in wanted])
    changes, already = changes_needed(live, wanted)
    changed = [s for s in wanted if s not in already]
    change_ids: list[str] = []
    for batch in chunks(changes, CHANGE_BATCH):
        answer = _client(ctx).change_resource_record_sets(
            HostedZoneId=zone_id, ChangeBatch={"Comment": comment[:256], "Changes": batch}
        )
        change_ids.append(str(answer["ChangeInfo"]["Id"]))
        log.info("Route 53 change %s: %d UPSERT(s) in %s", change_ids[-1], len(batch), zone_id)
    return change_ids, changed, already


def delete_records(ctx: AwsContext, zone_id: str, names: list[str], *, comment: str) -> list[str]:
    """Delete every record set (any type, any set identifier) called one of ``names``.

    Only what is found is deleted (Route 53 wants the exact current set in a DELETE), so a
    second call finds nothing and sends nothing. Returns the change ids.
    """
    live = find_records(ctx, zone_id, names)
    changes = [
        {"Action": "DELETE", "ResourceRecordSet": rrset}
        for sets in live.values()
        for rrset in sets
        if rrset["Type"] not in ("NS", "SOA")
    ]
    change_ids: list[str] = []
    for batch in chunks(changes, CHANGE_BATCH):
        try:
            answer = _client(ctx).change_resource_record_sets(
                HostedZoneId=zone_id, ChangeBatch={"Comment": comment[:256], "Changes": batch}
            )
        except ClientError as err:
            if error_code(err) != "InvalidChangeBatch":
                raise
            # deleted meanwhile: one by one, ignoring the ones already gone
            for change in batch:
                try:
                    answer = _client(ctx).change_resource_record_sets(
                        HostedZoneId=zone_id, ChangeBatch={"Comment": comment[:256], "Changes": [change]}
                    )
                    change_ids.append(str(answer["ChangeInfo"]["Id"]))
                except ClientError as one_err:
                    if error_code(one_err) != "InvalidChangeBatch":
                        raise
            continue
        change_ids.append(str(answer["ChangeInfo"]["Id"]))
    return change_ids


def pending_changes(ctx: AwsContext, change_ids: list[str]) -> list[str]:
    """The changes of ``change_ids`` still PENDING (one GetChange each; no wait: the caller defers)."""
    r53 = _client(ctx)
    pending = [
        cid for cid in dict.fromkeys(change_ids) if r53.get_change(Id=cid)["ChangeInfo"]["Status"] != "INSYNC"
    ]
    if pending:
        log.info("Route 53: %d change(s) still PENDING", len(pending))
    return pending


def zone_for(ctx: AwsContext, name: str) -> tuple[str, str] | None:
    """``(zone id, zone name)`` of the most specific hosted zone holding ``name`` (None: none)."""
    labels = fqdn(name).rstrip(".").split(".")
    for i in range(1, len(labels) - 0):
        candidate = ".".join(labels[i:]) + "."
        if candidate.count(".") < 2:
            break
        zone_id = find_zone(ctx, candidate)
        if zone_id is not None:
            return zone_id, candidate
    return None


# --- health checks -------------------------------------------------------------------------------


def find_health_checks(ctx: AwsContext, names: list[str]) -> dict[str, str]:
    """``{name: health check id}`` for checks whose caller reference or Name tag is in ``names``."""
    if not names:
        return {}
    r53 = _client(ctx)
    wanted = set(names)
    checks: list[dict[str, Any]] = []
    for page in r53.get_paginator("list_health_checks").paginate():
        checks.extend(page.get("HealthChecks", []))
    found = {hc["CallerReference"]: str(hc["Id"]) for hc in checks if hc.get("CallerReference") in wanted}
    rest = [hc["Id"] for hc in checks if hc["Id"] not in found.values()]
    for batch in chunks(rest, 10):  # ListTagsForResources takes 10 ids
        if len(found) == len(wanted):
            break
        answer = r53.list_tags_for_resources(ResourceType="healthcheck", ResourceIds=batch)
        for tagset in answer.get("ResourceTagSets", []):
            for tag in tagset.get("Tags", []):
                if tag["Key"] == "Name" and tag["Value"] in wanted and tag["Value"] not in found:
                    found[tag["Value"]] = str(tagset["ResourceId"])
    return found


def health_check_status(ctx: AwsContext, health_check_id: str) -> tuple[str, str]:
    """``(healthy | unhealthy | unknown, detail)`` of a Route 53 health check.

    No checker observations (a new check, or an emulator that runs no checkers) is ``unknown``.
    """
    try:
        answer = _client(ctx).get_health_check_status(HealthCheckId=health_check_id)
    except ClientError as err:
        if error_code(err) == "NoSuchHealthCheck":
            return UNHEALTHY, f"health check {health_check_id} does not exist"
        raise
    observations = answer.get("HealthCheckObservations") or []
    reports = [str((o.get("StatusReport") or {}).get("Status", "")) for o in observations]
    reports = [r for r in reports if r]
    if not reports:
        return UNKNOWN, "no checker data"
    ok = sum(1 for r in reports if r.lower().startswith("success"))
    detail = f"{ok}/{len(reports)} checkers report success"
    return (HEALTHY if ok / len(reports) > HEALTHY_FRACTION else UNHEALTHY), detail
